"""The review rubric: what a reviewer answers about a resource for people with SMI."""

from dataclasses import dataclass

ANSWERS: dict[str, str] = {
    "yes": "Yes",
    "no": "No",
    "unclear": "Unclear",
    "na": "Not applicable",
}


@dataclass(frozen=True)
class Item:
    """One question of the rubric."""

    key: str
    group: str
    question: str
    # Which part of the latest check result informs this item, shown beside it.
    informed_by: str | None = None
    forums_only: bool = False


ITEMS: tuple[Item, ...] = (
    Item("provider_known", "Who is behind it",
         "Is it clear who provides it and how it is funded?"),
    Item("no_conflict", "Who is behind it",
         "Is it free of commercial interests that could bias what it says (such as selling "
         "treatments)?"),
    Item("privacy_policy", "Privacy and data",
         "Is there a privacy policy, and is it readable by the people who will use it?", "privacy"),
    Item("no_data_selling", "Privacy and data",
         "Does it avoid selling or sharing personal data with third parties for advertising?"),
    Item("secure_connection", "Security",
         "Is it served over a secure connection (HTTPS) with a valid certificate?", "https"),
    Item("evidence", "Evidence",
         "Is there evidence it helps: user feedback, or a published study? Say which in the note."),
    Item("free_to_use", "Cost and access",
         "Can people use it free of charge, with no hidden costs?"),
    Item("works_offline", "Cost and access", "Does it work offline or with little mobile data?"),
    Item("no_smartphone_needed", "Cost and access",
         "Can it be used without a smartphone (on a computer, by phone, or on paper)?"),
    Item("moderated", "Forums", "Is the forum moderated, and are posts checked for risk?",
         forums_only=True),
    Item("professionals_take_part", "Forums", "Do trained professionals take part in the forum?",
         forums_only=True),
    Item("crisis_signposting", "Safety",
         "Does it tell people clearly where to get help in a crisis?"),
    Item("usable", "Usability and accessibility",
         "Is it easy to use, including for people with low literacy, sight or concentration?"),
    Item("up_to_date", "Upkeep",
         "Has it been updated in the last year, and is it online now?", "liveness"),
    Item("fits_care", "Fit with care",
         "Does it fit alongside face-to-face care rather than replacing it?"),
)  # fmt: skip

BY_KEY: dict[str, Item] = {item.key: item for item in ITEMS}


class RubricError(ValueError):
    """A rubric answer that is missing or not one of ANSWERS."""


def validate(answers: dict[str, dict[str, str]], *, is_forum: bool) -> dict[str, dict[str, str]]:
    """Return the rubric with every item answered; raise RubricError naming those that are not."""
    clean: dict[str, dict[str, str]] = {}
    missing: list[str] = []
    for item in ITEMS:
        given = answers.get(item.key) or {}
        answer = (given.get("answer") or "").strip()
        if not answer and item.forums_only and not is_forum:
            answer = "na"
        if answer not in ANSWERS:
            missing.append(item.question)
            continue
        clean[item.key] = {"answer": answer, "note": (given.get("note") or "").strip()[:2000]}
    if missing:
        raise RubricError("Answer every question of the rubric: " + "; ".join(missing))
    return clean
