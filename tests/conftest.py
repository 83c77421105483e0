"""Shared test parts: the fake GitHub, a bot served on loopback, signed deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.bot import SECRET, Bot, start_server
from tests.support.fake_github import FakeGitHub

# Fixtures of the reporter tests (a local OIDC issuer, a bot that trusts it).
# PostgreSQL: a server a session, a fresh database a test (`postgres_url`).
pytest_plugins = ["tests.support.reporter_kit", "tests.support.pg_fixtures"]


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    runner, url = await start_server(fake.app)
    fake.url = url
    yield fake
    await runner.cleanup()


@pytest.fixture(scope="session")
def app_key() -> tuple[str, Any]:
    """A GitHub App private key (PEM) and its public key, for App-mode bots."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


@pytest.fixture(scope="session")
def app_pem(app_key: tuple[str, Any]) -> str:
    return app_key[0]


@pytest.fixture
def bot_env(tmp_path: Path, github: FakeGitHub) -> dict[str, str]:
    """Token mode against the fake GitHub, signed webhooks, no comment debounce."""
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/audit.db",
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_TOKEN": "ghp_test_token",
        "GITHUB_API_URL": github.url,
        "HOST": "127.0.0.1",
        "PUBLIC_URL": "https://audit.example.test",
        "AUDIT_COMMENT_DEBOUNCE_SECONDS": "0",
    }


@pytest.fixture
async def make_bot(bot_env: dict[str, str]) -> AsyncIterator[Callable[..., Any]]:
    started: list[Bot] = []

    async def make(**env: str) -> Bot:
        bot = Bot({**bot_env, **env})
        started.append(bot)
        return await bot.start()

    yield make
    for bot in started:
        await bot.stop()


@pytest.fixture
async def bot(make_bot: Callable[..., Any]) -> Bot:
    return await make_bot()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: suites must never skip silently there."""
    import os

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") == "true" and skipped and exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"CI: {skipped} test(s) skipped; failing the run", red=True)
