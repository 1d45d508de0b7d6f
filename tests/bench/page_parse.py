"""Benchmark: checks.page.parse on a policy-sized page, beside plain scans of the same page.

Each parser reads the same generated page (navigation, a cookie banner, a <main> of policy
paragraphs with links, a footer; about 80 KB, or --kib) as many times as fits in --seconds,
and the script prints the time per page and the ratio to each baseline in the same run:

- `checks.page.parse(main=True)`: what the privacy check runs (libxml2 via lxml's target);
- `checks.page.parse`: what liveness runs (no main text);
- stdlib `html.parser.HTMLParser` with empty handlers: a plain scan, the parser before 2026-12;
- `lxml.html.fromstring`: libxml2 building a whole tree, no Python per element;
- `BeautifulSoup(page, "html.parser")`: the usual way a Python program reads a page.

    .venv/bin/python tests/bench/page_parse.py [--kib 80] [--seconds 2]
"""

from __future__ import annotations

import argparse
import time
from html.parser import HTMLParser

import lxml.html
from bs4 import BeautifulSoup

from checks import page as pages


def policy_page(kib: int) -> bytes:
    head = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Privacy policy</title>"
        '<link rel=stylesheet href="/s.css"><script src="/app.js"></script></head><body>'
        '<div id="cookie-banner">We use cookies. <a href="/cookies">Settings</a></div>'
        '<header class="site-header"><nav><ul>'
        + "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(30))
        + "</ul></nav></header><main><h1>Privacy policy</h1>"
    )
    paragraph = (
        "<h2>How we use your data</h2><p>We keep the personal data you give us &amp; the notes"
        ' you write in the app safe. See <a href="/terms#data">our terms</a> and'
        " <strong>never</strong> sell it to advertisers or share it without asking you.</p>"
        "<ul><li>Your mood diary stays on your phone.</li><li>Backups are encrypted.</li></ul>"
    )
    foot = "</main><footer>© 2026 Example Charity · <a href='/privacy'>Privacy</a></footer>"
    body = head
    while len(body) < kib * 1024:
        body += paragraph
    return (body + foot + "</body></html>").encode()


class _Scan(HTMLParser):
    pass


def stdlib_scan(body: bytes) -> None:
    scan = _Scan(convert_charrefs=True)
    scan.feed(body.decode())
    scan.close()


def timed(fn, body: bytes, seconds: float) -> float:
    """Return the best of five mean times per call, each over a fifth of the time given."""
    fn(body)
    best = float("inf")
    for _ in range(5):
        n, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / 5:
            fn(body)
            n += 1
        best = min(best, elapsed / n)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kib", type=int, default=80)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    body = policy_page(args.kib)
    url = "https://site.example/privacy"
    runs = {
        "checks.page.parse(main=True)": lambda b: pages.parse(b, url, "text/html", main=True),
        "checks.page.parse": lambda b: pages.parse(b, url, "text/html"),
        "html.parser, empty handlers": stdlib_scan,
        "lxml.html.fromstring": lxml.html.fromstring,
        "BeautifulSoup html.parser": lambda b: BeautifulSoup(b, "html.parser"),
    }
    times = {name: timed(fn, body, args.seconds) for name, fn in runs.items()}
    ours = times["checks.page.parse(main=True)"]
    print(f"page: {len(body) / 1024:.0f} KiB, {body.count(b'<')} tags")
    print(f"{'parser':32} {'ms/page':>8} {'MB/s':>6} {'main=True ÷ this':>17}")
    for name, t in times.items():
        print(f"{name:32} {t * 1000:8.2f} {len(body) / t / 1e6:6.1f} {ours / t:17.2f}")


if __name__ == "__main__":
    main()
