"""Crisis numbers: is each phone or text number an entry gives still on the entry's page?"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

import phonenumbers
from phonenumbers import PhoneNumberFormat

from checks import page as pages
from checks.report import Contact

# Numbers without a country code are read as UK numbers; others are written with theirs.
REGION = "GB"
MAX_NUMBERS = 10  # numbers an entry may give
_TEXT = re.compile(r"(?i)^\s*(?:text|sms)\b\s*:?\s*")
# A run of digits and the separators people put between them: "0800 068 4141", "(0)20-7",
# "+44 116.123". Non-breaking and thin spaces count as spaces.
_RUN = re.compile(r"\+?\(?\d[\d\s().\-/\u00a0\u2009\u202f]*\d|\d")
_DIGITS = re.compile(r"\d+")
_SCAN = 400_000  # characters of page text searched
MAX_TOKENS = 8  # groups of digits one number is written in, at most


class NumberError(ValueError):
    """A phone or text number that cannot be dialled as written."""


@dataclass(frozen=True)
class Number:
    """A phone or text number as an entry gives it, with the ways a page may write it."""

    text: str  # as kept and shown: "116 123", "0800 068 4141", "text 85258", "+1 988"
    dial: str  # what a tel: or sms: link dials: "116123", "+448000684141"
    is_text: bool
    spellings: frozenset[str]  # digit strings a page may write it as


def _digits(s: str) -> str:
    return "".join(_DIGITS.findall(s))


def parse(given: str) -> Number:
    """Read a number as an entry gives it ("116 123", "text 85258"), or raise NumberError."""
    raw = " ".join(str(given).split())
    is_text = bool(_TEXT.match(raw))
    body = _TEXT.sub("", raw) if is_text else raw
    if not body or re.search(r"[A-Za-z]", body):
        raise NumberError(
            f"{raw!r} is not a phone number: write digits, such as 116 123 or 0800 068 4141 "
            "(a text line as text 85258)"
        )
    try:
        number = phonenumbers.parse(body, REGION)
    except phonenumbers.NumberParseException:
        raise NumberError(
            f"{raw!r} is not a phone number: write digits, such as 116 123 or 0800 068 4141"
        ) from None
    national = phonenumbers.national_significant_number(number)
    cc = str(number.country_code)
    home = number.country_code == phonenumbers.country_code_for_region(REGION)
    if phonenumbers.is_valid_number(number):
        kind = PhoneNumberFormat.NATIONAL if home else PhoneNumberFormat.INTERNATIONAL
        shown = phonenumbers.format_number(number, kind)
        trunk = _digits(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
        spellings = {trunk, national, cc + national, cc + "0" + national, "00" + cc + national}
        dial = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    elif phonenumbers.is_valid_short_number(number):
        # Short numbers (116 123, 111, 85258) keep the grouping they were given in; outside the
        # UK they keep their country code so that the region is known ("+1 988").
        shown = body if home or body.startswith("+") else f"+{cc} {body}"
        spellings = {national}
        dial = national
    else:
        where = "a UK number" if home else f"a number for country code +{cc}"
        raise NumberError(
            f"{raw!r} is not {where} that can be dialled; check it, and give numbers outside "
            "the UK with their country code (+1 800 950 6264)"
        )
    return Number(
        text=("text " if is_text else "") + shown,
        dial=dial,
        is_text=is_text,
        spellings=frozenset(s for s in spellings if s),
    )


def normalise(given: list[str] | tuple[str, ...]) -> list[str]:
    """Return an entry's numbers as kept, in order, without repeats; raise NumberError."""
    kept: list[str] = []
    for item in given:
        if not str(item).strip():
            continue
        text = parse(item).text
        if text not in kept:
            kept.append(text)
    if len(kept) > MAX_NUMBERS:
        raise NumberError(f"give at most {MAX_NUMBERS} numbers")
    return kept


def _written(spellings: frozenset[str], text: str) -> bool:
    """Say whether text writes one of the digit strings, in whole groups of digits."""
    longest = max(len(s) for s in spellings)
    for run in _RUN.finditer(text[:_SCAN]):
        tokens = _DIGITS.findall(run.group())
        for i in range(len(tokens)):
            joined = ""
            for token in tokens[i : i + MAX_TOKENS]:
                joined += token
                if joined in spellings:
                    return True
                if len(joined) >= longest:
                    break
    return False


def on_page(number: Number, page: pages.Page) -> bool:
    """Say whether the page gives the number, in any common spelling or as a tel:/sms: link."""
    for href in page.dial_links:
        href = unquote(href.split("?")[0])
        if _digits(href) in number.spellings or _written(number.spellings, href):
            return True
    return _written(number.spellings, page.text)


def assess(numbers: tuple[str, ...], page: pages.Page | None, why_not: str = "") -> list[Contact]:
    """Check each number the entry gives against its page (None: the page was not read)."""
    found = []
    for given in numbers:
        try:
            number = parse(given)
        except NumberError as exc:
            found.append(Contact(given, "not_checked", str(exc)))
            continue
        if page is None:
            found.append(Contact(given, "not_checked", why_not or "the page could not be read"))
        elif on_page(number, page):
            found.append(Contact(given, "found"))
        else:
            found.append(Contact(given, "missing", "the number is no longer on the entry's page"))
    return found
