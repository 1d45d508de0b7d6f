"""What bot challenges, parked domains and "not found" pages look like."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Hosts that serve domain-parking or domain-sale pages (a dead site often redirects to one).
PARKING_HOSTS = (
    "sedoparking.com",
    "sedo.com",
    "parkingcrew.net",
    "bodis.com",
    "above.com",
    "dan.com",
    "afternic.com",
    "hugedomains.com",
    "buydomains.com",
    "undeveloped.com",
    "parklogic.com",
    "domainmarket.com",
    "uniregistry.com",
    "parkingpage.namecheap.com",
    "sav.com",
    "domainnamesales.com",
    "brandbucket.com",
    "squadhelp.com",
    "atom.com",
    "perfectdomain.com",
    "efty.com",
    "epik.com",
    "domainlore.com",
    "parked.com",
    "voodoo.com",
    "smartname.com",
    "dsultra.com",
    "ztomy.com",
    "sedo.de",
)

# Traces a parking page leaves in its HTML (scripts, trackers, the classic /lander hop).
_PARKING_MARKUP = re.compile(
    r"sedoparking|parkingcrew|bodis\.com|parking\.bodis|above\.com/marketplace|"
    r"window\.location\.href\s*=\s*[\"']/lander|caf\.js|domain-parking|parkingpage|"
    r"afternic\.com|hugedomains\.com|dan\.com/buy-domain|godaddy\.com/forsale|"
    r"\bdomaincntrol\b|img\.sedoparking",
    re.I,
)

# Phrases parking and for-sale pages say, in English and the common European languages.
_PARKING_TEXT = re.compile(
    r"(this|the) domain( name)? ([\w.-]+ )?(is|may be|might be) (for sale|available for purchase|"
    r"parked)|buy this domain|domain (is )?for sale|make an offer on this domain|"
    r"this domain has (recently )?been registered|parked (free|domain)|domain parking|"
    r"diese domain (steht zum verkauf|kaufen|ist geparkt)|domain kaufen|"
    r"ce (nom de )?domaine est (à vendre|en vente)|nom de domaine à vendre|"
    r"este dominio (está|esta) en venta|dominio en venta|questo dominio è in vendita|"
    r"dit domein is te koop|domínio (está )?à venda",
    re.I,
)

# A strong "not found" in a title or main heading.
_NOT_FOUND = re.compile(
    r"^\W*(404|410)\W*$|\b(error|fehler|erreur|errore|error de)\W{0,3}(404|410)\b|"
    r"\b(404|410)\W{0,3}(error|page|not|seite|erreur|pagina|página)|"
    r"page (was )?not found|not found|page (does not|doesn't) exist|"
    r"no longer (available|exists)|page (is )?(missing|unavailable)|"
    r"nicht gefunden|seite (existiert nicht|nicht verfügbar)|fehler 404|"
    r"page (introuvable|non trouvée)|introuvable|"
    r"no (se ha )?encontrad[ao]|página no (existe|encontrada)|"
    r"non trovat[ao]|pagina non (esiste|trovata)|niet gevonden|bestaat niet|"
    r"não encontrad[ao]|nie znaleziono|nie istnieje|hittades inte|ikke fundet|"
    r"finnes ikke|ei löytynyt|nenalezen|nem található|δεν βρέθηκε|не найдена|"
    r"oops[!.,]? (we can['’]?t find|that page)|(can['’]?t|couldn['’]?t|could not|cannot) be found",
    re.I,
)

# Titles and page text of bot-challenge and firewall pages.
_CHALLENGE_TEXT = re.compile(
    r"just a moment\.\.\.|attention required! \| cloudflare|checking (if the site connection "
    r"is secure|your browser)|cf-chl-|challenge-platform|_cf_chl_opt|ddos-guard|"
    r"sucuri website firewall|access denied \| .* used cloudflare|px-captcha|"
    r"please verify you are (a )?human|are you a robot|verify you are human|"
    r"request unsuccessful\. incapsula|_incapsula_resource|awswafintegration|"
    r"captcha-delivery\.com|datadome",
    re.I,
)


def is_parking_host(host: str) -> bool:
    """Tell whether a host belongs to a domain-parking or domain-sale service."""
    host = host.lower().rstrip(".")
    return any(host == h or host.endswith("." + h) for h in PARKING_HOSTS)


def parking_evidence(html: str, text: str) -> str | None:
    """Return what shows a page is parked or for sale, or None."""
    m = _PARKING_TEXT.search(text[:20000])
    if m:
        return f"the page says {m.group(0)!r}"
    if len(text) < 3000:  # parking pages are thin; a real page may mention these hosts
        m = _PARKING_MARKUP.search(html[:200000])
        if m:
            return f"the page loads a parking service ({m.group(0)})"
    return None


def says_not_found(*phrases: str) -> bool:
    """Tell whether a title or heading says the page was not found."""
    return any(p and _NOT_FOUND.search(p[:300]) for p in phrases)


def challenge_evidence(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """Return what shows a response is a bot challenge or firewall block, or None."""
    h = {k.lower(): v for k, v in headers.items()}
    if h.get("cf-mitigated", "").lower() == "challenge":
        return "Cloudflare challenge (cf-mitigated header)"
    if "x-sucuri-block" in h or "x-amzn-waf-action" in h:
        return "web application firewall block"
    snippet = body[:65536].decode("latin-1", "replace")
    if status >= 400:
        m = _CHALLENGE_TEXT.search(snippet)
        if m:
            return f"bot challenge page ({m.group(0).strip()})"
    elif status < 300:  # vendors' scripts sit on real pages too: on a 2xx, trust the title only
        title = _TITLE.search(snippet)
        if title and _CHALLENGE_TITLE.search(title.group(1)):
            return f"bot challenge page ({title.group(1).strip()[:80]})"
    return None


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_CHALLENGE_TITLE = re.compile(
    r"just a moment|attention required|checking your browser|verify you are (a )?human|"
    r"are you a robot|ddos-guard|access denied",
    re.I,
)
