"""Settings: safe defaults for the embedded setup, then the environment, then test overrides."""

import os
import secrets
from pathlib import Path

from flask import Flask

# Environment variables the registry reads, with their defaults; listed in the README.
DEFAULTS: dict[str, object] = {
    "DATABASE_URL": None,  # None: SQLite file under the instance folder
    "SECRET_KEY": None,  # None: a random key kept in the instance folder
    "REGISTRY_HOST": "127.0.0.1",
    "REGISTRY_PORT": 5000,
    "REGISTRY_THREADS": 8,
    "REGISTRY_PAGE_SIZE": 20,
    "REGISTRY_SEED_FILE": None,  # None: data/resources.csv shipped with the project
    "REGISTRY_SESSION_IDLE_MINUTES": 120,  # signed out after this long without a request
    "REGISTRY_SESSION_MAX_HOURS": 12,  # and after this long in any case
    "REGISTRY_REVIEW_VALID_MONTHS": 12,  # a review's validity; sets the review-due date
    "REGISTRY_REVIEW_DUE_SOON_DAYS": 30,  # reviews due within this many days join the queue
}

_INTEGER_SETTINGS = (
    "REGISTRY_PORT",
    "REGISTRY_THREADS",
    "REGISTRY_PAGE_SIZE",
    "REGISTRY_SESSION_IDLE_MINUTES",
    "REGISTRY_SESSION_MAX_HOURS",
    "REGISTRY_REVIEW_VALID_MONTHS",
    "REGISTRY_REVIEW_DUE_SOON_DAYS",
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

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'registry.sqlite3'}"
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path) / "secret_key")
    if not app.config["REGISTRY_SEED_FILE"]:
        app.config["REGISTRY_SEED_FILE"] = str(default_seed_file())


def default_seed_file() -> Path:
    """Return the seed CSV shipped with the project."""
    return Path(__file__).resolve().parent.parent / "data" / "resources.csv"


def _as_int(name: str, value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SettingError(f"{name} must be a whole number, not {value!r}.") from None


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
