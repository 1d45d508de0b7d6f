"""Privacy policy: found in any common wording or language, and its target must answer."""

import pytest

from checks import check_url


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
