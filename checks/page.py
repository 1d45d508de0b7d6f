"""Read an HTML page: its encoding, title, main heading, links and visible text."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin

TEXT_CAP = 400_000  # characters of visible text kept per page
FEED = 64 * 1024
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)|<\?xml[^>]+encoding=["']([\w.-]+)""",
    re.I,
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SKIP = frozenset({"script", "style", "template", "noscript", "svg"})


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def charset_of(content_type: str) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type or "", re.I)
    return _codec(m.group(1)) if m else None


def decode(body: bytes, content_type: str = "") -> str:
    """Decode a page as a browser would: BOM, then HTTP charset, then <meta>, then sniffing."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body.decode(name, "replace")
    declared = charset_of(content_type)
    if not declared:
        m = _META_CHARSET.search(body[:4096])
        if m:
            declared = _codec((m.group(1) or m.group(2)).decode("ascii", "replace"))
    if declared:
        if declared in ("utf-16-le", "utf-16-be", "utf-16"):  # a meta tag read as ASCII can't be
            declared = "utf-8"
        return body.decode(declared, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from bs4.dammit import UnicodeDammit  # only pages that declare nothing and aren't UTF-8

    guess = UnicodeDammit(body[:200_000], is_html=True).original_encoding
    return body.decode(_codec(guess) or "windows-1252", "replace")


@dataclass
class Link:
    href: str  # absolute, without fragment
    text: str = ""
    aria_label: str = ""
    title: str = ""
    rel: str = ""


@dataclass
class Page:
    url: str
    html: str = ""
    title: str = ""
    h1: str = ""
    text: str = ""
    links: list[Link] = field(default_factory=list)
    base: str = ""
    refresh_url: str = ""
    has_scripts: bool = False


def _squash(s: str) -> str:
    return " ".join(s.split())


class _Reader(HTMLParser):
    def __init__(self, url: str):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.base = ""
        self.title: list[str] = []
        self.h1: list[str] = []
        self.h1_done = False
        self.text: list[str] = []
        self.text_len = 0
        self.raw_links: list[tuple[str, dict[str, str], list[str]]] = []
        self.open_link: list[str] | None = None
        self.refresh = ""
        self.scripts = False
        self.skip_depth = 0
        self.in_title = self.in_h1 = False

    def handle_starttag(self, tag: str, attrs_list) -> None:
        attrs = {k: (v or "") for k, v in attrs_list}
        if tag == "base" and not self.base and attrs.get("href"):
            self.base = attrs["href"].strip()
        elif tag == "title":
            self.in_title = True
        elif tag == "h1" and not self.h1_done:
            self.in_h1 = True
        elif tag == "script":
            self.scripts = True
        elif tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
            m = re.search(r"url\s*=\s*['\"]?([^'\"]+)", attrs.get("content", ""), re.I)
            self.refresh = m.group(1).strip() if m else ""
        if tag in ("a", "area", "link") and attrs.get("href") is not None:
            if tag == "link" and "privacy-policy" not in attrs.get("rel", "").lower():
                return
            text: list[str] = []
            if tag == "a":
                self.open_link = text
            self.raw_links.append((attrs["href"], attrs, text))
        elif tag == "img" and self.open_link is not None and attrs.get("alt"):
            self.open_link.append(attrs["alt"])
        if tag in _SKIP:
            self.skip_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag == "h1" and self.in_h1:
            self.in_h1, self.h1_done = False, True
        elif tag == "a":
            self.open_link = None
        elif tag in _SKIP and self.skip_depth:
            self.skip_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
            return
        if self.skip_depth:
            return
        if self.in_h1:
            self.h1.append(data)
        if self.open_link is not None:
            self.open_link.append(data)
        if self.text_len < TEXT_CAP:
            self.text.append(data)
            self.text_len += len(data)


def parse(body: bytes, url: str, content_type: str = "", deadline=None) -> Page:
    """Parse an HTML body fetched from url, stopping where the check's deadline passes."""
    html = decode(body, content_type)
    reader = _Reader(url)
    try:
        # Fed a piece at a time so that markup built to be slow to parse can't outlast the deadline.
        for start in range(0, len(html), FEED):
            if deadline is not None and deadline.expired:
                break
            reader.feed(html[start : start + FEED])
        reader.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    base = urljoin(url, reader.base) if reader.base else url
    links = []
    for href, attrs, text in reader.raw_links:
        href = href.strip()
        if not href or href.startswith("#") or re.match(r"(?i)(javascript|mailto|tel|data):", href):
            continue
        absolute = urldefrag(urljoin(base, href))[0]
        if not absolute.startswith(("http://", "https://")):
            continue
        links.append(
            Link(
                href=absolute,
                text=_squash(" ".join(text)),
                aria_label=_squash(attrs.get("aria-label", "")),
                title=_squash(attrs.get("title", "")),
                rel=attrs.get("rel", "").lower(),
            )
        )
    return Page(
        url=url,
        html=html[:200_000],  # enough for the markup checks; the text is kept separately
        title=_squash("".join(reader.title)),
        h1=_squash("".join(reader.h1)),
        text=_squash(" ".join(reader.text)),
        links=links,
        base=base,
        refresh_url=urljoin(base, reader.refresh) if reader.refresh else "",
        has_scripts=reader.scripts,
    )


def of_response(resp, deadline=None) -> Page | None:
    """Parse a fetch.Response if it is HTML; None otherwise."""
    if not resp.is_html:
        return None
    return parse(resp.body, resp.url, resp.headers.get("Content-Type", ""), deadline)
