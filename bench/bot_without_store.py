"""The bot with its store's writes taken out: an upper bound, for the benchmark only.

Everything a delivery goes through before and after the store runs as in the real bot
(the aiohttp app and its middlewares, the signature check, parsing, planning, the log
line and the answer); `Store.apply` answers at once without writing anything. Whatever
this reaches is the most any store could let the bot reach on the machine, so
`webhook_throughput.py` prints it beside the ceiling to show how much of the gap is the
request path and how much is durable writing. Never a way to run the bot.

Configured like the bot: HOST, PORT, GITHUB_WEBHOOK_SECRET, DATABASE_URL (SQLite; opened
and migrated, then never written by deliveries).
"""

from __future__ import annotations

import sys
from typing import Any

from bot.__main__ import main
from bot.store.sqlite import SQLiteStore
from bot.trail.intents import Command, CommandResult


async def _apply_nothing(self: Any, command: Command) -> CommandResult:
    """What a store would answer for a delivery that changed nothing."""
    return CommandResult(outcome="recorded")


if __name__ == "__main__":
    SQLiteStore.apply = _apply_nothing  # type: ignore[method-assign]
    sys.exit(main(["serve"]))
