"""Who may take over outbox claims on a SQLite file: the bot starting, not a CLI command."""

from __future__ import annotations

import time
from pathlib import Path

from bot.store import open_store_for
from bot.trail import events as ev
from bot.trail import intents as it


def opened(pr: int) -> it.Command:
    spec = it.RunSpec("pr", "acme/widgets", pr, "a" * 40, installation_id=1, private=False)
    source = ev.Source("webhook", f"delivery-{pr}", "pull_request", "opened")
    return it.Command(source, [it.OpenRun(f"pr:acme/widgets#{pr}", spec, [])])


async def test_a_cli_command_leaves_a_running_bots_claims_and_a_restart_takes_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/audit.db"
    bot = open_store_for(url, debounce=0.0, serving=True)
    await bot.open()
    try:
        await bot.apply(opened(2))
        now = time.time()
        [claimed] = await bot.claim_outbox("bot", now, 120.0, 8)
        # `audit-bot verify` (or export, import, rebuild) opens the file beside it.
        tool = open_store_for(url, debounce=0.0)
        await tool.open()
        await tool.close()
        assert await bot.claim_outbox("another", now + 1, 120.0, 8) == []  # still the bot's
    finally:
        await bot.close()
    # The bot was killed holding it: the next bot process takes it over at start.
    restarted = open_store_for(url, debounce=0.0, serving=True)
    await restarted.open()
    try:
        [again] = await restarted.claim_outbox("restarted", now + 1, 120.0, 8)
        assert again.key == claimed.key
    finally:
        await restarted.close()
