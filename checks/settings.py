"""Settings for the URL checks, with defaults and the REGISTRY_CHECK_* environment variables."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from urllib.parse import urlsplit

USER_AGENT = "SMIResourceRegistry/0.1 (+link-checker; a registry of mental-health resources)"
# Apple's public lookup service: an app's current version and its release date, as JSON.
APP_STORE_LOOKUP = "https://itunes.apple.com/lookup"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# A resolver maps (host, port) to the (address, port) pairs to connect to; tests use it to
# point names at loopback servers, as curl's --connect-to does.
Resolver = Callable[[str, int], Sequence[tuple[str, int]]]


class SettingsError(ValueError):
    """A setting has a value the checker cannot use; the message names it."""


def parse_networks(
    text: str, *, name: str = "REGISTRY_CHECK_ALLOW_NETWORKS"
) -> tuple[Network, ...]:
    """Parse comma-separated CIDR blocks ('127.0.0.0/8, ::1')."""
    networks = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f"{name}: {part!r} is not a CIDR block; give comma-separated blocks "
                "such as '10.0.0.0/8,::1'"
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class CheckSettings:
    """How the checks fetch: limits, politeness and which networks may be reached."""

    deadline: float = 30.0  # seconds for everything one URL's checks do
    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    max_body_bytes: int = 5 * 1024 * 1024  # after decompression
    max_redirects: int = 10
    retries: int = 2  # extra attempts after a transient failure
    backoff: float = 0.5  # first wait before a retry, doubled each time
    max_retry_after: float = 10.0  # longest Retry-After the checker waits for
    max_concurrency: int = 32  # requests in flight overall
    max_per_host: int = 2  # requests in flight per host
    user_agent: str = USER_AGENT
    allow_networks: tuple[Network, ...] = ()
    ca_bundle: str | None = None  # None: certifi's bundle, as requests uses
    cert_warn_days: int = 14
    # Worker processes the checks are spread over; 0: one per core this process may use.
    workers: int = 0
    # The outbound proxy for the checker alone; None: HTTPS_PROXY / HTTP_PROXY / NO_PROXY from
    # the environment, as any requests program reads them (unless trust_env is False).
    proxy: str | None = None
    trust_env: bool = True
    # Where App Store versions are looked up (?id=...&country=...); tests point it at loopback.
    app_store_lookup: str = APP_STORE_LOOKUP
    resolver: Resolver | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        nets = self.allow_networks
        if isinstance(nets, str):
            nets = parse_networks(nets, name="allow_networks")
        else:
            nets = tuple(
                n if isinstance(n, Network) else ipaddress.ip_network(n, strict=False) for n in nets
            )
        object.__setattr__(self, "allow_networks", nets)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("float", "int") and (isinstance(value, bool) or value < 0):
                raise SettingsError(f"{f.name} must not be negative, got {value!r}")
        for name in ("deadline", "max_concurrency", "max_per_host"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be greater than zero")
        for name, (_, problem_of) in ADDRESS_VARS.items():
            value = getattr(self, name)
            problem = problem_of(value) if value is not None else None
            if problem:
                raise SettingsError(f"{name}: {problem}")

    @property
    def processes(self) -> int:
        """Return how many worker processes the checks may use (workers, or the cores)."""
        if self.workers:
            return self.workers
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1

    def with_(self, **changes) -> CheckSettings:
        """Return a copy with some settings changed (for programs using checks as a library)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CheckSettings:
        """Read REGISTRY_CHECK_* (and REQUESTS_CA_BUNDLE / SSL_CERT_FILE) from the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for attr, (var, kind, unit) in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            raw = raw.strip()
            if kind is str:
                values[attr] = raw
                continue
            try:
                number = kind(raw)
            except ValueError:
                number = None
            if number is None or number < 0 or (number == 0 and attr in _POSITIVE):
                least = "greater than zero" if attr in _POSITIVE else "zero or more"
                raise SettingsError(f"{var} must be a number of {unit}, {least}; got {raw!r}")
            values[attr] = number
        for attr, (var, problem_of) in ADDRESS_VARS.items():
            address = env.get(var, "").strip()
            if address:
                problem = problem_of(address)
                if problem:
                    raise SettingsError(f"{var}: {problem}")
                values[attr] = address
        nets = env.get("REGISTRY_CHECK_ALLOW_NETWORKS", "")
        values["allow_networks"] = parse_networks(nets)
        for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
            path = env.get(var, "").strip()
            if path:
                if not os.path.isfile(path):
                    raise SettingsError(f"{var} points to {path!r}, which is not a readable file")
                values["ca_bundle"] = path
                break
        return cls(**values)


def address_problem(url: str, *, what: str, example: str) -> str | None:
    """Say what is wrong with an http(s) address a setting gives, or None when it is usable."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return f"{url!r} is not an address ({exc}); give one such as {example}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http:// or https:// {what}, such as {example}"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return f"{url!r} contains spaces or control characters; give one such as {example}"
    return None


def proxy_problem(url: str) -> str | None:
    """Say what is wrong with a proxy's address, or None when the checker can use it."""
    return address_problem(url, what="proxy", example="http://proxy.trust.nhs.uk:8080")


def lookup_problem(url: str) -> str | None:
    """Say what is wrong with the App Store lookup's address, or None when it is usable."""
    return address_problem(url, what="address", example=APP_STORE_LOOKUP)


# attribute: (environment variable, what is wrong with a value) for settings that are addresses
ADDRESS_VARS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    "proxy": ("REGISTRY_CHECK_PROXY", proxy_problem),
    "app_store_lookup": ("REGISTRY_CHECK_APP_STORE_LOOKUP", lookup_problem),
}

_POSITIVE = {"deadline", "max_concurrency", "max_per_host"}

# attribute: (environment variable, type, unit for the error message)
ENV_VARS: dict[str, tuple[str, type, str]] = {
    "deadline": ("REGISTRY_CHECK_DEADLINE", float, "seconds"),
    "connect_timeout": ("REGISTRY_CHECK_CONNECT_TIMEOUT", float, "seconds"),
    "read_timeout": ("REGISTRY_CHECK_READ_TIMEOUT", float, "seconds"),
    "max_body_bytes": ("REGISTRY_CHECK_MAX_BODY_BYTES", int, "bytes"),
    "max_redirects": ("REGISTRY_CHECK_MAX_REDIRECTS", int, "redirects"),
    "retries": ("REGISTRY_CHECK_RETRIES", int, "retries"),
    "backoff": ("REGISTRY_CHECK_BACKOFF", float, "seconds"),
    "max_retry_after": ("REGISTRY_CHECK_MAX_RETRY_AFTER", float, "seconds"),
    "max_concurrency": ("REGISTRY_CHECK_CONCURRENCY", int, "requests"),
    "max_per_host": ("REGISTRY_CHECK_PER_HOST", int, "requests"),
    "cert_warn_days": ("REGISTRY_CHECK_CERT_WARN_DAYS", int, "days"),
    "workers": ("REGISTRY_CHECK_WORKERS", int, "processes (0: one per core)"),
    "user_agent": ("REGISTRY_CHECK_USER_AGENT", str, ""),
}
