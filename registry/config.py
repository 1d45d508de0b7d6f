"""Settings: safe defaults for the embedded setup, then the environment, then test overrides."""

import importlib.resources
import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from flask import Flask

# Environment variables the registry reads, with their defaults; listed in the README.
DEFAULTS: dict[str, object] = {
    "DATABASE_URL": None,  # None: SQLite file under the instance folder
    "SECRET_KEY": None,  # None: a random key kept in the instance folder
    "REGISTRY_HOST": "127.0.0.1",
    "REGISTRY_PORT": 5000,
    "REGISTRY_THREADS": 8,  # threads per web process
    "REGISTRY_WORKERS": 1,  # web processes; more than 1 runs gunicorn (see `registry serve`)
    "REGISTRY_TRUSTED_PROXIES": 0,  # reverse proxies in front whose X-Forwarded-* are believed
    "REGISTRY_PAGE_SIZE": 20,
    # Public pages kept whole, shared by the web processes; 0: none. 128 MB holds some 40,000
    # pages (3.2 KB each, packed): every entry page of a registry of 10,000 entries and some
    # 30,000 searches beside them. 32 MB held a quarter of that: the load benchmark's mix ran
    # at 35-36% of the static rate with it, 42-45% with 128 (docs/operations.md, 7 December).
    "REGISTRY_KEPT_PAGES_MB": 128,
    # "decided": the public sees the decided entries; "none": every page needs a staff account.
    "REGISTRY_PUBLIC_ACCESS": "decided",
    "REGISTRY_SEED_FILE": None,  # None: the seed shipped inside the package (data/resources.csv)
    "REGISTRY_SESSION_IDLE_MINUTES": 120,  # signed out after this long without a request
    "REGISTRY_SESSION_MAX_HOURS": 12,  # and after this long in any case
    "REGISTRY_REVIEW_VALID_MONTHS": 12,  # a review's validity; sets the review-due date
    "REGISTRY_REVIEW_DUE_SOON_DAYS": 30,  # reviews due within this many days join the queue
    # Reviewers a decision needs: 1, or 2 for a panel (a second confirms the first's proposal).
    "REGISTRY_DECISION_REVIEWERS": 1,
    "REGISTRY_SIGNIN_MAX_FAILURES": 5,  # failed sign-ins to one account before it waits
    "REGISTRY_SIGNIN_MAX_FAILURES_PER_ADDRESS": 20,  # failed sign-ins from one address
    "REGISTRY_SIGNIN_WINDOW_MINUTES": 15,  # the window those are counted in
    # The nightly check (the checker's own REGISTRY_CHECK_* are read by checks.CheckSettings).
    "REGISTRY_CHECK_FAILURE_THRESHOLD": 3,  # failing nights in a row that send an entry back
    "REGISTRY_STALE_APP_MONTHS": 12,  # an app its store shows not updated for longer: a caution
    "REGISTRY_CHECK_LOCK_SECONDS": 7200,  # a lock left by a killed run expires after this
    "REGISTRY_DB_RETRY_SECONDS": 120,  # how long a check run waits for the database to come back
    "REGISTRY_CHECK_SCHEDULE": "30 2 * * *",  # cron: minute hour day month weekday
    "REGISTRY_TIMEZONE": "Europe/London",  # the schedule's time zone
    "REGISTRY_SCHEDULER": True,  # `registry serve` runs the schedule in-process
    "REGISTRY_SMTP_HOST": None,  # None: no digest emails
    "REGISTRY_SMTP_PORT": 587,
    "REGISTRY_SMTP_USER": None,
    "REGISTRY_SMTP_PASSWORD": None,
    "REGISTRY_SMTP_STARTTLS": True,
    "REGISTRY_MAIL_FROM": "registry@localhost",
    "REGISTRY_BASE_URL": None,  # None: http://REGISTRY_HOST:REGISTRY_PORT, for links in emails
}

_INTEGER_SETTINGS = (
    "REGISTRY_PORT",
    "REGISTRY_THREADS",
    "REGISTRY_WORKERS",
    "REGISTRY_TRUSTED_PROXIES",
    "REGISTRY_PAGE_SIZE",
    "REGISTRY_KEPT_PAGES_MB",
    "REGISTRY_SESSION_IDLE_MINUTES",
    "REGISTRY_SESSION_MAX_HOURS",
    "REGISTRY_REVIEW_VALID_MONTHS",
    "REGISTRY_REVIEW_DUE_SOON_DAYS",
    "REGISTRY_DECISION_REVIEWERS",
    "REGISTRY_SIGNIN_MAX_FAILURES",
    "REGISTRY_SIGNIN_MAX_FAILURES_PER_ADDRESS",
    "REGISTRY_SIGNIN_WINDOW_MINUTES",
    "REGISTRY_CHECK_FAILURE_THRESHOLD",
    "REGISTRY_STALE_APP_MONTHS",
    "REGISTRY_CHECK_LOCK_SECONDS",
    "REGISTRY_DB_RETRY_SECONDS",
    "REGISTRY_SMTP_PORT",
)
_BOOLEAN_SETTINGS = ("REGISTRY_SCHEDULER", "REGISTRY_SMTP_STARTTLS")


# Every web process signs sessions and form tokens with the key, so they must all share one: a key
# made up on the spot would sign everyone out at each restart and differ between processes.
MISSING_SECRET_KEY = (
    "SECRET_KEY is not set. With DATABASE_URL set the registry runs as a service, and every one of "
    "its processes needs the same secret key: make one with "
    "`python3 -c 'import secrets; print(secrets.token_hex(32))'` and set SECRET_KEY in their "
    "environment (a file readable only by the service, not the repository). Only the embedded "
    "demo (no DATABASE_URL) makes and keeps its own key."
)


class SettingError(ValueError):
    """A setting has a value the registry cannot use."""


def configure(app: Flask, test_config: dict | None = None) -> None:
    """Fill app.config from defaults, the environment and test overrides, then check it."""
    app.config.update(DEFAULTS)
    for name in DEFAULTS:
        if name in os.environ:
            app.config[name] = os.environ[name]
    if test_config:
        app.config.update(test_config)

    for name in _INTEGER_SETTINGS:
        app.config[name] = _as_int(name, app.config[name])
    if not 1 <= app.config["REGISTRY_PORT"] <= 65535:
        raise SettingError(
            f"REGISTRY_PORT must be between 1 and 65535, not {app.config['REGISTRY_PORT']}."
        )

    if app.config["REGISTRY_KEPT_PAGES_MB"] < 0:
        raise SettingError(
            "REGISTRY_KEPT_PAGES_MB must be 0 (keep no pages) or more, "
            f"not {app.config['REGISTRY_KEPT_PAGES_MB']}."
        )
    for name in ("REGISTRY_THREADS", "REGISTRY_WORKERS"):
        if app.config[name] < 1:
            raise SettingError(f"{name} must be 1 or more, not {app.config[name]}.")
    if not 0 <= app.config["REGISTRY_TRUSTED_PROXIES"] <= 5:
        raise SettingError(
            "REGISTRY_TRUSTED_PROXIES must be the number of reverse proxies in front, 0 to 5, "
            f"not {app.config['REGISTRY_TRUSTED_PROXIES']}."
        )
    if app.config["REGISTRY_DECISION_REVIEWERS"] not in (1, 2):
        raise SettingError(
            "REGISTRY_DECISION_REVIEWERS must be 1 (one reviewer decides) or 2 (a second "
            f"reviewer confirms), not {app.config['REGISTRY_DECISION_REVIEWERS']}."
        )
    _check_public_access(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    embedded = not app.config["DATABASE_URL"]
    if embedded:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'registry.sqlite3'}"
    if not app.config["SECRET_KEY"]:
        if not embedded:
            raise SettingError(MISSING_SECRET_KEY)
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path) / "secret_key")
    if not app.config["REGISTRY_SEED_FILE"]:
        app.config["REGISTRY_SEED_FILE"] = str(default_seed_file())
    _check_job_settings(app.config)


# The values of REGISTRY_PUBLIC_ACCESS, as registry/entries/visibility.py reads them.
PUBLIC_ACCESS_CHOICES = ("decided", "none")


def _check_public_access(config) -> None:
    """Check REGISTRY_PUBLIC_ACCESS, naming the values it takes."""
    value = str(config["REGISTRY_PUBLIC_ACCESS"] or "").strip().lower()
    if value not in PUBLIC_ACCESS_CHOICES:
        raise SettingError(
            "REGISTRY_PUBLIC_ACCESS must be decided (the public sees the decided entries) or "
            f"none (every page needs a staff account), not {config['REGISTRY_PUBLIC_ACCESS']!r}."
        )
    config["REGISTRY_PUBLIC_ACCESS"] = value


def _check_job_settings(config) -> None:
    """Check the nightly check's settings, naming the one that is wrong and what it takes."""
    for name in _BOOLEAN_SETTINGS:
        config[name] = _as_bool(name, config[name])
    for name in ("REGISTRY_CHECK_FAILURE_THRESHOLD", "REGISTRY_CHECK_LOCK_SECONDS"):
        if config[name] < 1:
            raise SettingError(f"{name} must be 1 or more, not {config[name]}.")
    if not 1 <= config["REGISTRY_SMTP_PORT"] <= 65535:
        raise SettingError(
            f"REGISTRY_SMTP_PORT must be between 1 and 65535, not {config['REGISTRY_SMTP_PORT']}."
        )
    if not config["REGISTRY_BASE_URL"]:
        config["REGISTRY_BASE_URL"] = f"http://{config['REGISTRY_HOST']}:{config['REGISTRY_PORT']}"
    if not str(config["REGISTRY_BASE_URL"]).startswith(("http://", "https://")):
        raise SettingError(
            "REGISTRY_BASE_URL must be the registry's address as people reach it, such as "
            f"https://registry.example.nhs.uk, not {config['REGISTRY_BASE_URL']!r}."
        )
    make_trigger(config["REGISTRY_CHECK_SCHEDULE"], config["REGISTRY_TIMEZONE"])


# The schedule is a setting: parsed here, so a bad one stops start-up; the scheduler uses it.
def make_trigger(expression: str, timezone: str) -> CronTrigger:
    """Build the schedule from a cron expression and a time zone, or raise SettingError."""
    try:
        zone = ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(
            f"REGISTRY_TIMEZONE must be a time zone name such as Europe/London, not {timezone!r}."
        ) from None
    expression = str(expression)
    problem = "it needs five fields" if len(expression.split()) != 5 else ""
    if not problem:
        try:
            return CronTrigger.from_crontab(expression, timezone=zone)
        except ValueError as exc:
            problem = str(exc)
    raise SettingError(
        f"REGISTRY_CHECK_SCHEDULE {expression!r} is not a cron expression ({problem}); give "
        "minute hour day-of-month month day-of-week, such as '30 2 * * *' for 02:30 nightly."
    )


def default_seed_file() -> Path:
    """Return the seed CSV shipped inside the package (registry/seed_data is data/)."""
    return Path(str(importlib.resources.files("registry") / "seed_data" / "resources.csv"))


def _as_int(name: str, value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SettingError(f"{name} must be a whole number, not {value!r}.") from None


def _as_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingError(f"{name} must be 1 or 0 (on or off), not {value!r}.")


def _instance_secret(path: Path) -> str:
    """Return the key kept at path, making one (readable by the owner only) the first time."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
