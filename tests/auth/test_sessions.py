"""Sessions of "Sign in with GitHub" on a real SQLite store, with a clock we move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.auth.sessions import LOGIN_WINDOW, Sealer, Sessions, cookie_name, record_key
from bot.store import open_store_for

KEY = "the-session-key-of-this-instance"
TOKENS = {"access": "ghu_secretaccess", "refresh": "ghr_secretrefresh", "expires_at": None}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    opened = open_store_for(f"sqlite:///{tmp_path}/audit.db", debounce=0.0)
    await opened.open()
    yield opened
    await opened.close()


def sessions(store: Any, clock: Clock, key: str = KEY) -> Sessions:
    return Sessions(store, key, idle=8 * 3600, max_age=7 * 86400, clock=clock)


async def test_a_session_lives_while_used_and_ends_at_the_idle_or_absolute_limit(
    store: Any,
) -> None:
    clock = Clock()
    mine = sessions(store, clock)
    secret = await mine.start("octo", 42, TOKENS)
    found = await mine.load(secret)
    assert found is not None and found.login == "octo" and found.tokens == TOKENS
    for _ in range(6 * 24 // 7):  # a request every 7 hours: never idle for 8
        clock.now += 7 * 3600
        assert await mine.load(secret) is not None
    clock.now += 2 * 86400  # past 7 days since sign-in, though used recently
    assert await mine.load(secret) is None
    assert await store.get_session(record_key(secret)) is None  # and dropped

    secret = await mine.start("octo", 42, TOKENS)
    clock.now += 8 * 3600 + 1
    assert await mine.load(secret) is None


async def test_another_key_opens_neither_the_cookie_nor_the_sealed_tokens(store: Any) -> None:
    clock = Clock()
    mine, theirs = sessions(store, clock), sessions(store, clock, "another-instance-key")
    secret = await mine.start("octo", 42, TOKENS)
    assert mine.secret_from(mine.cookie_value(secret)) == secret
    assert theirs.secret_from(mine.cookie_value(secret)) is None
    assert mine.secret_from(theirs.cookie_value(secret)) is None
    # a row whose seal another key made is dropped, not trusted
    assert await theirs.load(secret) is None
    assert await store.get_session(record_key(secret)) is None


async def test_a_sign_in_state_is_taken_once_and_only_while_fresh(store: Any) -> None:
    clock = Clock()
    mine = sessions(store, clock)
    await mine.begin_login("state-1", "verifier-1", "/runs/x")
    assert await mine.finish_login("state-1") == ("verifier-1", "/runs/x")
    assert await mine.finish_login("state-1") is None  # replayed
    assert await mine.finish_login("never-begun") is None
    await mine.begin_login("state-2", "verifier-2", "/")
    clock.now += LOGIN_WINDOW + 1
    assert await mine.finish_login("state-2") is None


def test_sealing_binds_the_row_and_the_key() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal({"access": "ghu_x"}, "row-1")
    assert "ghu_x" not in sealed
    assert sealer.open(sealed, "row-1") == {"access": "ghu_x"}
    assert sealer.open(sealed, "row-2") is None
    assert Sealer("another-key-entirely").open(sealed, "row-1") is None
    assert sealer.open("not base64 !", "row-1") is None
    assert sealer.seal({"a": 1}, "r") != sealer.seal({"a": 1}, "r")  # fresh nonces


def test_cookie_names_take_the_host_prefix_only_over_https() -> None:
    assert cookie_name("https://audit.example", "s") == "__Host-s"
    assert cookie_name("http://127.0.0.1:8000", "s") == "s"
    assert cookie_name(None, "s") == "s"
