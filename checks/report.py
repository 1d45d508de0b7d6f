"""The report of one entry's checks, shaped as the contract in DESIGN.md gives it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

LIVENESS = ("up", "down", "unreachable", "blocked", "parked", "soft_404")
HTTPS = ("ok", "no_https", "cert_expired", "cert_untrusted", "hostname_mismatch", "tls_error")
PRIVACY = ("found", "missing", "unreachable", "not_checked")
STORES = ("listed", "removed", "unreachable", "blocked")
CONTACTS = ("found", "missing", "not_checked")


@dataclass
class Tracker:
    """A third-party tracker the page loads, named from the tracker list (checks/trackers)."""

    name: str
    host: str


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
    # What the entry's page and its policy page load from trackers' sites; None: not read.
    trackers: list[Tracker] | None = None
    # The policy's Flesch reading ease (0-100, higher is easier); None when it was not read whole.
    reading_ease: float | None = None


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
class Contact:
    """Whether a phone or text number the entry gives is still on the entry's page."""

    number: str  # as the entry gives it
    status: str  # found, missing, not_checked
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
    contacts: list[Contact] = field(default_factory=list)

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
            "contacts": [asdict(c) for c in self.contacts],
        }


def verdict(
    liveness: Liveness,
    https: Https,
    privacy: Privacy,
    *,
    cert_warn_days: int,
    stores: Sequence[Store] = (),
    contacts: Sequence[Contact] = (),
) -> str:
    """Decide pass, warn or fail from the page's checks, its store listings and its numbers."""
    if liveness.status not in ("up", "blocked") or https.status != "ok":
        return "fail"
    if any(s.status == "removed" for s in stores) or any(c.status == "missing" for c in contacts):
        return "fail"
    if (
        liveness.status == "up"
        and all(s.status == "listed" for s in stores)
        and all(c.status == "found" for c in contacts)
        and privacy.status == "found"
        and https.redirects_http_to_https is not False
        and (https.cert_days_left is None or https.cert_days_left >= cert_warn_days)
    ):
        return "pass"
    return "warn"
