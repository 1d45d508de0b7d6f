"""Read an HTML page: its encoding, title, main heading, links, visible text and main text."""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin

if TYPE_CHECKING:
    from lxml import etree

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
_LOADS = {"script": "script", "iframe": "frame", "frame": "frame", "img": "image",
          "embed": "frame"}  # fmt: skip
_DIAL = re.compile(r"(?i)\s*(tel|sms):")
_SKIP = frozenset({"script", "style", "template", "noscript", "svg"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
     "track", "wbr"}
)  # fmt: skip
# Elements that start a new line of text: where a paragraph or a list item begins and ends.
_BLOCK = frozenset(
    {"address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "dialog", "div",
     "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
     "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
     "td", "th", "tr", "ul"}
)  # fmt: skip
# Closed implicitly by the next one in real pages, so an attribute on them can't mark a region.
_AUTOCLOSED = frozenset({"p", "li", "dt", "dd", "option", "tr", "td", "th"})
_OUTER_TAGS = frozenset({"header", "footer", "aside", "form"})
_OUTER_ROLES = frozenset({"banner", "contentinfo", "complementary"})
_CHROME_ROLES = frozenset({"navigation", "search", "dialog", "alertdialog"})
_POPUP = (
    r"(?:consent|banner|bar|notice|popup|pop-up|modal|dialog|overlay|prompt|message|alert|box|"
    r"container|wrapper|window|wall|manager|sdk|law)"
)
# An id, class or aria-label that says "site chrome": cookie and consent banners (and the common
# consent tools by name), menus, breadcrumbs, skip links. "cookie" or "consent" alone is not
# enough: a cookie policy's own container may well be called that.
_CHROME_MARK = re.compile(
    rf"(?:cookie|consent|gdpr)[-_ ]?{_POPUP}|^cc[-_]|^cmp[-_]|onetrust|cookiebot|didomi|"
    r"usercentrics|iubenda|osano|cookieyes|banner|navbar|navigation|^nav$|^nav[-_]|[-_]nav$|"
    r"menu|breadcrumb|skip[-_ ]?(?:link|nav|to)|masthead|(?:site|global)[-_ ]?header|footer"
)
MAX_REGIONS = 2000  # regions remembered per page: enough for any real one, bounded for the rest


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


MAX_LOADS = 500  # scripts, frames and images remembered per page


@dataclass
class Load:
    """Something the page makes a browser fetch from an address as it opens."""

    kind: str  # script, frame or image
    url: str  # absolute, without fragment


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
    main_text: str = ""  # only when asked for: see main_text_of; a newline between blocks
    loads: list[Load] = field(default_factory=list)  # http(s) only, in page order
    dial_links: list[str] = field(default_factory=list)  # the hrefs of tel: and sms: links
    complete: bool = True  # False when parsing stopped early (the deadline, broken markup)


def _squash(s: str) -> str:
    return " ".join(s.split())


def _region_kind(tag: str, attrs: dict[str, str]) -> str | None:
    """Say what part of a page an element is: a main one, chrome, outer, or None (neither)."""
    role = attrs.get("role", "").strip().lower()
    if tag == "main":
        return "main"
    if role == "main":
        return "role_main"
    if tag == "article":
        return "article"
    if tag in ("nav", "dialog") or role in _CHROME_ROLES:
        return "chrome"
    if tag in _OUTER_TAGS or role in _OUTER_ROLES:
        return "outer"
    if tag not in _AUTOCLOSED:
        names = (attrs.get("id", "") + " " + attrs.get("class", "")).casefold().split()
        label = attrs.get("aria-label", "").casefold()
        if any(_CHROME_MARK.search(n) for n in names) or (label and _CHROME_MARK.search(label)):
            return "chrome"
    return None


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


class _Regions:
    """Collect a page's text, a piece at a time, with where its main and chrome elements are."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        # Open elements are counted per tag rather than kept on a stack: O(1) a tag, and an
        # element is closed when the count of its tag falls below what it was when it opened.
        self.depth: dict[str, int] = {}
        self.open: dict[str, list[tuple[int, str, int]]] = {}
        self.spans: list[tuple[str, int, int]] = []
        self.opened = 0

    def _break(self) -> None:
        if self.pieces and self.pieces[-1] != "\n":
            self.pieces.append("\n")

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag in _BLOCK:
            self._break()
        if tag in _VOID:
            return
        depth = self.depth[tag] = self.depth.get(tag, 0) + 1
        kind = _region_kind(tag, attrs)
        if kind and self.opened < MAX_REGIONS:
            self.opened += 1
            self.open.setdefault(tag, []).append((depth, kind, len(self.pieces)))

    def end(self, tag: str) -> None:
        if tag in _VOID or not self.depth.get(tag):
            return
        if tag in _BLOCK:
            self._break()
        depth = self.depth[tag]
        self.depth[tag] = depth - 1
        stack = self.open.get(tag, [])
        while stack and stack[-1][0] >= depth:
            _, kind, start = stack.pop()
            self.spans.append((kind, start, len(self.pieces)))

    def data(self, text: str) -> None:
        self.pieces.append(text)

    def _join(self, start: int, end: int, drop: list[tuple[int, int]]) -> str:
        out, i = [], start
        for s, e in drop:
            if e <= i:
                continue
            if s >= end:
                break
            out.extend(self.pieces[i:s])
            i = e
        out.extend(self.pieces[i:end])
        return "".join(out)

    def main_text(self) -> str:
        """Return the text of the page's main region, a newline between blocks."""
        # <main>, else [role=main], else the largest <article>, else the body without chrome.
        n = len(self.pieces)
        for stack in self.open.values():  # elements never closed end with the page
            self.spans.extend((kind, start, n) for _, kind, start in stack)
        self.open.clear()
        size = [0, *accumulate(len(p) for p in self.pieces)]
        mains = [(s, e) for k, s, e in self.spans if k in ("main", "role_main") and e > s]

        def droppable(s: int, e: int) -> bool:
            # A "menu" class on a wrapper of the whole page, or ASP.NET's page-wide <form>,
            # holds the policy itself: a region that big is never chrome.
            holds_main = any(s <= ms and me <= e for ms, me in mains)
            return not holds_main and 2 * (size[e] - size[s]) <= size[n]

        chrome = _merged([(s, e) for k, s, e in self.spans if k == "chrome" and droppable(s, e)])
        outer = _merged(
            chrome + [(s, e) for k, s, e in self.spans if k == "outer" and droppable(s, e)]
        )
        for kind in ("main", "role_main", "article"):
            texts = [
                self._join(s, e, chrome)
                for k, s, e in self.spans
                # An article in an aside or a footer is a teaser for another page.
                if k == kind and not (kind == "article" and _inside(s, e, outer))
            ]
            best = max(texts, key=lambda t: len(t.strip()), default="")
            if best.strip():
                return best
        return self._join(0, n, outer)


class _Reader:
    """Take a page's elements and text as libxml2 reads them, keeping what the checks use."""

    # The parser target of lxml: libxml2 tokenises and repairs the markup in C and calls these
    # methods once an element or a run of text is read, with its end tags balanced and its
    # character references already decoded.

    def __init__(self) -> None:
        self.reset()

    def reset(self, regions: _Regions | None = None) -> None:
        """Start on a new page: the reader and its parser are kept, one pair per thread."""
        self.regions = regions
        self.base = ""
        self.title: list[str] = []
        self.h1: list[str] = []
        self.h1_done = False
        self.text: list[str] = []
        self.text_len = 0
        self.raw_links: list[tuple[str, dict[str, str], list[str]]] = []
        self.raw_loads: list[tuple[str, str]] = []
        self.open_link: list[str] | None = None
        self.refresh = ""
        self.scripts = False
        self.skip_depth = 0
        self.in_title = self.in_h1 = False

    def start(self, tag: str, attrib, nsmap=None) -> None:
        attrs = {k: (v or "") for k, v in attrib.items()}
        if self.regions is not None:
            self.regions.start(tag, attrs)
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
        kind = _LOADS.get(tag)
        if kind and attrs.get("src") and len(self.raw_loads) < MAX_LOADS:
            self.raw_loads.append((kind, attrs["src"]))
        if tag in _SKIP:
            self.skip_depth += 1

    def end(self, tag: str) -> None:
        if self.regions is not None:
            self.regions.end(tag)
        if tag == "title":
            self.in_title = False
        elif tag == "h1" and self.in_h1:
            self.in_h1, self.h1_done = False, True
        elif tag == "a":
            self.open_link = None
        elif tag in _SKIP and self.skip_depth:
            self.skip_depth -= 1

    def data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
            return
        if self.skip_depth:
            return
        if self.regions is not None:
            self.regions.data(data)
        if self.in_h1:
            self.h1.append(data)
        if self.open_link is not None:
            self.open_link.append(data)
        if self.text_len < TEXT_CAP:
            self.text.append(data)
            self.text_len += len(data)

    def close(self) -> None:
        return None


_local = threading.local()


def _parser() -> tuple[etree.HTMLParser, _Reader]:
    """Return this thread's parser and the reader it calls, made on first use.

    A parser is kept because libxml2 sets up its first document slowly: a fresh parser doubles
    the time of a small page, a kept one starts each new page where close() left it.
    """
    try:
        return _local.pair
    except AttributeError:
        from lxml import etree  # in the processes that read pages only, not in check-url's own

        reader = _Reader()
        # The decoded text goes to libxml2 as UTF-8 with that encoding fixed, so that a <meta
        # charset> the page declares can't make it decode the page a second time, differently.
        parser = etree.HTMLParser(
            target=reader, encoding="utf-8", recover=True, no_network=True, remove_comments=True,
            remove_pis=True, default_doctype=False,
        )  # fmt: skip
        _local.pair = (parser, reader)
        return _local.pair


def parse(
    body: bytes, url: str, content_type: str = "", deadline=None, *, main: bool = False
) -> Page:
    """Parse an HTML body fetched from url, stopping where the check's deadline passes.

    With main, also collect the page's main text (Page.main_text): a privacy policy's, say.
    """
    html = decode(body, content_type)
    # One pass of libxml2 collects everything the checks read, the main text too, without building
    # a tree of the page; fed in pieces, it stops where the deadline passes.
    parser, reader = _parser()
    from lxml.etree import LxmlError

    reader.reset(_Regions() if main else None)
    complete = True
    try:
        # Fed a piece at a time so that markup built to be slow to parse can't outlast the deadline.
        for start in range(0, len(html), FEED):
            if deadline is not None and deadline.expired:
                complete = False
                break
            parser.feed(html[start : start + FEED].encode("utf-8", "replace"))
        if html:  # libxml2 calls a document it was never fed broken
            parser.close()
    except LxmlError:  # libxml2 gives up on some broken markup (nesting too deep, say)
        complete = False
    finally:
        if not complete:
            del _local.pair  # a parser stopped mid-page is not used again
    base = urljoin(url, reader.base) if reader.base else url
    links, dial_links = [], []
    for href, attrs, text in reader.raw_links:
        href = href.strip()
        if _DIAL.match(href):
            dial_links.append(href)
            continue
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
    loads = []
    for kind, src in reader.raw_loads:
        absolute = urldefrag(urljoin(base, src.strip()))[0]
        if absolute.startswith(("http://", "https://")):
            loads.append(Load(kind, absolute))
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
        main_text=reader.regions.main_text() if reader.regions is not None else "",
        complete=complete,
        loads=loads,
        dial_links=dial_links,
    )


def of_response(resp, deadline=None, *, main: bool = False) -> Page | None:
    """Parse a fetch.Response if it is HTML; None otherwise."""
    if not resp.is_html:
        return None
    return parse(resp.body, resp.url, resp.headers.get("Content-Type", ""), deadline, main=main)
