"""Privacy policy: found in any common wording or language, and its target must answer."""

import time

import pytest
from urllib3 import HTTPHeaderDict

from checks import check_url
from checks import privacy as policy
from checks.fetch import Response
from checks.net import Deadline


def _site(web, name, home, **routes):
    _, secure = web.healthy(name, home=home)
    for path, page in routes.items():
        secure.routes[path] = page
    return secure


@pytest.mark.parametrize(
    "link",
    [
        '<a href="/p">Privacy policy</a>',
        '<a href="/p">Privacy &amp; Cookies</a>',
        '<a href="/p">Privacy notice</a>',
        '<a href="/p">Data protection</a>',
        '<a href="/p">Datenschutzerklärung</a>',
        '<a href="/p">Politique de confidentialité</a>',
        '<a href="/p">Política de privacidad</a>',
        '<a href="/p">Informativa sulla privacy</a>',
        '<a href="/p">Privacyverklaring</a>',
        '<a href="/p">Polityka prywatności</a>',
        '<a href="/p" aria-label="Privacy policy"><svg><path d="M0"/></svg></a>',
        '<a href="/p" title="Read our privacy statement"><img src="lock.png"></a>',
        '<a href="/p"><img src="x.png" alt="Privacy"></a>',
        '<link rel="privacy-policy" href="/p">',
    ],
)
def test_policy_link_is_found_in_any_common_wording(web, settings, link):
    _site(
        web,
        "words.test",
        f"<title>Home</title><footer>{link}</footer>",
        **{"/p": web.page(body="policy")},
    )
    report = check_url("https://words.test/", settings=settings)
    assert report.privacy.status == "found", report.privacy
    assert report.privacy.policy_url == "https://words.test/p"


def test_policy_found_by_its_address_when_the_text_says_nothing(web, settings):
    home = '<a href="/legal/politique-de-confidentialite">En savoir plus</a><a href="/x">Blog</a>'
    page = web.page(body="la politique")
    _site(web, "url.test", home, **{"/legal/politique-de-confidentialite": page})
    report = check_url("https://url.test/", settings=settings)
    assert report.privacy.policy_url == "https://url.test/legal/politique-de-confidentialite"


def test_relative_policy_link_is_resolved_against_base(web, settings):
    home = '<head><base href="/fr/"></head><a href="confidentialite.html">Confidentialité</a>'
    secure = _site(web, "base.test", home, **{"/fr/confidentialite.html": web.page(body="ok")})
    report = check_url("https://base.test/", settings=settings)
    assert report.privacy.status == "found"
    assert report.privacy.policy_url == "https://base.test/fr/confidentialite.html"
    assert "/confidentialite.html" not in secure.requests


def test_page_declared_in_latin_1_is_read_in_its_encoding(web, settings):
    body = '<meta charset="iso-8859-1"><a href="/ds">Datenschutzerklärung</a>'.encode("latin-1")
    _site(web, "latin.test", "", **{"/ds": web.page(body="Datenschutz")})
    secure = web.sites[-2]
    secure.routes["/"] = web.page(body=body, content_type="text/html")
    report = check_url("https://latin.test/", settings=settings)
    assert report.privacy.policy_url == "https://latin.test/ds"


def test_page_in_windows_1250_without_declaration_is_sniffed(web, settings):
    text = "<p>Zásady ochrany osobních údajů a další informace o službě.</p>" * 5
    body = (text + '<a href="/z">Ochrana osobních údajů</a>').encode("cp1250")
    _site(web, "czech.test", "", **{"/z": web.page(body="zásady")})
    web.sites[-2].routes["/"] = web.page(body=body, content_type="text/html")
    report = check_url("https://czech.test/", settings=settings)
    assert report.privacy.policy_url == "https://czech.test/z"


def test_policy_linked_only_from_the_home_page_is_found(web, settings):
    secure = _site(web, "deep.test", '<a href="/privacy">Privacy</a>')
    secure.routes["/apps/moodapp"] = web.page(body="<title>MoodApp</title><p>An app.</p>")
    report = check_url("https://deep.test/apps/moodapp", settings=settings)
    assert report.privacy.status == "found"
    assert report.privacy.policy_url == "https://deep.test/privacy"
    assert "home page" in report.privacy.detail


def test_policy_in_a_pdf_counts(web, settings):
    pdf = web.page(body=b"%PDF-1.4 privacy policy", content_type="application/pdf")
    _site(web, "pdf.test", '<a href="/policy.pdf">Privacy Policy (PDF)</a>', **{"/policy.pdf": pdf})
    report = check_url("https://pdf.test/", settings=settings)
    assert report.privacy.status == "found"
    assert report.verdict == "pass"


def test_dead_policy_link_is_unreachable_and_warns(web, settings):
    _site(web, "deadlink.test", '<a href="/gone">Privacy policy</a>')
    report = check_url("https://deadlink.test/", settings=settings)
    assert report.privacy.status == "unreachable"
    assert report.privacy.policy_url == "https://deadlink.test/gone"
    assert "404" in report.privacy.detail
    assert report.verdict == "warn"


def test_site_without_a_policy_link_is_missing_and_warns(web, settings):
    _site(web, "nopolicy.test", '<a href="/about">About us</a><a href="/cookies">Cookies</a>')
    report = check_url("https://nopolicy.test/", settings=settings)
    assert report.privacy.status == "missing"
    assert report.privacy.policy_url is None
    assert report.privacy.fingerprint is None
    assert report.verdict == "warn"


def test_policy_is_not_checked_when_the_site_cannot_be_read(settings):
    report = check_url("http://127.0.0.1:9/", settings=settings)
    assert report.privacy.status == "not_checked"


def test_changed_policy_text_changes_the_fingerprint(web, settings):
    _, secure = web.healthy("changes.test", policy="<h1>Policy</h1><p>We keep data 1 year.</p>")
    first = check_url("http://changes.test/", settings=settings).privacy.fingerprint
    again = check_url("http://changes.test/", settings=settings).privacy.fingerprint
    secure.routes["/privacy"] = web.page(body="<h1>Policy</h1><p>We sell data.</p>")
    changed = check_url("http://changes.test/", settings=settings).privacy.fingerprint
    assert first == again
    assert changed != first


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_pages_are_read(web, settings, encoding):
    import zlib

    html = b'<title>Home</title><a href="/privacy">Privacy policy</a>' + b"<p>text</p>" * 500
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[encoding]
    comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = comp.compress(html) + comp.flush()
    header = "gzip" if encoding == "gzip" else "deflate"
    _site(web, "zipped.test", "")
    web.sites[-2].routes["/"] = web.page(body=body, headers={"Content-Encoding": header})
    report = check_url("https://zipped.test/", settings=settings)
    assert report.liveness.status == "up"
    assert report.privacy.policy_url == "https://zipped.test/privacy"


def _policy_page(
    *,
    body="<p>We keep your data for one year. We never sell it.</p>",
    year="2024",
    updated="3 March 2025",
    banner="",
    nav='<a href="/">Home</a><a href="/about">About us</a>',
    main=True,
) -> str:
    policy = f"<h1>Privacy policy</h1><p>Last updated: {updated}</p>{body}"
    return (
        "<!doctype html><html><head><title>Privacy policy | Mind</title></head><body>"
        f'<div class="cookie-banner">{banner}</div>'
        f'<header class="site-header"><nav class="navbar">{nav}</nav></header>'
        + (f"<main>{policy}</main>" if main else f'<div class="content">{policy}</div>')
        + f'<footer><p>© {year} Mind. Registered charity.</p><a href="/privacy">Privacy</a>'
        "</footer></body></html>"
    )


def _policy_check(web, settings, name, page: str, path="/privacy"):
    secure = web.sites[-2] if (name, 443) in web.names else web.healthy(name)[1]
    secure.routes[path] = web.page(body=page)
    return check_url(f"https://{name}/", settings=settings).privacy


@pytest.mark.parametrize("main", [True, False], ids=["in-main", "no-main"])
@pytest.mark.parametrize(
    "change",
    [
        {"year": "2026"},
        {"year": "2019-2026"},
        {"banner": "We use cookies to improve this site. <button>Accept all</button>"},
        {"nav": '<a href="/">Home</a><a href="/donate">Donate now</a><a href="/shop">Shop</a>'},
        {"updated": "14 January 2026"},
        {"updated": "03/04/2026"},
        {"updated": "2026-04-03"},
        {"updated": "April 2026"},
        {"updated": "Friday, 4th of April, 2026"},
        {"updated": "12. März 2026"},
    ],
    ids=lambda c: next(iter(c.values()))[:30],
)
def test_chrome_and_dates_around_a_policy_keep_its_fingerprint(web, settings, change, main):
    before = _policy_check(web, settings, "same.test", _policy_page(main=main))
    after = _policy_check(web, settings, "same.test", _policy_page(main=main, **change))
    assert before.status == after.status == "found"
    assert before.fingerprint is not None
    assert after.fingerprint == before.fingerprint
    assert after.text == before.text


@pytest.mark.parametrize("main", [True, False], ids=["in-main", "no-main"])
def test_a_changed_policy_sentence_changes_the_fingerprint(web, settings, main):
    first = _policy_check(web, settings, "sentence.test", _policy_page(main=main))
    added = "<p>We keep your data for one year. We share your data with advertisers.</p>"
    changed = _policy_check(web, settings, "sentence.test", _policy_page(main=main, body=added))
    assert changed.fingerprint != first.fingerprint
    assert "we share your data with advertisers." in changed.text.splitlines()


def test_policy_text_holds_the_policy_not_the_chrome_around_it(web, settings):
    page = _policy_page(banner="We use cookies. Accept?")
    privacy = _policy_check(web, settings, "text.test", page)
    assert privacy.text.splitlines() == [
        "privacy policy",
        "last updated:",
        "we keep your data for one year.",
        "we never sell it.",
    ]
    assert privacy.fingerprint == policy.fingerprint(privacy.text)


def test_a_cookie_policy_in_a_container_named_cookie_is_kept(web, settings):
    page = (
        '<body><div id="onetrust-banner-sdk">We use cookies. Accept all</div>'
        '<form id="aspnetForm"><ul class="menu"><li>Home<li>About</ul>'
        '<div class="privacy-policy cookie-policy" id="cookies"><h1>Cookie policy</h1>'
        "<p>We set a cookie to remember your choices.</p></div></form></body>"
    )
    privacy = _policy_check(web, settings, "cookiepolicy.test", page)
    assert privacy.text == "cookie policy\nwe set a cookie to remember your choices."


def test_the_largest_article_is_the_policy_when_there_is_no_main(web, settings):
    page = (
        "<body><aside><article><p>Read our new blog post about sleep and mood.</p></article>"
        "</aside><article><p>Our privacy policy.</p></article>"
        "<article><h1>Privacy</h1><p>We hold your name and email.</p></article></body>"
    )
    privacy = _policy_check(web, settings, "article.test", page)
    assert privacy.text == "privacy\nwe hold your name and email."


def test_a_page_that_is_its_own_policy_is_fingerprinted_by_its_main_text(web, settings):
    _, secure = web.healthy("self.test")
    secure.routes["/privacy"] = web.page(body=_policy_page())
    first = check_url("https://self.test/privacy", settings=settings).privacy
    secure.routes["/privacy"] = web.page(body=_policy_page(year="2031", nav="<a>Shop</a>"))
    again = check_url("https://self.test/privacy", settings=settings).privacy
    assert first.policy_url == "https://self.test/privacy"
    assert "we never sell it." in first.text.splitlines()
    assert again.fingerprint == first.fingerprint


def test_a_long_policy_keeps_capped_text_but_fingerprints_all_of_it(web, settings):
    long = "".join(f"<p>Clause {i}: we keep record {i} safe.</p>" for i in range(6000))
    first = _policy_check(web, settings, "long.test", _policy_page(body=long + "<p>The end.</p>"))
    changed = _policy_check(web, settings, "long.test", _policy_page(body=long + "<p>Sold.</p>"))
    assert len(first.text) <= policy.TEXT_KEPT < 6000 * 30
    assert first.text == changed.text
    assert changed.fingerprint != first.fingerprint


@pytest.mark.parametrize("where", ["linked", "the page itself"])
def test_a_policy_cut_at_the_body_cap_is_not_compared(web, settings, where):
    capped = settings.with_(max_body_bytes=4000)
    big = _policy_page(body="<p>We keep your data safe.</p>" * 400)
    _, secure = web.healthy("cut.test")
    secure.routes["/privacy"] = web.page(body=big)
    url = "https://cut.test/" + ("privacy" if where == "the page itself" else "")
    privacy = check_url(url, settings=capped).privacy
    assert privacy.status == "found"
    assert privacy.policy_url == "https://cut.test/privacy"
    assert privacy.fingerprint is None
    assert privacy.text is None
    assert "could not be read whole" in privacy.detail
    assert "not compared" in privacy.detail


def test_a_policy_still_arriving_at_the_deadline_is_not_compared(web, settings):
    def trickle(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        try:
            for _ in range(40):
                h.wfile.write(b"<p>x</p>")
                time.sleep(0.25)
        except OSError:
            pass  # the checker gave up, as it should

    _, secure = web.healthy("trickle.test")
    secure.routes["/privacy"] = trickle
    started = time.monotonic()
    privacy = check_url("https://trickle.test/", settings=settings.with_(deadline=2.0)).privacy
    assert time.monotonic() - started < 4
    assert privacy.status == "not_checked"  # out of time: not evidence that the link is dead
    assert privacy.policy_url == "https://trickle.test/privacy"
    assert privacy.fingerprint is None and privacy.text is None
    assert "deadline" in privacy.detail and "not compared" in privacy.detail


def test_a_policy_page_whose_parsing_the_deadline_stops_is_not_fingerprinted():
    html = HTTPHeaderDict({"Content-Type": "text/html"})
    resp = Response("https://x.test/privacy", 200, html, b"<main>Policy</main>")
    assert policy.read_policy(resp, Deadline(-1)) == (
        None,
        None,
        "it could not be parsed whole before the check's deadline",
    )


def test_a_pdf_policy_is_fingerprinted_by_its_bytes_unless_cut(web, settings):
    pdf = web.page(body=b"%PDF-1.4 " + b"privacy " * 1000, content_type="application/pdf")
    _site(web, "pdfcut.test", '<a href="/p.pdf">Privacy Policy (PDF)</a>', **{"/p.pdf": pdf})
    whole = check_url("https://pdfcut.test/", settings=settings).privacy
    cut = check_url("https://pdfcut.test/", settings=settings.with_(max_body_bytes=4000)).privacy
    assert whole.fingerprint is not None and whole.text is None
    assert cut.status == "found" and cut.fingerprint is None and cut.text is None


@pytest.mark.parametrize(
    "dated",
    [
        "© 2024 Mind",
        "Copyright 2019-2026 Mind",
        "Copyright 2019–26 Mind",
        "Last updated: 3 March 2025",
        "Updated 03/04/2025",
        "Updated 2025-03-04",
        "Updated 2025-03-04T10:00:00Z",
        "Updated March 2025",
        "Updated 4th March 2025",
        "Updated March 4, 2025",
        "Updated 3 May 2025",
        "Mis à jour le 1er mars 2025",
        "Actualizado el 4 de marzo de 2025",
        "Bijgewerkt 4 maart 2025",
    ],
)
def test_normalising_takes_dates_and_years_out(dated):
    assert policy.normalise(dated) == policy.normalise(dated.replace("5", "6").replace("4", "7"))
    assert not any(c.isdigit() for c in policy.normalise(dated))


def test_normalising_keeps_numbers_that_are_not_dates():
    text = "Clause 4 may apply. Regulation (EU) 2016/679 applies. Version 2.1.15. Call 116 123."
    assert policy.normalise(text) == (
        "clause 4 may apply.\nregulation (eu) 2016/679 applies.\nversion 2.1.15.\ncall 116 123."
    )


def test_normalising_folds_case_width_and_whitespace():
    assert (
        policy.normalise("We  SHARE\u00a0data.\n\n  Ｗｉｔｈ ａｄｓ!  ")
        == "we share data.\nwith ads!"
    )


def test_a_policy_made_harder_to_read_has_a_lower_reading_ease(web, settings):
    plain = _policy_page(
        body="<p>We keep your name. We do not sell it. You can ask us to delete it.</p>" * 2
    )
    hard = _policy_page(
        body="<p>Notwithstanding the aforementioned provisions, personally identifiable information "
        "may additionally be processed by affiliated organisations in accordance with applicable "
        "legislative requirements, contractual obligations and legitimate institutional interests."
        "</p>"
    )
    easy = _policy_check(web, settings, "readable.test", plain)
    harder = _policy_check(web, settings, "readable.test", hard)
    assert easy.reading_ease is not None and harder.reading_ease is not None
    assert harder.reading_ease < easy.reading_ease
    assert easy.reading_ease == round(easy.reading_ease, 1)


def test_reading_ease_is_in_the_report_of_a_policy_read_whole(web, settings):
    _, secure = web.healthy("ease.test")
    words = "<p>We keep your name and address safe. We do not sell them. Ask us to delete them.</p>"
    secure.routes["/privacy"] = web.page(body=_policy_page(body=words * 2))
    report = check_url("https://ease.test/", settings=settings).to_dict()
    assert isinstance(report["privacy"]["reading_ease"], float)


def test_reading_ease_is_unknown_for_a_pdf_or_a_policy_not_read_whole(web, settings):
    pdf = web.page(body=b"%PDF-1.4 privacy policy", content_type="application/pdf")
    _site(web, "easepdf.test", '<a href="/p.pdf">Privacy Policy (PDF)</a>', **{"/p.pdf": pdf})
    assert check_url("https://easepdf.test/", settings=settings).privacy.reading_ease is None
    _, secure = web.healthy("easecut.test")
    secure.routes["/privacy"] = web.page(body=_policy_page(body="<p>We keep it safe.</p>" * 400))
    cut = check_url("https://easecut.test/", settings=settings.with_(max_body_bytes=4000)).privacy
    assert cut.status == "found" and cut.reading_ease is None
