"""The page parser (libxml2 through lxml): what the checks read off real and broken markup."""

import pytest

from checks import page as pages
from checks.net import Deadline

URL = "https://site.test/a/page"


def parse(html: str | bytes, content_type: str = "text/html", **kwargs) -> pages.Page:
    body = html.encode("utf-8") if isinstance(html, str) else html
    return pages.parse(body, URL, content_type, **kwargs)


def test_title_heading_links_and_text_are_read_with_references_decoded():
    page = parse(
        "<!doctype html><html><head><title>Mood &amp; Me</title>"
        '<link rel="privacy-policy" href="/legal/privacy"><link rel="stylesheet" href="/s.css">'
        "</head><body><h1>Track your <em>mood</em></h1><h1>Second</h1>"
        '<a href="/join?a=1&amp;b=2#top">Join&nbsp;us</a>'
        '<a href="privacy"><img alt="Privacy notice" src="p.png"></a>'
        '<a href="mailto:x@site.test">Mail</a><a href="javascript:void(0)">Menu</a>'
        '<a href="#top">Top</a><a href="ftp://site.test/f">File</a></body></html>'
    )
    assert page.title == "Mood & Me"
    assert page.h1 == "Track your mood"  # the first heading only
    assert [(link.href, link.text, link.rel) for link in page.links] == [
        ("https://site.test/legal/privacy", "", "privacy-policy"),
        ("https://site.test/join?a=1&b=2", "Join us", ""),
        ("https://site.test/a/privacy", "Privacy notice", ""),
    ]
    assert page.text == "Track your mood Second Join us Mail Menu Top File"  # alt text is not text
    assert page.complete


def test_scripts_styles_and_templates_are_not_text_even_when_they_hold_markup():
    page = parse(
        '<p>Shown</p><script>var s = "<p>hidden</p></div>";</script><style>p{}</style>'
        "<template><p>later</p></template><noscript>Turn on scripts</noscript><p>Also shown</p>"
    )
    assert page.text == "Shown Also shown"
    assert page.has_scripts


def test_unclosed_and_stray_tags_are_repaired_as_a_browser_would():
    # An <a> left open, a stray </div>, <p> closed by the next <p>, a <main> never closed.
    page = parse(
        '<nav><a href="/">Home</nav></div><main><h1>Privacy policy<p>We keep data safe.'
        '<p>We never sell it.<a href="/contact">Contact us</a><p>Ask us anything.'
    )
    assert [link.text for link in page.links] == ["Home", "Contact us"]
    assert page.h1 == "Privacy policy"
    main = parse(page.html, main=True).main_text
    assert [line for line in main.split("\n") if line] == [
        "Privacy policy",
        "We keep data safe.",
        "We never sell it.Contact us",
        "Ask us anything.",
    ]


def test_the_http_charset_wins_over_a_meta_tag_and_the_page_is_decoded_once():
    body = '<meta charset="windows-1252"><title>Café Zoë</title><p>Ünïcode</p>'.encode()
    page = parse(body, "text/html; charset=utf-8")
    assert page.title == "Café Zoë" and page.text == "Ünïcode"


def test_a_meta_charset_is_honoured_when_http_says_none():
    body = '<meta charset="windows-1252"><title>Café</title>'.encode("cp1252")
    assert parse(body, "text/html").title == "Café"


def test_a_refresh_and_a_base_are_read():
    page = parse(
        '<base href="https://cdn.site.test/b/"><meta http-equiv="Refresh" content="0; URL=next">'
        '<a href="p">P</a>'
    )
    assert page.base == "https://cdn.site.test/b/"
    assert page.refresh_url == "https://cdn.site.test/b/next"
    assert page.links[0].href == "https://cdn.site.test/b/p"


@pytest.mark.parametrize(
    "body", [b"", b"   ", b"<!-- only a comment -->", b'<?xml version="1.0"?>']
)
def test_an_empty_or_contentless_page_is_read_whole_with_nothing_in_it(body):
    page = parse(body)
    assert page.complete
    assert page.title == page.text == "" and page.links == []


def test_markup_built_to_be_hard_to_parse_is_read_without_failing():
    deep = "<div>" * 200_000 + "<h1>Deep</h1>" + "</div>" * 200_000
    page = parse(deep, main=True)
    assert page.text.startswith("Deep") or page.complete is False
    huge_attribute = '<a href="/privacy" title="' + "x" * 2_000_000 + '">Privacy</a>'
    assert [link.text for link in parse(huge_attribute).links] == ["Privacy"]
    many_links = "".join(f'<a href="/p{i}">{i}</a>' for i in range(50_000))
    assert len(parse(many_links).links) == 50_000


def test_a_page_whose_deadline_has_passed_is_not_read_whole():
    page = parse("<p>text</p>" * 20_000, deadline=Deadline(-1))
    assert not page.complete


def test_main_text_prefers_main_then_the_largest_article_then_the_body_without_chrome():
    assert parse(
        "<header>Site</header><main><p>Policy</p></main><footer>Foot</footer>", main=True
    ).main_text.split() == ["Policy"]
    articles = "<article><p>Teaser</p></article><article><p>The whole policy text</p></article>"
    assert parse(articles, main=True).main_text.split() == ["The", "whole", "policy", "text"]
    body = '<div id="cookie-banner">Cookies</div><nav>Menu</nav><div><p>Policy body</p></div>'
    assert parse(body, main=True).main_text.split() == ["Policy", "body"]


def test_nothing_of_one_page_carries_over_to_the_next_read_on_the_same_thread():
    parse('<title>Left open<a href="/first">First', main=True)
    parse("<main><p>" * 50 + "unfinished", deadline=Deadline(-1))
    page = parse('<p>Second page <a href="/second">link</a></p>', main=True)
    assert page.title == "" and page.h1 == ""
    assert [link.href for link in page.links] == ["https://site.test/second"]
    assert page.text == "Second page link" and page.main_text.split() == page.text.split()
    assert page.complete


def test_pages_parsed_on_many_threads_at_once_each_come_out_whole():
    from concurrent.futures import ThreadPoolExecutor

    def read(i: int) -> tuple[str, list[str]]:
        page = parse(f"<title>Page {i}</title>" + f'<p><a href="/p{i}">{i}</a></p>' * 500)
        return page.title, sorted({link.href for link in page.links})

    with ThreadPoolExecutor(8) as pool:
        for i, (title, hrefs) in enumerate(pool.map(read, range(64))):
            assert (title, hrefs) == (f"Page {i}", [f"https://site.test/p{i}"])
