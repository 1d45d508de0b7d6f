"""The factory and its settings: defaults, the environment, test overrides, clear errors."""

import stat
import subprocess
import sys

import pytest

from registry import create_app
from registry.config import SettingError


@pytest.fixture
def instance(tmp_path, monkeypatch):
    folder = tmp_path / "instance"
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(folder))
    return folder


def test_embedded_defaults_keep_database_and_secret_in_the_instance_folder(instance):
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'registry.sqlite3'}"
    assert (app.config["REGISTRY_HOST"], app.config["REGISTRY_PORT"]) == ("127.0.0.1", 5000)
    key_file = instance / "secret_key"
    assert app.config["SECRET_KEY"] == key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_generated_secret_key_survives_a_restart(instance):
    assert create_app().config["SECRET_KEY"] == create_app().config["SECRET_KEY"]


def test_environment_overrides_defaults_and_test_config_overrides_environment(
    instance, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-env.sqlite3")
    monkeypatch.setenv("REGISTRY_PORT", "8080")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app({"REGISTRY_PORT": 9090})
    assert app.config["DATABASE_URL"] == "sqlite:///from-env.sqlite3"
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["REGISTRY_PORT"] == 9090
    assert not (instance / "secret_key").exists()


def test_a_service_without_a_secret_key_refuses_to_start(instance, monkeypatch):
    # With DATABASE_URL set, several processes share the database: a key made up by each would
    # sign people out at every restart and differ from process to process.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{instance.parent / 'service.sqlite3'}")
    with pytest.raises(SettingError, match="SECRET_KEY is not set"):
        create_app()
    assert not (instance / "secret_key").exists()


@pytest.mark.parametrize("command", [["serve", "--no-seed"], ["scheduler"], ["check"]])
def test_the_commands_stop_at_start_up_without_a_secret_key(instance, monkeypatch, command):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{instance.parent / 'service.sqlite3'}")
    result = subprocess.run(
        [sys.executable, "-m", "registry.cli", *command], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "SECRET_KEY is not set" in result.stderr and "token_hex" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REGISTRY_PORT", "eighty", "REGISTRY_PORT must be a whole number"),
        ("REGISTRY_PORT", "70000", "between 1 and 65535"),
        ("REGISTRY_KEPT_PAGES_MB", "-1", "REGISTRY_KEPT_PAGES_MB must be 0 \\(keep no pages\\)"),
    ],
)
def test_a_bad_number_setting_is_named_in_the_error(instance, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=message):
        create_app()


def test_the_command_reports_a_bad_setting_without_a_traceback(instance, monkeypatch):
    monkeypatch.setenv("REGISTRY_PAGE_SIZE", "lots")
    result = subprocess.run(
        [sys.executable, "-m", "registry.cli", "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "REGISTRY_PAGE_SIZE must be a whole number, not 'lots'" in result.stderr
    assert "Traceback" not in result.stderr
