"""One guard for every next/back redirect: nothing, in any spelling, leads off the site.

The property test resolves what the guard lets through as a browser would (WHATWG URL parsing:
tabs and newlines dropped, a backslash read as a slash), in every percent-decoded and
compatibility-folded spelling, and checks that it stays on the registry's origin. The HTTP tests
show that the handout and sign-in both redirect through it.
"""

import unicodedata
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.security import safe_target
from tests.conftest import PASSWORD

BASE = "https://registry.test/handout"
DEFAULT = "/default"

HOSTILE = [
    "//evil.example/", "///evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example",
    "/%2F/evil.example", "%2F%2Fevil.example", "/%2f%2fevil.example", "/%5Cevil.example",
    "/%5cevil.example", "/%252F%252Fevil.example", "/%25252F/evil.example",
    "https://evil.example/", "http:evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "evil.example", "./evil", "",
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", " //evil.example",
    "/%09/evil.example", "/%0A/evil.example", "/%00/evil.example", "/ /evil.example",
    "/\uff0fevil.example", "/%EF%BC%8Fevil.example", "/\uff3cevil.example", "/\u200b/evil.example",
    "/../evil.example", "/%2e%2e//evil.example", "/x/../..//evil.example", "/%FF", "/" * 3000,
]  # fmt: skip
KEPT = ["/", "/resources/3?", "/?q=mood+diary&kind=app&show=all", "/handout", "/?q=caf%C3%A9",
        "/resources/3?q=%2Fdepot", "/@people"]  # fmt: skip


def browser_resolves(target: str) -> tuple[str, str]:
    """Return the (scheme, host) a browser on BASE goes to for target as a Location."""
    text = target.strip("".join(chr(c) for c in range(0x21)))
    text = text.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    parts = urlsplit(urljoin(BASE, text))
    return parts.scheme, parts.netloc


def spellings(target: str) -> list[str]:
    """Return target, each percent-decoding of it, and their compatibility foldings."""
    found = [target]
    for _ in range(4):
        found.append(unquote(found[-1]))
    return found + [unicodedata.normalize("NFKC", s) for s in found]


PIECES = st.sampled_from([
    "/", "//", "\\", "%2F", "%2f", "%5C", "%5c", "%25", "%252F", "%09", "%0a", "%0D", "%00",
    "%2e", ".", "..", ":", "@", "?", "#", "http:", "https://", "javascript:", "evil.example",
    "a", "\t", "\n", "\r", " ", "\x00", "\x7f", "\u3000", "\uff0f", "\uff3c", "%EF%BC%8F",
    "\u200b", "%E2%80%8B", "%C0%AF",
])  # fmt: skip
TARGETS = st.one_of(
    st.lists(PIECES, max_size=8).map("".join),
    st.lists(PIECES, max_size=8).map(lambda parts: "/" + "".join(parts)),
    st.text(max_size=20),
)


@settings(max_examples=1000, deadline=None)
@given(TARGETS)
def test_no_target_the_guard_lets_through_leaves_the_origin(target):
    chosen = safe_target(target, default=DEFAULT)
    assert chosen in (target, DEFAULT)
    for spelling in spellings(chosen):
        assert browser_resolves(spelling) == ("https", "registry.test"), (target, spelling)


@pytest.mark.parametrize("target", HOSTILE)
def test_every_spelling_of_another_origin_is_refused(target):
    assert safe_target(target, default=DEFAULT) == DEFAULT


@pytest.mark.parametrize("target", KEPT)
def test_a_path_on_this_site_is_kept(target):
    assert safe_target(target, default=DEFAULT) == target


ATTACKS = ["//evil.example/", "/\\evil.example", "/%2F%2Fevil.example", "/%5Cevil.example",
           "https://evil.example/", "/\t/evil.example"]  # fmt: skip


@pytest.mark.parametrize("target", ATTACKS)
def test_the_handout_goes_back_only_to_a_page_of_this_site(reviewed, web, target):
    entry_page = web.get("/?q=mood").get_data(as_text=True)
    resource_id = entry_page.split('name="resource_id" value="', 1)[1].split('"', 1)[0]

    refused = web.post("/handout/add", {"resource_id": resource_id, "back": target}, page="/")
    kept = web.post("/handout/remove", {"resource_id": resource_id, "back": "/?q=mood"}, page="/")

    assert refused.status_code == kept.status_code == 302
    assert refused.headers["Location"] == "/handout"
    assert kept.headers["Location"] == "/?q=mood"


@pytest.mark.parametrize("target", ATTACKS)
def test_signing_in_goes_on_only_to_a_page_of_this_site(app, people, web, target):
    signed_in = web.post(
        "/sign-in", {"email": "reviewer@example.org", "password": PASSWORD, "next": target}
    )
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/"

    # Already signed in, the sign-in page sends people on at once: through the same guard.
    assert web.get("/sign-in", query_string={"next": target}).headers["Location"] == "/"
    assert web.get("/sign-in?next=/handout").headers["Location"] == "/handout"
