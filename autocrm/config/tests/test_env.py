"""The typed environment helpers fail loudly and name the variable at fault."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from autocrm.config.env import Env, database_config


def test_str_returns_the_stripped_value_or_the_default():
    env = Env({"NAME": "  value  ", "EMPTY": ""})
    assert env.str("NAME") == "value"
    assert env.str("EMPTY", default="fallback") == "fallback"
    assert env.str("ABSENT", default="fallback") == "fallback"


def test_str_without_default_names_the_missing_variable():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        Env({}).str("SECRET_KEY")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_bool_accepts_the_usual_spellings(raw, expected):
    assert Env({"DEBUG": raw}).bool("DEBUG", default=not expected) is expected


def test_bool_uses_the_default_only_when_unset():
    assert Env({}).bool("DEBUG", default=True) is True
    assert Env({}).bool("DEBUG", default=False) is False


@pytest.mark.parametrize("raw", ["2", "yep", "truee", "enabled"])
def test_bool_rejects_anything_else_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_USE_TLS must be a boolean.*" + raw):
        Env({"EMAIL_USE_TLS": raw}).bool("EMAIL_USE_TLS", default=False)


def test_int_parses_and_defaults():
    env = Env({"EMAIL_PORT": " 587 ", "EMPTY": ""})
    assert env.int("EMAIL_PORT", 25) == 587
    assert env.int("EMPTY", 25) == 25
    assert env.int("ABSENT", 25, minimum=1) == 25


@pytest.mark.parametrize("raw", ["abc", "1.5", "25 port", "0x19"])
def test_int_rejects_non_integers_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_PORT must be an integer"):
        Env({"EMAIL_PORT": raw}).int("EMAIL_PORT", 25)


def test_int_enforces_the_minimum_naming_the_variable():
    with pytest.raises(ImproperlyConfigured, match=r"SESSION_COOKIE_AGE must be >= 300, got 10"):
        Env({"SESSION_COOKIE_AGE": "10"}).int("SESSION_COOKIE_AGE", 3600, minimum=300)


def test_list_splits_on_commas_and_drops_blanks():
    env = Env({"ALLOWED_HOSTS": " crm.example.com, ,api.example.com ,"})
    assert env.list("ALLOWED_HOSTS") == ["crm.example.com", "api.example.com"]
    assert env.list("ABSENT") == []
    assert env.list("ABSENT", default=["localhost"]) == ["localhost"]


def test_list_default_is_copied_not_shared():
    default = ["localhost"]
    result = Env({}).list("ALLOWED_HOSTS", default=default)
    result.append("evil.example.com")
    assert default == ["localhost"]


def test_database_config_sqlite_gets_wal_and_immediate_transactions(tmp_path):
    config = database_config(f"sqlite:///{tmp_path / 'db.sqlite3'}", conn_max_age=60)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")
    assert config["CONN_MAX_AGE"] == 0
    options = config["OPTIONS"]
    assert isinstance(options, dict)
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_config_postgres(scheme):
    config = database_config(f"{scheme}://crm:s3cret@db.internal:6432/autocrm", conn_max_age=30)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("autocrm", "crm", "s3cret")
    assert (config["HOST"], config["PORT"]) == ("db.internal", 6432)
    assert config["CONN_MAX_AGE"] == 30
    assert config["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize(
    "url", ["mysql://u:p@localhost/db", "oracle://u:p@h/db", "autocrm.sqlite3", ""]
)
def test_database_config_rejects_other_engines(url):
    with pytest.raises(
        ImproperlyConfigured, match="DATABASE_URL must start with sqlite:/// or postgres://"
    ):
        database_config(url)
