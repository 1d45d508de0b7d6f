"""Privacy policy: find the link, check that it answers, and fingerprint its main text."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import unquote, urlsplit, urlunsplit

from checks import page as pages
from checks import readability, signals, trackers
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
TEXT_KEPT = 100_000  # characters of a policy's normalised text kept for a reviewer's diff

# Month names as casefold leaves them: English (and its abbreviations), German, French, Spanish,
# Italian, Dutch, Portuguese. "may" is left to the forms with a year: "clause 4 may" is no date.
_MONTHS = (
    "january|february|march|april|june|july|august|september|october|november|december|jan|feb|"
    "mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|januar|februar|märz|mai|juni|juli|oktober|dezember|"
    "janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre|enero|"
    "febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|"
    "diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|januari|"
    "februari|maart|mei|augustus|janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|"
    "novembro|dezembro"
)
_YEAR = r"(?:199\d|20\d\d)"
_DAY = r"\d{1,2}(?:st|nd|rd|th|er|e|\.)?"
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
_OF = r"(?:\s+(?:of|de|del)\s+|\s+)"


def _words_date(months: str, *, year: bool) -> str:
    m = rf"(?:{months})\.?"
    y = rf",?{_OF}{_YEAR}"
    if year:
        return rf"{_DAY}{_OF}{m}{y}|{m}\s+{_DAY}{y}|{m}{y}"
    return rf"{_DAY}{_OF}{m}|{m}\s+{_DAY}"


# What changes with the calendar rather than with the policy, removed before fingerprinting.
_DATES = re.compile(
    r"(?<!\w)(?:"
    r"\d{4}-\d{1,2}-\d{1,2}(?:t[\d:.]+z?)?|\d{4}[./]\d{1,2}[./]\d{1,2}"  # 2025-03-04
    r"|\d{1,2}[/-]\d{1,2}[/-](?:\d{4}|\d{2})|\d{1,2}\.\d{1,2}\.\d{4}"  # 03/04/25, 03.04.2025
    rf"|{_WEEKDAY}(?:{_words_date(_MONTHS + '|may', year=True)}|{_words_date(_MONTHS, year=False)})"
    rf"|{_YEAR}\s*[-–—/]\s*(?:{_YEAR}|\d{{2}})(?![.,]?\d)"  # 2019-2026, 2019–26
    rf"|{_YEAR}(?![.,/]?\d)"  # a year standing alone (not 2016/679): © 2024, in 2023
    r")(?!\w)"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


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


def normalise(text: str) -> str:
    """Return text as a policy's text is kept: NFKC, case folded, undated, a sentence a line."""
    # Blocks come a line each from the page; each is split after . ! or ? into sentences, its
    # whitespace collapsed to single spaces; dates and years are removed; empty lines dropped.
    lines = []
    for block in unicodedata.normalize("NFKC", text).casefold().split("\n"):
        block = " ".join(_DATES.sub(" ", block).split())
        lines.extend(s for s in _SENTENCE_END.split(block) if s)
    return "\n".join(lines)


# Which way a fingerprint was taken. Raised by one whenever a change to how a policy page is read or
# its text normalised would change the fingerprint of a policy that did not change: the registry
# compares a policy only with fingerprints of its own scheme, so the first check after an upgrade
# takes a new baseline instead of calling every such policy changed. 1: html.parser; 2: libxml2,
# which repairs broken markup differently (a stray end tag, a table cell outside a table).
FINGERPRINT_SCHEME = 2


def fingerprint(text: str) -> str:
    """Hash normalised policy text as one line: its line breaks count as single spaces."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def _kept(text: str) -> str:
    if len(text) <= TEXT_KEPT:
        return text
    cut = text.rfind("\n", 0, TEXT_KEPT)
    return text[: cut if cut > 0 else TEXT_KEPT]


def read_policy(resp: Response, deadline=None) -> tuple[str | None, str | None, str]:
    """Fingerprint a policy page or document: (fingerprint, text, why it was not read whole)."""
    digest, text, why, _ = _read(resp, deadline)
    return digest, text, why


def _read(resp: Response, deadline) -> tuple[str | None, str | None, str, pages.Page | None]:
    """Read a policy as read_policy does; return the page it was read from too (None: no HTML)."""
    # A fingerprint of part of a policy would differ from the whole one's: it is not taken.
    if resp.truncated or resp.note:  # a note on a 2xx answer says its body was not read as sent
        # What it loads is still worth knowing from as much of it as arrived.
        return None, None, resp.note or "its body was cut short", pages.of_response(resp, deadline)
    page = pages.of_response(resp, deadline, main=True)
    if page is None:  # a PDF or another document: its bytes are what there is to compare
        return hashlib.sha256(resp.body).hexdigest(), None, "", None
    if not page.complete:
        return None, None, "it could not be parsed whole before the check's deadline", page
    text = normalise(page.main_text)
    return fingerprint(text), _kept(text), "", page


def _found(url: str, where: str, resp: Response, deadline) -> tuple[Privacy, pages.Page | None]:
    digest, text, why, page = _read(resp, deadline)
    if why:
        why = f"the policy's text could not be read whole ({why}), so it was not compared"
    ease = (
        readability.reading_ease(page.main_text) if text is not None and page is not None else None
    )
    found = Privacy("found", url, "; ".join(d for d in (where, why) if d), digest, text)
    found.reading_ease = ease
    return found, page


def _home(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _check_links(
    links: list[pages.Link], fx: Fetcher, verify: bool, known: Response | None, where: str
) -> tuple[Privacy, pages.Page | None]:
    failures = []
    for link in links[:MAX_TRIES]:
        if known is not None and _same(link.href, known.url):
            return _found(link.href, where, known, fx.deadline)
        got = fx.get(link.href, verify=verify)
        r = got.response
        if r is not None and 200 <= r.status < 300:
            return _found(link.href, where, r, fx.deadline)
        if r is not None and (
            r.status in (401, 403, 429) or signals.challenge_evidence(r.status, r.headers, r.body)
        ):
            detail = f"the policy page refused the checker (HTTP {r.status}); {where}".strip("; ")
            return Privacy("found", link.href, detail), None
        if got.error is not None and got.error.kind == "deadline":
            # Out of time, not a dead link: whether it answered at all is not known.
            detail = "the check's deadline passed before the policy page was read whole"
            return Privacy("not_checked", link.href, f"{detail}, so it was not compared"), None
        why = got.error.message if got.error else f"HTTP {r.status if r else '?'}"
        failures.append(f"{link.href}: {why}")
    detail = "the policy link is dead: " + "; ".join(failures)
    return Privacy("unreachable", links[0].href, detail), None


def assess(
    live: Liveness, page: pages.Page | None, resp: Response | None, fx: Fetcher, *, verify: bool
) -> Privacy:
    """Find and check the privacy policy of a page whose liveness is known, and its trackers."""
    if live.status not in ("up", "soft_404") or resp is None:
        return Privacy("not_checked", detail=f"the site could not be read ({live.status})")
    found, policy_page = _policy(page, resp, fx, verify=verify)
    finder = trackers.Finder(fx)
    finder.add(page)
    finder.add(policy_page)
    found.trackers = finder.trackers()
    return found


def _policy(
    page: pages.Page | None, resp: Response, fx: Fetcher, *, verify: bool
) -> tuple[Privacy, pages.Page | None]:
    """Find and check the policy; return what was found and the policy's page, when read."""
    links = candidates(page) if page is not None else []
    if links:
        return _check_links(links, fx, verify, resp, "")
    home = _home(resp.url)
    if _same(home, resp.url):
        return Privacy("missing", detail="no link to a privacy policy on the home page"), None
    got = fx.get(home, verify=verify)
    hr = got.response
    if hr is None or not 200 <= hr.status < 300 or not hr.is_html:
        why = got.error.message if got.error else f"HTTP {hr.status if hr else '?'}"
        detail = f"no link on the page, and the home page failed: {why}"
        return Privacy("missing", detail=detail), None
    home_links = candidates(pages.of_response(hr, fx.deadline))
    if not home_links:
        detail = "no link to a privacy policy on the page or the home page"
        return Privacy("missing", detail=detail), None
    return _check_links(home_links, fx, verify, hr, "linked from the home page")
