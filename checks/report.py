"""The report of one entry's checks, shaped as the contract in DESIGN.md gives it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

LIVENESS = ("up", "down", "unreachable", "blocked", "parked", "soft_404")
HTTPS = ("ok", "no_https", "cert_expired", "cert_untrusted", "hostname_mismatch", "tls_error")
PRIVACY = ("found", "missing", "unreachable", "not_checked")
STORES = ("listed", "removed", "unreachable", "blocked")


@dataclass
class Liveness:
    status: str
    http_status: int | None = None
    redirects: int = 0
    elapsed_ms: int = 0
    detail: str = ""


@dataclass
class Https:
    status: str
    redirects_http_to_https: bool | None = None
    hsts: bool | None = None
    cert_days_left: int | None = None
    detail: str = ""


@dataclass
class Privacy:
    status: str
    policy_url: str | None = None
    detail: str = ""
    fingerprint: str | None = None  # sha256 of the normalised policy text, to spot a change
    # The policy's normalised main text (not in the JSON report): kept to show what changed.
    text: str | None = field(default=None, repr=False)


@dataclass
class Store:
    store: str  # app_store or google_play
    url: str
    status: str
    http_status: int | None = None
    last_updated: str | None = None  # ISO date of the current version, when the store says
    version: str | None = None
    detail: str = ""


@dataclass
class Report:
    url: str
    final_url: str
    checked_at: str
    verdict: str
    liveness: Liveness
    https: Https
    privacy: Privacy = field(default_factory=lambda: Privacy("not_checked"))
    stores: list[Store] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict:
        """Return the report as the JSON object of the contract (plus privacy.fingerprint)."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "checked_at": self.checked_at,
            "verdict": self.verdict,
            "liveness": asdict(self.liveness),
            "https": asdict(self.https),
            "privacy": {k: v for k, v in asdict(self.privacy).items() if k != "text"},
            "stores": [asdict(s) for s in self.stores],
        }


def verdict(
    liveness: Liveness,
    https: Https,
    privacy: Privacy,
    *,
    cert_warn_days: int,
    stores: Sequence[Store] = (),
) -> str:
    """Decide pass, warn or fail from the page's three checks and its store listings."""
    if liveness.status not in ("up", "blocked") or https.status != "ok":
        return "fail"
    if any(s.status == "removed" for s in stores):
        return "fail"
    if (
        liveness.status == "up"
        and all(s.status == "listed" for s in stores)
        and privacy.status == "found"
        and https.redirects_http_to_https is not False
        and (https.cert_days_left is None or https.cert_days_left >= cert_warn_days)
    ):
        return "pass"
    return "warn"
