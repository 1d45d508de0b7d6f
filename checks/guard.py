"""The network guard: refuse addresses that are not on the public internet, unless allowed."""

from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
from collections.abc import Iterable

from checks.settings import Network, Resolver

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges that Python's is_global may still call global (it varies between 3.11 patch releases).
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "64:ff9b:1::/48",
        "2001::/23",
        "2001:db8::/32",
        "2001:20::/28",
        "5f00::/16",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPAT = ipaddress.ip_network("::/96")

# getaddrinfo cannot be given a timeout, so it runs here and is waited for with one.
_resolver_pool = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="dns")


class GuardRefused(Exception):
    """The host resolves to an address the checker must not connect to."""

    def __init__(self, host: str, address: str, reason: str):
        what = f"{host} is {reason}" if host == address else f"{host} is {address} ({reason})"
        super().__init__(f"refused by the network guard: {what}")
        self.host, self.address, self.reason = host, address, reason


class NameNotResolved(Exception):
    """The host name does not resolve."""

    def __init__(self, host: str, *, temporary: bool = False):
        what = "temporarily fails to resolve" if temporary else "does not resolve"
        super().__init__(f"the name {host} {what}")
        self.host, self.temporary = host, temporary


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address that an IPv6 address carries (6to4, Teredo, NAT64, compat)."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or (ip in _V4_COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def why_forbidden(ip: Address) -> str | None:
    """Say why an address is not on the public internet, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attr, reason in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attr):
            return reason
    if not ip.is_global or any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version):
        return "not globally routable"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None and why_forbidden(inner):
            return f"carries {inner}, which is {why_forbidden(inner)}"
    return None


def is_allowed(ip: Address, allow: Iterable[Network]) -> bool:
    """Tell whether the allow-list opens this address."""
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c in net for net in allow for c in candidates if c.version == net.version)


def check_address(host: str, address: str, allow: Iterable[Network]) -> Address:
    """Return the parsed address, or raise GuardRefused."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if is_allowed(ip, allow):
        return ip
    reason = why_forbidden(ip)
    if reason:
        shown = str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)
        raise GuardRefused(address if address == host else host, shown, reason)
    return ip


def _getaddrinfo(host: str, port: int) -> list[tuple[str, int]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        temporary = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", -11))
        raise NameNotResolved(host, temporary=temporary) from None
    return [
        (info[4][0], info[4][1]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)
    ]


_NUMERIC = re.compile(r"(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}\.?", re.I)


def numeric_host(host: str) -> str | None:
    """Read a host written as a number ('2130706433', '0177.0.0.1', '0x7f.1') as browsers do."""
    if not _NUMERIC.fullmatch(host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host.rstrip(".")))
    except OSError:
        raise NameNotResolved(host) from None


def resolve(
    host: str, port: int, *, resolver: Resolver | None, timeout: float
) -> list[tuple[str, int]]:
    """Resolve a host to (address, port) pairs within a timeout."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:
        return [(host, port)]
    numeric = numeric_host(host)
    if numeric:
        return [(numeric, port)]
    if resolver is not None:
        try:
            pairs = list(resolver(host, port))
        except OSError:
            raise NameNotResolved(host) from None
    else:
        future = _resolver_pool.submit(_getaddrinfo, host, port)
        try:
            pairs = future.result(timeout=max(timeout, 0.001))
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"resolving {host} timed out") from None
    if not pairs:
        raise NameNotResolved(host)
    return pairs


def pin(
    host: str,
    port: int,
    *,
    allow: Iterable[Network],
    resolver: Resolver | None = None,
    timeout: float = 10.0,
) -> tuple[Address, int]:
    """Resolve a host, refuse it if any address is forbidden, and return the one to connect to."""
    allow = tuple(allow)
    pairs = resolve(host, port, resolver=resolver, timeout=timeout)
    # Every address is checked, not just the first: a name that mixes a public and a private
    # address is how DNS rebinding attacks start.
    checked = [(check_address(host, addr, allow), p) for addr, p in pairs]
    return checked[0]
