"""Third-party trackers: what a page loads from trackers' sites, named from Ghostery's list."""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Iterable
from importlib import resources
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from checks import lazy
from checks.fetch import Fetcher
from checks.page import Page
from checks.report import Tracker

# TrackerDB's categories that are reported. Left out: hosting (CDNs: they see a visitor's address,
# but serve files rather than track), utilities (site tools: Adobe's tag manager, Typekit), consent
# managers, and browser extensions (which a page never loads itself).
REPORTED = frozenset(
    {"advertising", "site_analytics", "social_media", "customer_interaction",
     "audio_video_player", "pornvertising", "misc"}
)  # fmt: skip
MAX_TAG_MANAGERS = 2  # tag managers' scripts read per page
SCRIPT_CAP = 1024 * 1024  # bytes of a tag manager's script read: a GTM container is a few 100 KB
# Tag managers whose script names the tags it will load: (host or parent domain, path pattern).
TAG_MANAGERS = (
    ("googletagmanager.com", re.compile(r"^/(?:gtm\.js|gtag/js)")),  # Google Tag Manager, gtag.js
    ("tiqcdn.com", re.compile(r"/utag(?:\.sync)?\.js$")),  # Tealium iQ
    ("adobedtm.com", re.compile(r"\.js$")),  # Adobe Launch / Dynamic Tag Management
    ("segment.com", re.compile(r"^/analytics\.js/")),  # Segment's analytics.js
    ("ensighten.com", re.compile(r"/bootstrap\.js$", re.I)),  # Ensighten
)
# A host name in a script's text, standing at the start of a string or after a slash
# ("https://x", "https:\/\/x", "'x'"), so that a property chain such as t.co(…) is not one.
_SCRIPT_HOST = re.compile(
    r"""(?<=[/"'`])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62})(?![\w.-])"""
)


@lazy.once
def _table() -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    """Load the tracker list shipped in checks/data, once per process."""
    data = json.loads(resources.files("checks").joinpath("data/trackers.json").read_text("utf-8"))
    names = tuple((name, category) for name, category in data["trackers"])
    return data["domains"], names


@lazy.once
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped inside publicsuffixlist: nothing is fetched


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


@functools.lru_cache(maxsize=4096)
def site_of(host: str) -> str:
    """Return a host's site: its registrable domain ('www.mind.org.uk' -> 'mind.org.uk')."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        return _suffixes().privatesuffix(host) or host


def lookup(host: str) -> tuple[str, str] | None:
    """Return (name, category) of the list's most specific domain that host is or is under."""
    domains, names = _table()
    labels = host.split(".")
    for i in range(len(labels) - 1):
        index = domains.get(".".join(labels[i:]))
        if index is not None:
            return names[index]
    return None


def name(host: str) -> str | None:
    """Name the tracker a host belongs to, or None when it is no reported tracker."""
    found = lookup(host)
    return found[0] if found and found[1] in REPORTED else None


def is_tag_manager(url: str) -> bool:
    host = host_of(url)
    path = urlsplit(url).path
    return any(
        (host == domain or host.endswith("." + domain)) and pattern.search(path)
        for domain, pattern in TAG_MANAGERS
    )


def hosts_in_script(text: str) -> list[str]:
    """List the host names a script's text spells out, in order, once each."""
    return list(dict.fromkeys(_SCRIPT_HOST.findall(text.lower())))


class Finder:
    """Name the trackers that the pages of one check load, reading each tag manager once."""

    def __init__(self, fx: Fetcher):
        self.fx = fx
        self.found: dict[str, Tracker] = {}  # by name: a tracker is listed once, at its first host
        self._scripts: dict[str, list[str]] = {}  # a tag manager's URL -> the hosts it names

    def add(self, page: Page | None) -> None:
        """Add the trackers that page loads, directly or through a tag manager's script."""
        if page is None:
            return
        site = site_of(host_of(page.url))
        read: set[str] = set()
        for load in page.loads:
            self._note([host_of(load.url)], site)
            if load.kind == "script" and is_tag_manager(load.url):
                if load.url not in read and len(read) >= MAX_TAG_MANAGERS:
                    continue
                read.add(load.url)
                self._note(self._script_hosts(load.url), site)

    def trackers(self) -> list[Tracker]:
        return list(self.found.values())

    def _note(self, hosts: Iterable[str], site: str) -> None:
        for host in hosts:
            if not host or site_of(host) == site:
                continue
            tracker = name(host)
            if tracker and tracker not in self.found:
                self.found[tracker] = Tracker(tracker, host)

    def _script_hosts(self, url: str) -> list[str]:
        # What this sees: the hosts a tag manager's script spells out, which for GTM, Tealium or
        # Adobe Launch are those of the tags its container is set up to load (Google Analytics,
        # the Meta pixel…). What it cannot: no JavaScript is run, so tags whose address is built
        # at run time, loaded only after consent or by a second script, or named only by a tag
        # ID, are missed; and a host that the script names but would not call is counted.
        if url not in self._scripts:
            got = self.fx.get(url, cap=min(SCRIPT_CAP, self.fx.settings.max_body_bytes))
            r = got.response
            ok = r is not None and 200 <= r.status < 300 and not r.is_html
            self._scripts[url] = hosts_in_script(r.body.decode("utf-8", "replace")) if ok else []
        return self._scripts[url]
