"""The log's signing key and origin: configured, or generated once (0600) and reused;
and the integrator puts a committed event into a signed checkpoint within the bound."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.trail import checkpoint as cp
from bot.workers.log_signing import key_path, load_signer
from tests.support.bot import Bot, load_payload


def test_origin_comes_from_public_url_unless_set() -> None:
    assert load_settings({"PUBLIC_URL": "https://audit.acme.test/x"}).log_origin == (
        "audit.acme.test/audit-bot"
    )
    assert load_settings({"AUDIT_LOG_ORIGIN": "acme.test/log"}).log_origin == "acme.test/log"
    with pytest.raises(ConfigError, match="AUDIT_LOG_ORIGIN"):
        load_settings({"AUDIT_LOG_ORIGIN": "a+b"})


def test_a_bad_signing_key_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^AUDIT_LOG_SIGNING_KEY"):
        load_settings({"AUDIT_LOG_SIGNING_KEY": "-----BEGIN PRIVATE KEY-----\nnope\n"})
    with pytest.raises(ConfigError, match=r"^AUDIT_LOG_SIGNING_KEY cannot be read"):
        load_settings({"AUDIT_LOG_SIGNING_KEY": str(tmp_path / "missing.pem")})
    key = cp.generate_signer("x")
    (tmp_path / "k.pem").write_bytes(cp.signer_to_pem(key))
    settings = load_settings({"AUDIT_LOG_SIGNING_KEY": str(tmp_path / "k.pem")})
    assert load_signer(settings).public_key == key.public_key


def test_a_generated_key_is_private_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({"DATABASE_URL": f"sqlite:///{tmp_path}/audit.db"})
    with pytest.raises(FileNotFoundError):
        load_signer(settings, create=False)
    first = load_signer(settings)
    assert "GENERATED a new transparency log signing key" in caplog.text
    path = key_path(settings)
    assert path.parent == tmp_path and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signer(settings).public_key == first.public_key


async def test_a_commit_is_in_a_signed_checkpoint_within_five_seconds(bot: Bot) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    started = asyncio.get_running_loop().time()
    while (await bot.request("GET", "/api/log/checkpoint"))[0] != 200:
        assert asyncio.get_running_loop().time() - started < 5, "merge delay over 5 s"
        await asyncio.sleep(0.05)
