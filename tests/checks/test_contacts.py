"""Crisis numbers: each number an entry gives is looked for on its page, however it is written."""

import pytest

from checks import Target, check_target, contacts

HELPLINE = "helpline.test"


def _helpline(web, body: str) -> str:
    web.healthy(HELPLINE, home=f'<title>Helpline</title>{body}<a href="/privacy">Privacy</a>')
    return f"http://{HELPLINE}/"


def _contacts(web, settings, body: str, *numbers: str):
    report = check_target(Target(_helpline(web, body), phone_numbers=numbers), settings=settings)
    return report, [(c.number, c.status) for c in report.contacts]


@pytest.mark.parametrize(
    "written",
    [
        "0800 068 4141",
        "0800-068-4141",
        "(0800) 068 4141",
        "08000684141",
        "+44 800 068 4141",
        "+44 (0)800 068 4141",
        "0044 800 068 4141",
        "0800\u00a0068\u00a04141",
        "0800.068.4141",
    ],
)
def test_a_helpline_number_is_found_in_any_common_spelling(web, settings, written):
    report, found = _contacts(web, settings, f"<p>Call us free on {written}.</p>", "0800 068 4141")
    assert found == [("0800 068 4141", "found")]
    assert report.verdict == "pass"


def test_a_number_given_only_as_a_tel_or_sms_link_is_found(web, settings):
    body = (
        '<a href="tel:+441161234567">Call the crisis team</a>'
        '<a href="sms:85258?body=SHOUT">Text SHOUT</a><a href="tel:116%20123">Call</a>'
    )
    _, found = _contacts(web, settings, body, "0116 123 4567", "text 85258", "116 123")
    assert found == [("0116 123 4567", "found"), ("text 85258", "found"), ("116 123", "found")]


def test_a_changed_number_is_missing_and_fails_the_check(web, settings):
    report, found = _contacts(
        web, settings, "<p>Call 0800 111 2222 or text SHOUT to 85258.</p>", "0800 068 4141",
        "text 85258",
    )  # fmt: skip
    assert found == [("0800 068 4141", "missing"), ("text 85258", "found")]
    assert report.contacts[0].detail == "the number is no longer on the entry's page"
    assert report.verdict == "fail"
    assert report.to_dict()["contacts"][0] == {
        "number": "0800 068 4141",
        "status": "missing",
        "detail": "the number is no longer on the entry's page",
    }


def test_a_short_number_inside_a_longer_one_is_not_taken_for_it(web, settings):
    # Leicester's 0116 123 4567 holds the digits of Samaritans' 116 123; 0116 123 is a prefix.
    body = "<p>Our office: 0116 123 4567. Reference 116-1234.</p>"
    _, found = _contacts(web, settings, body, "116 123")
    assert found == [("116 123", "missing")]


def test_numbers_are_not_checked_when_the_page_cannot_be_read(web, settings):
    web.host("gone.test")  # the name exists; nothing answers
    target = Target("https://gone.test/", phone_numbers=("116 123",))
    report = check_target(target, settings=settings)
    assert [(c.number, c.status) for c in report.contacts] == [("116 123", "not_checked")]
    assert report.contacts[0].detail == "the page is unreachable"


@pytest.mark.parametrize(
    "given, kept",
    [
        ("116 123", "116 123"),
        ("116123", "116123"),
        ("  0800   068 4141 ", "0800 068 4141"),
        ("+448000684141", "0800 068 4141"),
        ("text 85258", "text 85258"),
        ("SMS: 85258", "text 85258"),
        ("+1 800 950 6264", "+1 800-950-6264"),
        ("+1 988", "+1 988"),
        ("999", "999"),
    ],
)
def test_numbers_are_kept_in_one_readable_form(given, kept):
    assert contacts.normalise([given]) == [kept]


def test_the_same_number_written_twice_is_kept_once():
    assert contacts.normalise(["0800 068 4141", "08000684141", "", "116 123"]) == [
        "0800 068 4141",
        "116 123",
    ]


@pytest.mark.parametrize(
    "given, says",
    [
        ("call us", "is not a phone number"),
        ("0800 SHOUT", "is not a phone number"),
        ("12", "is not a UK number that can be dialled"),
        ("988", "is not a UK number that can be dialled"),
        ("+1 555", r"is not a number for country code \+1"),
    ],
)
def test_a_number_that_cannot_be_dialled_is_refused_with_what_to_write(given, says):
    with pytest.raises(contacts.NumberError, match=says):
        contacts.normalise([given])
