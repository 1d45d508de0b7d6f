"""Random input for the parts that take input from people and the web: only documented errors."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlmodel import Session

from checks import page as pages
from checks import privacy
from registry.catalogue import facets, ranking
from registry.catalogue.search import Filters
from registry.db import get_engine
from registry.entries.schemas import InvalidURL, ResourceCreate, clean_url, url_key
from registry.exchange import services as exchange
from registry.exchange.seed import parse_csv

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

url_like = st.one_of(
    st.text(max_size=80),
    st.builds(lambda scheme, host, rest: f"{scheme}://{host}{rest}",
              st.sampled_from(["http", "https", "HTTP", "ftp", "javascript", ""]),
              st.text(alphabet="abcXYZ.-:@[]0123456789%", max_size=30),
              st.text(max_size=30)),
)  # fmt: skip


@FUZZ
@given(url_like)
def test_the_url_validator_accepts_or_refuses_with_a_reason(text):
    try:
        cleaned = clean_url(text)
    except InvalidURL as refused:
        assert str(refused)
        return
    assert cleaned.startswith(("http://", "https://"))
    assert clean_url(cleaned) == cleaned  # cleaning is idempotent
    assert url_key(cleaned) == url_key(clean_url(cleaned)) and "#" not in cleaned


@FUZZ
@given(st.dictionaries(st.sampled_from(["name", "url", "kind", "conditions", "languages", "works_offline",
                                        "cost", "moderation", "platforms", "audience"]),
                       st.one_of(st.text(max_size=40), st.none(), st.booleans(), st.integers())))  # fmt: skip
def test_an_entry_is_either_valid_or_refused_field_by_field(record):
    try:
        ResourceCreate.model_validate(record)
    except ValidationError as refused:
        assert refused.errors()


@FUZZ
@given(st.text(max_size=600))
def test_any_csv_text_gives_rows_or_named_errors(text):
    rows, errors = parse_csv(text)
    for error in errors:
        assert error.field and error.message
    for line, data in rows:
        assert line >= 2 and data.name


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(json_values)
def test_any_json_import_gives_rows_or_a_clear_error(value):
    text = json.dumps(value)
    for reader in (exchange.read_json, exchange.read_hsds):
        try:
            rows, errors = reader(text)
        except exchange.ExchangeError as refused:
            assert str(refused)
            continue
        for error in errors:
            assert error.message


@FUZZ
@given(st.text(max_size=200))
def test_any_search_text_runs_on_the_registry(app, text):
    engine = get_engine(app)
    with Session(engine) as session:
        tally = facets.tally(session, text, Filters())
        shown = ranking.page(session, tally, offset=0, limit=5)
        assert len(shown) == min(5, tally.counts["total"]["results"])


html_bits = st.lists(
    st.one_of(
        st.sampled_from(['<a href="/privacy">Privacy policy</a>', '<a href="datenschutz">Datenschutz</a>',
                         '<base href="http://other.example/x/">', '<a aria-label="Privacy notice" href="p">',
                         "<a title='confidentialité' href='/c'>", "<meta charset='latin-1'>", "</a>", "<a",
                         "<script>", "<!--", "&#x0;", "\x00", "<a href='javascript:alert(1)'>privacy</a>"]),
        st.text(max_size=30),
    ),
    max_size=25,
)  # fmt: skip


@FUZZ
@given(
    html_bits,
    st.sampled_from(["text/html", "text/html; charset=utf-8", "text/html; charset=bogus", ""]),
)
def test_the_privacy_link_finder_copes_with_any_html(bits, content_type):
    body = "".join(bits).encode("utf-8", "surrogatepass")
    page = pages.parse(body, "https://site.example.org/a/page", content_type)
    for link in privacy.candidates(page):
        assert link.href
