"""Privacy policy: find the link on the page or the home page, then check that it answers."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import unquote, urlsplit, urlunsplit

from checks import page as pages
from checks import signals
from checks.fetch import Fetcher, Response
from checks.report import Liveness, Privacy

# Words for a privacy policy in English and the common European languages, written as _fold
# leaves them (lower case, accents dropped).
KEYWORDS = (
    "privacy", "data protection", "data privacy", "personal data", "personal information",
    "gdpr", "datenschutz", "privatsphare", "dsgvo", "confidentialite", "vie privee",
    "donnees personnelles", "protection des donnees", "rgpd", "privacidad", "proteccion de datos",
    "datos personales", "privacidade", "protecao de dados", "dados pessoais",
    "protezione dei dati", "riservatezza", "dati personali", "privacyverklaring",
    "privacybeleid", "gegevensbescherming", "persoonsgegevens", "integritetspolicy",
    "integritet", "dataskydd", "personuppgifter", "privatlivspolitik", "privatliv",
    "persondata", "databeskyttelse", "personvern", "tietosuoja", "yksityisyy", "prywatnosc",
    "prywatnosci", "ochrona danych", "ochrana osobnich udaju", "ochrana osobnych udajov",
    "soukromi", "sukromi", "adatvedelem", "adatkezel", "confidentialitate", "protectia datelor",
    "privatnost", "zastita podataka", "zasebnost", "varstvo osebnih podatkov", "privaatsus",
    "andmekaitse", "privatum", "duomenu apsaug", "datu aizsardz", "gizlilik", "kisisel veri",
    "απορρητο", "προσωπικα δεδομενα", "конфиденциальн", "конфіденційн", "поверителност",
)  # fmt: skip
_POLICY_WORDS = re.compile(
    r"polic|notice|statement|politi|richtlinie|erklarung|hinweis|beleid|verklaring|"
    r"informativa|polityka|zasady|ilmoitus|seloste|erklaering|erklaring|aviso|declaration"
)
_KEY = re.compile("|".join(re.escape(k) for k in KEYWORDS))
_KEY_JOINED = re.compile("|".join(re.escape(k.replace(" ", "")) for k in KEYWORDS))
MAX_TEXT = 120  # a longer "link text" is a whole block wrapped in <a>, not a footer link
MAX_TRIES = 3


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c)).replace("&", " and ")


def score(link: pages.Link) -> int:
    """Rate how surely a link leads to a privacy policy (0: it does not)."""
    if "privacy-policy" in link.rel.split():
        return 100
    text = _fold(link.text)
    if text and len(text) <= MAX_TEXT and _KEY.search(text):
        return 95 if _POLICY_WORDS.search(text) else 90
    for label in (link.aria_label, link.title):
        label = _fold(label)
        if label and len(label) <= MAX_TEXT and _KEY.search(label):
            return 80
    parts = urlsplit(link.href)
    where = re.sub(r"[\W_]+", "", _fold(unquote(parts.path + "?" + parts.query)))
    if _KEY_JOINED.search(where):
        return 60
    return 0


def candidates(page: pages.Page) -> list[pages.Link]:
    """Return the links that look like a privacy policy, the likeliest first."""
    best: dict[str, tuple[int, int, pages.Link]] = {}
    for i, link in enumerate(page.links):
        s = score(link)
        if s and (link.href not in best or best[link.href][0] < s):
            best[link.href] = (s, -i, link)
    return [link for _, _, link in sorted(best.values(), key=lambda t: (-t[0], -t[1]))]


def fingerprint(resp: Response, deadline=None) -> str:
    """Hash the policy's text (whitespace and case normalised) so a changed policy shows."""
    page = pages.of_response(resp, deadline)
    data = " ".join(page.text.casefold().split()).encode() if page else resp.body
    return hashlib.sha256(data).hexdigest()


def _home(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _check_links(
    links: list[pages.Link], fx: Fetcher, verify: bool, known: Response | None, where: str
) -> Privacy:
    failures = []
    for link in links[:MAX_TRIES]:
        if known is not None and _same(link.href, known.url):
            return Privacy("found", link.href, where, fingerprint(known, fx.deadline))
        got = fx.get(link.href, verify=verify)
        r = got.response
        if r is not None and 200 <= r.status < 300:
            return Privacy("found", link.href, where, fingerprint(r, fx.deadline))
        if r is not None and (
            r.status in (401, 403, 429) or signals.challenge_evidence(r.status, r.headers, r.body)
        ):
            detail = f"the policy page refused the checker (HTTP {r.status}); {where}".strip("; ")
            return Privacy("found", link.href, detail)
        why = got.error.message if got.error else f"HTTP {r.status if r else '?'}"
        failures.append(f"{link.href}: {why}")
    return Privacy("unreachable", links[0].href, "the policy link is dead: " + "; ".join(failures))


def assess(
    live: Liveness, page: pages.Page | None, resp: Response | None, fx: Fetcher, *, verify: bool
) -> Privacy:
    """Find and check the privacy policy of a page whose liveness is known."""
    if live.status not in ("up", "soft_404") or resp is None:
        return Privacy("not_checked", detail=f"the site could not be read ({live.status})")
    links = candidates(page) if page is not None else []
    if links:
        return _check_links(links, fx, verify, resp, "")
    home = _home(resp.url)
    if _same(home, resp.url):
        return Privacy("missing", detail="no link to a privacy policy on the home page")
    got = fx.get(home, verify=verify)
    hr = got.response
    if hr is None or not 200 <= hr.status < 300 or not hr.is_html:
        why = got.error.message if got.error else f"HTTP {hr.status if hr else '?'}"
        return Privacy("missing", detail=f"no link on the page, and the home page failed: {why}")
    home_links = candidates(pages.of_response(hr, fx.deadline))
    if not home_links:
        return Privacy("missing", detail="no link to a privacy policy on the page or the home page")
    return _check_links(home_links, fx, verify, hr, "linked from the home page")
