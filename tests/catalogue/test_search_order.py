"""The order of results: an exact name, then names with every word, then relevance or A to Z."""

import pytest
from bs4 import BeautifulSoup

from registry.catalogue import ranking
from registry.entries.schemas import ResourceCreate
from registry.entries.services import create_resource
from tests.conftest import BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

NAMES = ["Zebra Sleep", "sleep", "Éclair Sleep Diary", "écoute sleep", "Apple Sleep",
         "Night Owl", "Quiet Nights"]  # fmt: skip


def _recommended(session, name: str, url: str, kind: str = "app", **fields) -> None:
    """Add an entry already recommended, so the public catalogue shows it (commit is the caller's)."""
    entry = create_resource(
        session,
        data=ResourceCreate(name=name, url=url, kind=kind, **fields),
        actor_label="test",
    )
    entry.state = "recommended"


@pytest.fixture
def sleepy(app, session):
    for n, name in enumerate(NAMES):
        _recommended(session, name, f"https://s{n}.example.org/",
                     description="Helps with sleep." if "Night" in name else None)  # fmt: skip
    session.commit()
    return app


def _names(client, url: str) -> list[str]:
    soup = BeautifulSoup(client.get(url).data, "html.parser")
    return [a.get_text(strip=True) for a in soup.select(".registry-result .nhsuk-card__link")]


def test_names_sort_a_to_z_ignoring_case_and_the_same_on_every_database(sleepy):
    # Python's lower-case and code-point order, whatever the database's collation.
    expected = sorted(NAMES, key=str.lower)
    assert [n for n in _names(sleepy.test_client(), "/") if n in NAMES] == expected


@pytest.mark.parametrize("ranked", [True, False], ids=["ranked", "too-many-to-rank"])
def test_an_exact_name_comes_first_then_names_with_the_word(sleepy, monkeypatch, ranked):
    if not ranked:  # as if the word matched more than RELEVANCE_LIMIT entries
        monkeypatch.setattr(ranking, "RELEVANCE_LIMIT", 0)
    found = _names(sleepy.test_client(), "/?q=sleep")
    assert found[0] == "sleep"
    in_name = [n for n in NAMES if "sleep" in n.lower() and n != "sleep"]
    assert sorted(found[1:5]) == sorted(in_name)
    assert set(found[5:]) == {"Night Owl", "Quiet Nights"}
    if not ranked:  # the name matches A to Z, then the rest A to Z
        assert found[1:5] == sorted(in_name, key=str.lower)
        assert found[5:] == ["Night Owl", "Quiet Nights"]


def test_after_the_names_a_word_counts_most_in_tags_then_provider_then_description(app, session):
    """Relevance, the same on every database: where the words are, not the names' A to Z."""
    entries = [  # named so that A to Z would give the opposite order
        ("Alder", {"description": "For people living with bipolar disorder."}),
        ("Birch", {"provider": "Bipolar UK"}),
        ("Cedar", {"conditions": ["bipolar"]}),
        ("Damson", {"conditions": ["bipolar"], "provider": "Bipolar UK"}),
        ("Elm", {"description": "A diary."}),
    ]
    for n, (name, fields) in enumerate(entries):
        _recommended(session, name, f"https://t{n}.example.org/", **fields)
    session.commit()
    assert _names(app.test_client(), "/?q=bipolar") == ["Damson", "Cedar", "Birch", "Alder"]
    # Every word typed must match, and each counts where it is found.
    assert _names(app.test_client(), "/?q=bipolar+uk") == ["Damson", "Birch"]


def test_a_filter_and_a_later_page_keep_the_order_of_the_words_alone(app, session):
    """The order is the words' own; a filter takes entries out of it and pages cut it."""
    made = []
    for n in range(9):  # relevance varies: the word in the name, a tag, the provider or the text
        fields = [{"description": "Mood diary."}, {"provider": "Mood Trust"},
                  {"conditions": ["bipolar"], "description": "A mood log."}][n % 3]  # fmt: skip
        name = f"{'Mood ' if n % 4 == 0 else ''}Tool {chr(ord('I') - n)}"
        kind = "app" if n % 2 else "website"
        _recommended(session, name, f"https://m{n}.example.org/", kind, **fields)
        made.append((name, kind))
    session.commit()
    app.config["REGISTRY_PAGE_SIZE"] = 2
    client = app.test_client()
    every = [n for page in range(1, 6) for n in _names(client, f"/?q=mood&page={page}")]
    assert sorted(every) == sorted(name for name, _ in made)
    assert set(every[:3]) == {n for n, _ in made if n.startswith("Mood")}  # names first
    apps = [n for page in (1, 2) for n in _names(client, f"/?q=mood&kind=app&page={page}")]
    assert apps == [n for n in every if dict(made)[n] == "app"]


def test_relevance_over_a_common_word_counts_the_best_place_of_each_word_typed(app, session):
    """Enough entries hold the words that the index keeps them as bitsets per weight (words.py).

    Each word typed scores, in each entry, the best place of a word beginning with it (name 10,
    kind and tags 4, provider 2, description 1, added up when a word is in several); the scores
    of the words typed add up, and the order is by score, then A to Z.
    """
    weights = {"name": 10, "labels": 4, "provider": 2, "description": 1}
    expected = []
    for n in range(90):
        fields = {
            "provider": ["Mood Trust", "Moodle Group", None][n % 3],
            "description": [
                "A moody diary.",
                "Mood and bipolar log.",
                "For bipolar disorder.",
                "Bipolar moods.",
                None,
            ][n % 5],  # fmt: skip
            "conditions": ["bipolar"] if n % 4 else [],
        }
        name = f"Tool {n:02d}"
        texts = {
            "name": name,
            "labels": " ".join(["app", *fields["conditions"]]),
            "provider": fields["provider"] or "",
            "description": fields["description"] or "",
        }
        score = 0
        for typed in ("moo", "bip"):
            held: dict[str, int] = {}
            for place, text in texts.items():
                for word in set(text.lower().replace(".", " ").split()):
                    held[word] = held.get(word, 0) + weights[place]
            score += max((w for word, w in held.items() if word.startswith(typed)), default=0)
        if all(any(w.startswith(t) for w in " ".join(texts.values()).lower().split())
               for t in ("moo", "bip")):  # fmt: skip
            expected.append((-score, name.lower(), name))
        _recommended(session, name, f"https://r{n}.example.org/", **fields)
    session.commit()
    app.config["REGISTRY_PAGE_SIZE"] = 100
    found = _names(app.test_client(), "/?q=moo+bip")
    assert len({score for score, *_ in expected}) >= 4  # the scores differ, not only the names
    assert found == [name for *_, name in sorted(expected)]
