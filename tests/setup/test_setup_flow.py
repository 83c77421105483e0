"""/setup over plain HTTP: registration, the live switch to App mode, and every refusal."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from bot.__main__ import main
from bot.config import load_settings
from bot.github.manifest import app_manifest
from tests.support.bot import REPO, load_payload
from tests.support.fake_github import APP_SLUG, FakeGitHub
from tests.support.setup_flow import (
    SetupBot,
    get,
    register,
    registration_form,
    setup_env,
    submit,
    token_in,
)


@pytest.fixture
async def setup_bot(tmp_path: Path, github: FakeGitHub):
    bots: list[SetupBot] = []

    async def make(**extra: str) -> SetupBot:
        bot = SetupBot(setup_env(tmp_path, github, **extra))
        bots.append(bot)
        return await bot.start()

    yield make
    for bot in bots:
        await bot.stop()


def stored(tmp_path: Path) -> Path:
    return tmp_path / "github-app.json"


async def test_registers_switches_to_app_mode_at_once_and_keeps_it_across_a_restart(
    setup_bot, github: FakeGitHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # the access log, even where an earlier test's setup_logging quieted it
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    bot = await setup_bot()
    token = token_in(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "setup-token").st_mode) == 0o600
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SETUP:")]
    assert f"{bot.url}/setup?token={token}" in line

    assert "failures" not in (await bot.request("GET", "/api/outbox"))[1]  # no admin token
    status, page = await get(bot, f"{bot.url}/setup?token={token}")
    assert status == 200
    action, manifest = registration_form(page)
    assert json.loads(manifest) == app_manifest(bot.url)  # what app.yml holds, for this URL
    assert action.startswith(f"{github.url}/settings/apps/new?state=")
    callback = await submit(bot, action, manifest)
    assert callback.startswith(f"{bot.url}/setup/callback?code=")
    status, page = await get(bot, callback)
    assert status == 200, page
    [answer] = github.registered
    assert f'href="{answer["html_url"]}/installations/new"' in page

    path = stored(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["pem"] == answer["pem"]
    assert not (tmp_path / "setup-token").exists()
    # No restart: the returned secret is checked and the returned key posts the comment.
    status, _ = await bot.deliver("pull_request", load_payload("pull_request.opened"))
    assert status == 401  # signed with the test suite's secret, not the App's
    status, body = await bot.deliver(
        "pull_request", load_payload("pull_request.opened"), secret=answer["webhook_secret"]
    )
    assert (status, body["status"]) == (200, "recorded")
    await bot.settle()
    [comment] = github.comments_on(REPO, 2)
    assert comment["user"]["login"] == f"{APP_SLUG}[bot]"
    mint = next(r for r in github.requests if r.path.endswith("/access_tokens"))
    claims = jwt.decode(
        mint.headers["Authorization"].split(" ", 1)[1],
        github.app_public_keys[answer["id"]],
        algorithms=["RS256"],
    )
    assert claims["iss"] == str(answer["id"])
    # Signed webhooks now: the outbox rows need the admin token, as in any signed bot.
    assert "failures" not in (await bot.request("GET", "/api/outbox"))[1]
    # Setup is over.
    assert (await get(bot, f"{bot.url}/setup?token={token}"))[0] == 404
    assert (await get(bot, callback))[0] == 404

    # The next start reads the stored file: App mode, the same secret.
    settings = load_settings(setup_env(tmp_path, github))
    assert (settings.mode, settings.app_id) == ("app", answer["id"])
    assert settings.webhook_secret == answer["webhook_secret"]
    restarted = await setup_bot()
    status, body = await restarted.deliver(
        "pull_request",
        load_payload("pull_request.opened", pull_request__number=3),
        secret=answer["webhook_secret"],
    )
    assert status == 200
    assert (await get(restarted, f"{restarted.url}/setup"))[0] == 404

    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for secret in ("webhook_secret", "client_secret"):
        assert answer[secret] not in logged
    key_lines = [ln for ln in answer["pem"].splitlines() if "-----" not in ln]
    assert not any(ln in logged for ln in key_lines)
    secrets_stay_out_of_the_access_log(caplog, token, callback)


def secrets_stay_out_of_the_access_log(
    caplog: pytest.LogCaptureFixture, token: str, callback: str
) -> None:
    """The one-time token is in the SETUP line alone; the access log has every request,
    the query's secrets (token, code, state) redacted."""

    def text(record: logging.LogRecord) -> str:
        return record.getMessage() + str(record.__dict__)

    holding = [r.getMessage()[:6] for r in caplog.records if token in text(r)]
    assert holding == ["SETUP:"]
    access = [text(r) for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/setup?token=[redacted]" in line for line in access), access
    assert any("/setup/callback?code=[redacted]&state=[redacted]" in line for line in access)
    # (the fake GitHub's own lines, in the same log here, carry the code in its path)
    ours = [line for line in access if '"GET /setup' in line or '"POST /setup' in line]
    sent = parse_qs(urlsplit(callback).query)
    for secret in (token, sent["code"][0], sent["state"][0]):
        assert not any(secret in line for line in ours)


async def test_an_organisation_registration_goes_to_its_page(
    setup_bot, github: FakeGitHub, tmp_path: Path
) -> None:
    bot = await setup_bot()
    token = token_in(tmp_path)
    bad = await get(bot, f"{bot.url}/setup?token={token}&org=-bad-")
    assert bad[0] == 400 and "Not an organisation name" in bad[1]
    status, page = await get(bot, f"{bot.url}/setup?token={token}&org=acme-corp")
    assert status == 200
    assert "Register on organisation acme-corp" in page
    action, manifest = registration_form(page)
    assert action.startswith(f"{github.url}/organizations/acme-corp/settings/apps/new?state=")
    status, _ = await get(bot, await submit(bot, action, manifest))
    assert status == 200
    assert github.registered[0]["owner"]["login"] == "acme-corp"


async def test_without_the_token_or_with_a_wrong_one_nothing_starts(
    setup_bot, github: FakeGitHub, tmp_path: Path
) -> None:
    bot = await setup_bot()
    for query in ("", "?token=", "?token=wrong", f"?token={token_in(tmp_path)}x"):
        status, page = await get(bot, f"{bot.url}/setup{query}")
        assert status == 403, query
        assert "one-time token" in page
        assert "<form" not in page
    assert not stored(tmp_path).exists()


async def test_a_wrong_or_reused_state_or_a_refused_code_changes_nothing(
    setup_bot, github: FakeGitHub, tmp_path: Path
) -> None:
    bot = await setup_bot()
    token = token_in(tmp_path)
    _, page = await get(bot, f"{bot.url}/setup?token={token}")
    callback = await submit(bot, *registration_form(page))
    query = parse_qs(urlsplit(callback).query)
    code, state = query["code"][0], query["state"][0]

    wrong = await get(bot, f"{bot.url}/setup/callback?code={code}&state=not-{state}")
    missing = await get(bot, f"{bot.url}/setup/callback?code={code}")
    assert (wrong[0], missing[0]) == (403, 403)
    assert "Nothing was changed" in wrong[1]
    # A code GitHub refuses (422): a clear page, nothing stored, the state is spent.
    refused = await get(bot, f"{bot.url}/setup/callback?code=unknown-code&state={state}")
    assert refused[0] == 400
    assert "GitHub refused the code" in refused[1]
    assert "Nothing was stored" in refused[1]
    reused = await get(bot, f"{bot.url}/setup/callback?code={code}&state={state}")
    assert reused[0] == 403
    assert not github.registered and not stored(tmp_path).exists()
    # A fresh start of the flow still works, and its state cannot be replayed afterwards.
    status, _ = await register(bot, token)
    assert status == 200
    assert stored(tmp_path).exists()
    assert (await get(bot, f"{bot.url}/setup/callback?code={code}&state={state}"))[0] == 404


async def test_without_public_url_the_page_explains_instead_of_registering(
    setup_bot, github: FakeGitHub, tmp_path: Path
) -> None:
    bot = await setup_bot(PUBLIC_URL="")
    status, page = await get(bot, f"{bot.url}/setup?token={token_in(tmp_path)}")
    assert status == 200
    assert "Set PUBLIC_URL first" in page and "tunnel" in page
    assert 'name="manifest"' not in page
    # Loopback only and no PUBLIC_URL: this machine's browser needs no token to read it.
    status, page = await get(bot, f"{bot.url}/setup")
    assert status == 200 and "Set PUBLIC_URL first" in page


async def test_setup_mode_beyond_loopback_refuses_every_webhook_until_set_up(
    setup_bot, github: FakeGitHub, tmp_path: Path
) -> None:
    settings = load_settings(setup_env(tmp_path, github, HOST="0.0.0.0"))
    assert settings.setup_mode and settings.unsigned_webhooks
    bot = await setup_bot(HOST="0.0.0.0")  # served on 127.0.0.1; the settings say 0.0.0.0
    for secret in (None, "anything"):
        status, body = await bot.deliver(
            "pull_request", load_payload("pull_request.opened"), secret=secret
        )
        assert status == 503, body
    assert (await get(bot, f"{bot.url}/setup"))[0] == 403  # not loopback-only: token needed
    status, _ = await register(bot, token_in(tmp_path))
    assert status == 200
    [answer] = github.registered
    status, _ = await bot.deliver(
        "pull_request", load_payload("pull_request.opened"), secret=answer["webhook_secret"]
    )
    assert status == 200


async def test_print_env_and_environment_variables_win(
    setup_bot, github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["setup", "--print-env", "--data-dir", str(tmp_path)]) == 1
    bot = await setup_bot()
    await register(bot, token_in(tmp_path))
    [answer] = github.registered
    capsys.readouterr()
    assert main(["setup", "--print-env", "--data-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert f"GITHUB_APP_ID={answer['id']}\n" in printed
    assert f"GITHUB_WEBHOOK_SECRET={answer['webhook_secret']}\n" in printed
    assert "GITHUB_PRIVATE_KEY='-----BEGIN RSA PRIVATE KEY-----\n" in printed
    # A personal token in the environment: the stored App is not read at all.
    env = setup_env(tmp_path, github, GITHUB_TOKEN="t", GITHUB_WEBHOOK_SECRET="s")
    settings = load_settings(env)
    assert (settings.mode, settings.webhook_secret, settings.app_id) == ("token", "s", None)
    # And a secret in the environment wins over the stored one.
    settings = load_settings(setup_env(tmp_path, github, GITHUB_WEBHOOK_SECRET="mine"))
    assert (settings.mode, settings.webhook_secret) == ("app", "mine")


def test_an_unusable_stored_file_stops_the_start_without_quoting_it(tmp_path: Path) -> None:
    from bot.config import ConfigError

    (tmp_path / "github-app.json").write_text('{"id": 5, "pem": "SECRET-LOOKING"}')
    with pytest.raises(ConfigError, match="is not a stored GitHub App") as caught:
        load_settings({"AUDIT_DATA_DIR": str(tmp_path)})
    assert "SECRET-LOOKING" not in str(caught.value)
    # With credentials in the environment the file is not read at all.
    env = {"AUDIT_DATA_DIR": str(tmp_path), "GITHUB_TOKEN": "t", "GITHUB_WEBHOOK_SECRET": "s"}
    assert load_settings(env).mode == "token"
