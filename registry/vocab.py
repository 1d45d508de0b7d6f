"""The registry's controlled vocabularies: the values a field may take, and their labels."""

from enum import StrEnum


class Kind(StrEnum):
    APP = "app"
    FORUM = "forum"
    WEBSITE = "website"
    HELPLINE = "helpline"
    OTHER = "other"


class Condition(StrEnum):
    PSYCHOSIS = "psychosis"
    BIPOLAR = "bipolar"
    SCHIZOPHRENIA = "schizophrenia"
    SMI = "smi"


class Audience(StrEnum):
    PEOPLE_WITH_SMI = "people-with-smi"
    CARERS = "carers"


class Cost(StrEnum):
    FREE = "free"
    FREEMIUM = "freemium"
    PAID = "paid"


class Platform(StrEnum):
    WEB = "web"
    IOS = "ios"
    ANDROID = "android"


class Moderation(StrEnum):
    PROFESSIONAL = "professional"
    PEER = "peer"
    NONE = "none"
    UNKNOWN = "unknown"


class State(StrEnum):
    SUGGESTED = "suggested"
    IN_REVIEW = "in_review"
    RECOMMENDED = "recommended"
    RECOMMENDED_WITH_CAUTIONS = "recommended_with_cautions"
    NOT_RECOMMENDED = "not_recommended"
    NEEDS_REREVIEW = "needs_rereview"
    RETIRED = "retired"


class Decision(StrEnum):
    RECOMMENDED = "recommended"
    RECOMMENDED_WITH_CAUTIONS = "recommended_with_cautions"
    NOT_RECOMMENDED = "not_recommended"


class Stage(StrEnum):
    """Which step of a decision a review row records (registry/review/panel.py)."""

    DECISION = "decision"  # one reviewer's decision: it stands
    PROPOSAL = "proposal"  # a first reviewer's, waiting for a second
    CONFIRMATION = "confirmation"  # a second reviewer agreed: it stands
    DISAGREEMENT = "disagreement"  # a second reviewer would decide otherwise: a third settles
    SETTLEMENT = "settlement"  # the third reviewer's decision: it stands
    WITHDRAWN = "withdrawn"  # the proposal was withdrawn, or its entry retired


# The stages whose decision stands, until a later one replaces it.
STANDING_STAGES = frozenset(
    {Stage.DECISION.value, Stage.CONFIRMATION.value, Stage.SETTLEMENT.value}
)


class Role(StrEnum):
    CLINICIAN = "clinician"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class ReportStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class Trigger(StrEnum):
    """What started a check run."""

    SCHEDULED = "scheduled"
    CATCH_UP = "catch-up"
    MANUAL = "manual"  # `registry check` over the whole registry
    RESOURCE = "resource"  # `registry check --resource ID`


# Runs over the whole registry: the nights that count toward a failure streak.
FULL_RUN_TRIGGERS = frozenset(
    {Trigger.SCHEDULED.value, Trigger.CATCH_UP.value, Trigger.MANUAL.value}
)


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"


LABELS: dict[str, str] = {
    "app": "App",
    "forum": "Online forum",
    "website": "Website",
    "helpline": "Helpline",
    "other": "Other",
    "psychosis": "Psychosis",
    "bipolar": "Bipolar disorder",
    "schizophrenia": "Schizophrenia",
    "smi": "Severe mental illness (general)",
    "people-with-smi": "People with severe mental illness",
    "carers": "Carers, family and friends",
    "free": "Free",
    "freemium": "Free, with paid extras",
    "paid": "Paid",
    "web": "Web browser",
    "ios": "iPhone and iPad (iOS)",
    "android": "Android",
    "professional": "Moderated by professionals",
    "peer": "Moderated by peers",
    "none": "Not moderated",
    "unknown": "Moderation not known",
    "suggested": "Not yet reviewed",
    "in_review": "In review",
    "recommended": "Recommended",
    "recommended_with_cautions": "Recommended with cautions",
    "not_recommended": "Not recommended",
    "needs_rereview": "Due for re-review",
    "retired": "Retired",
}

LANGUAGES: dict[str, str] = {
    "en": "English",
    "cy": "Welsh",
    "gd": "Scottish Gaelic",
    "ga": "Irish",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
    "pl": "Polish",
    "ro": "Romanian",
    "ar": "Arabic",
    "ur": "Urdu",
    "pa": "Punjabi",
    "bn": "Bengali",
    "gu": "Gujarati",
    "hi": "Hindi",
    "zh": "Chinese",
    "so": "Somali",
    "tr": "Turkish",
    "fa": "Persian",
    "ru": "Russian",
    "uk": "Ukrainian",
    "da": "Danish",
    "sv": "Swedish",
    "no": "Norwegian",
    "fi": "Finnish",
    "el": "Greek",
}


def label(value: str | None) -> str:
    """Return the plain-English label of a vocabulary value."""
    if value is None:
        return ""
    return LABELS.get(value) or LANGUAGES.get(value) or value
