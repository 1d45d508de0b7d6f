"""What comes in: validated data models for entries, built before any table row is."""

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError, ValidationInfo, field_validator
from sqlmodel import Field, SQLModel

from checks import contacts
from registry.vocab import LANGUAGES, Audience, Condition, Cost, Kind, Moderation, Platform

# The CSV shape of DESIGN.md ("Data exchange"), in order.
CSV_COLUMNS: tuple[str, ...] = (
    "name", "url", "kind", "provider", "description", "conditions", "audience", "cost",
    "platforms", "ios_url", "android_url", "phone_numbers", "works_offline", "low_data",
    "languages", "moderation", "crisis_signposting", "evidence", "source",
)  # fmt: skip

# List fields and the facet their values are stored under.
LIST_FIELDS: dict[str, str] = {
    "conditions": "condition",
    "audience": "audience",
    "platforms": "platform",
    "languages": "language",
}

_VOCABULARIES: dict[str, tuple[set[str], str]] = {
    "conditions": ({c.value for c in Condition}, "condition"),
    "audience": ({a.value for a in Audience}, "audience"),
    "platforms": ({p.value for p in Platform}, "platform"),
    "languages": (set(LANGUAGES), "language code"),
}

_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}


class InvalidURL(ValueError):
    """A URL that cannot be a resource's address."""


def clean_url(value: str) -> str:
    """Return value as an absolute http(s) URL with a lower-case host, or raise InvalidURL."""
    text = value.strip()
    if any(ch.isspace() for ch in text):
        raise InvalidURL("a URL cannot contain spaces")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidURL(f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL("must start with http:// or https://")
    host = (parts.hostname or "").rstrip(".")
    if not host or "." not in host and host != "localhost":
        raise InvalidURL("must name a host, such as https://example.org/")
    if parts.username or parts.password:
        raise InvalidURL("must not contain a user name or password")
    netloc = host.lower() if port is None else f"{host.lower()}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def url_key(url: str) -> str:
    """Return what identifies a resource by its URL: host without www., path, query."""
    parts = urlsplit(clean_url(url))
    host = parts.netloc.removeprefix("www.")
    for default in (":80", ":443"):
        host = host.removesuffix(default)
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(";")
    elif isinstance(value, list | tuple | set):
        items = list(value)
    else:  # a number or a flag where a list belongs: let the vocabulary check name it
        items = [value]
    out: list[str] = []
    for item in items:
        text = str(item).strip().lower()
        if text and text not in out:
            out.append(text)
    return out


def _check_all(values: list[str], allowed: set[str], what: str) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(
            f"unknown {what} {', '.join(map(repr, bad))}; use {', '.join(sorted(allowed))}"
        )
    return values


class ResourceCreate(SQLModel):
    """An entry as it arrives from a form, a CSV row or an import: validated field by field."""

    name: str = Field(min_length=1, max_length=200)
    url: str = Field(max_length=2000)
    kind: Kind
    provider: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    conditions: list[str] = Field(default_factory=list)
    audience: list[str] = Field(default_factory=list)
    cost: Cost | None = None
    platforms: list[str] = Field(default_factory=list)
    ios_url: str | None = Field(default=None, max_length=2000)
    android_url: str | None = Field(default=None, max_length=2000)
    phone_numbers: list[str] = Field(default_factory=list)
    works_offline: bool | None = None
    low_data: bool | None = None
    languages: list[str] = Field(default_factory=list)
    moderation: Moderation | None = None
    crisis_signposting: bool | None = None
    evidence: str | None = Field(default=None, max_length=4000)
    source: str | None = Field(default=None, max_length=4000)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unknown(cls, value: Any) -> Any:
        """Strip text; an empty field means not known."""
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("name")
    @classmethod
    def _name_present(cls, value: str | None) -> str:
        if not value:
            raise ValueError("a name is required")
        return value

    @field_validator("kind", "cost", "moderation", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return (value.strip().lower() or None) if isinstance(value, str) else value

    @field_validator("url", "ios_url", "android_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return clean_url(value)
        except InvalidURL as exc:
            raise ValueError(str(exc)) from None

    @field_validator("conditions", "audience", "platforms", "languages", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> list[str]:
        return _split(value)

    @field_validator("conditions", "audience", "platforms", "languages")
    @classmethod
    def _in_vocabulary(cls, value: list[str], info: ValidationInfo) -> list[str]:
        allowed, what = _VOCABULARIES[info.field_name]
        return _check_all(value, allowed, what)

    @field_validator("phone_numbers", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> list[str]:
        if value is None:
            return []
        items = value.replace("\n", ";").split(";") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ValueError("must be numbers separated by ;, such as 116 123; text 85258")
        try:
            return contacts.normalise(items)
        except contacts.NumberError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("works_offline", "low_data", "crisis_signposting", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"must be yes or no (or empty when not known), not {value!r}")

    def scalar_fields(self) -> dict[str, Any]:
        """Return the fields stored on the entry's own row (everything but the lists)."""
        data = self.model_dump(exclude=set(LIST_FIELDS))
        for key in ("kind", "cost", "moderation"):
            if data[key] is not None:
                data[key] = str(data[key].value if hasattr(data[key], "value") else data[key])
        return data


def field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """Return (field, plain message) for each problem pydantic found."""
    out: list[tuple[str, str]] = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "row"
        if error["type"] == "missing" or error.get("input") is None:
            # Left blank: say so, and for a choice, what it may be.
            message = "is required"
            if error["type"] == "enum":
                message += ": " + error["msg"].removeprefix("Input should be ")
        else:
            message = error["msg"].removeprefix("Value error, ")
        out.append((field, message))
    return out
