"""Settings: defaults that work, and one clear line for every bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_no_configuration_is_local_dry_run() -> None:
    settings = load_settings({})
    assert (settings.host, settings.port, settings.mode) == ("127.0.0.1", 8000, "dry-run")
    assert settings.unsigned_webhooks
    assert settings.database_url == "sqlite:///./data/audit.db"
    assert settings.max_body_bytes == 25 * 1024 * 1024


def test_secret_opens_all_interfaces_by_default() -> None:
    settings = load_settings({"GITHUB_WEBHOOK_SECRET": "hook-s3cret", "GITHUB_TOKEN": "ghp_s3cret"})
    assert (settings.host, settings.mode) == ("0.0.0.0", "token")
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"GITHUB_APP_ID": "12"}, "GITHUB_PRIVATE_KEY"),
        ({"GITHUB_TOKEN": "t"}, "GITHUB_WEBHOOK_SECRET"),
        ({"HOST": "0.0.0.0", "GITHUB_TOKEN": "t"}, "GITHUB_WEBHOOK_SECRET"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite:relative.db"}, "DATABASE_URL"),
        ({"GITHUB_API_URL": "ftp://x"}, "GITHUB_API_URL"),
        ({"PUBLIC_URL": "audit.example"}, "PUBLIC_URL"),
        ({"AUDIT_LOG_FORMAT": "xml"}, "AUDIT_LOG_FORMAT"),
        ({"AUDIT_MAX_BODY_BYTES": "-1"}, "AUDIT_MAX_BODY_BYTES"),
        ({"AUDIT_COMMENT_DEBOUNCE_SECONDS": "soon"}, "AUDIT_COMMENT_DEBOUNCE_SECONDS"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        load_settings(env)


def test_bad_value_stops_the_bot_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AUDIT_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        env={**env, "PORT": "eighty"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "audit-bot: configuration error: PORT must be an integer, not 'eighty'"
    ]


def test_the_serving_role_defaults_to_all_and_a_bad_one_is_one_line() -> None:
    assert load_settings({}).role == "all"
    assert load_settings({"AUDIT_ROLE": "Read"}).role == "read"
    assert load_settings({"AUDIT_ROLE": "intake"}).role == "intake"
    with pytest.raises(ConfigError, match="AUDIT_ROLE must be one of all, intake, read"):
        load_settings({"AUDIT_ROLE": "writer"})


def test_serve_role_option_overrides_the_environment_and_refuses_a_bad_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.__main__ import main

    monkeypatch.setenv("AUDIT_ROLE", "read")
    assert main(["serve", "--role", "everything"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "--role must be one of all, intake, read, not 'everything'" in err


def test_comment_links_use_public_url_else_the_local_listening_address() -> None:
    assert load_settings({}).link_base == "http://127.0.0.1:8000"
    assert load_settings({"PORT": "9100", "HOST": "::1"}).link_base == "http://[::1]:9100"
    public = load_settings({"PUBLIC_URL": "https://audit.example.org/"})
    assert public.link_base == "https://audit.example.org"
    # Signed webhooks and no PUBLIC_URL: a public bot whose address nobody told it.
    assert load_settings({"GITHUB_WEBHOOK_SECRET": "s", "GITHUB_TOKEN": "t"}).link_base is None


def test_sign_in_settings_and_their_refusals() -> None:
    base = {"GITHUB_WEBHOOK_SECRET": "hook-s3cret", "PUBLIC_URL": "https://audit.example"}
    off = load_settings(base)
    assert not off.signin and off.link_ttl is None
    assert (off.session_idle, off.session_max, off.access_cache_seconds) == (28800, 604800, 300)
    on = load_settings(
        {
            **base,
            "GITHUB_CLIENT_ID": "Iv1.abc",
            "GITHUB_CLIENT_SECRET": "client-s3cret",
            "AUDIT_SESSION_IDLE_TIMEOUT": "2h",
            "AUDIT_SESSION_MAX_AGE": "1d",
            "AUDIT_SIGNIN_CACHE_SECONDS": "0",
            "AUDIT_LINK_TTL": "30d",
        }
    )
    assert on.signin and on.session_key == "hook-s3cret"  # the link key, unless set
    assert (on.session_idle, on.session_max, on.access_cache_seconds) == (7200, 86400, 0)
    assert on.link_ttl == 30 * 86400
    assert "s3cret" not in repr(on)
    for env, name in [
        ({"GITHUB_CLIENT_ID": "Iv1.abc"}, "GITHUB_CLIENT_SECRET"),
        ({"AUDIT_LINK_TTL": "soon"}, "AUDIT_LINK_TTL"),
        ({"AUDIT_LINK_TTL": "0"}, "AUDIT_LINK_TTL"),
        ({"AUDIT_SESSION_IDLE_TIMEOUT": "9d"}, "AUDIT_SESSION_IDLE_TIMEOUT"),
        ({"AUDIT_SESSION_KEY": "short"}, "AUDIT_SESSION_KEY"),
    ]:
        with pytest.raises(ConfigError, match=name):
            load_settings({**base, **env})


def test_sign_in_uses_the_client_of_the_app_setup_registered(tmp_path: Path, app_pem: str) -> None:
    from bot.github.stored_credentials import StoredCredentials, save

    stored = StoredCredentials(
        app_id=12,
        slug="audit-bot",
        client_id="Iv1.stored",
        html_url="https://github.example/apps/audit-bot",
        client_secret="stored-client-s3cret",
        webhook_secret="stored-hook-s3cret",
        pem=app_pem,
    )
    save(tmp_path, stored)
    env = {"AUDIT_DATA_DIR": str(tmp_path), "PUBLIC_URL": "https://audit.example"}
    settings = load_settings(env)
    assert (settings.client_id, settings.client_secret) == ("Iv1.stored", "stored-client-s3cret")
    assert settings.signin and settings.session_key == "stored-hook-s3cret"
    mine = load_settings({**env, "GITHUB_CLIENT_ID": "Iv1.env", "GITHUB_CLIENT_SECRET": "e"})
    assert mine.client_id == "Iv1.env"  # the environment wins
