"""A store opened read-only (verify, export) reads what is there and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import open_store_for
from bot.store.base import RunFilter
from bot.trail import events as ev
from bot.trail import intents as it


def opened(pr: int) -> it.Command:
    spec = it.RunSpec("pr", "acme/widgets", pr, "a" * 40, installation_id=1, private=False)
    source = ev.Source("webhook", f"delivery-{pr}", "pull_request", "opened")
    return it.Command(source, [it.OpenRun(f"pr:acme/widgets#{pr}", spec, [])])


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/audit.db"
    return str(request.getfixturevalue("postgres_url"))


async def test_a_read_only_store_reads_runs_and_refuses_writes(url: str) -> None:
    writer = open_store_for(url, debounce=0.0)
    await writer.open()
    try:
        run_id = (await writer.apply(opened(2))).opened[0]
    finally:
        await writer.close()

    reader = open_store_for(url, debounce=0.0, read_only=True)
    await reader.open()
    try:
        assert [r["id"] for r in await reader.list_runs(RunFilter())] == [run_id]
        assert [e.seq for e in await reader.get_events(run_id)] == [1]
        with pytest.raises(Exception, match="read-only"):
            await reader.apply(opened(3))
        assert len(await reader.list_runs(RunFilter())) == 1
    finally:
        await reader.close()


async def test_a_read_only_store_needs_an_existing_audit_bot_database(tmp_path: Path) -> None:
    missing = open_store_for(f"sqlite:///{tmp_path}/nothing.db", read_only=True)
    with pytest.raises(Exception, match="no database at"):
        await missing.open()
    assert not (tmp_path / "nothing.db").exists()
