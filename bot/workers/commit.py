"""Committing a command, and what follows every commit on this instance.

Webhooks and the reporter API both end here: apply in one transaction, then wake
the outbox (GitHub side effects) and notify live readers. Nothing here talks to
GitHub; that stays off the request path.
"""

from __future__ import annotations

from aiohttp import web

from bot import keys
from bot.github.event_names import counted_event
from bot.trail.intents import Command, CommandResult

EVENTS_APPENDED = "events_appended"  # key in app[keys.STATS]: events this instance appended


async def commit(app: web.Application, command: Command) -> CommandResult:
    result = await app[keys.STORE].apply(command)
    stats = app[keys.STATS]
    source = command.source
    event = counted_event(source.event) if source.kind == "webhook" else source.event
    counter = (source.kind, event, result.outcome)
    stats[counter] = stats.get(counter, 0) + 1
    stats[EVENTS_APPENDED] = stats.get(EVENTS_APPENDED, 0) + result.events
    if result.prs:
        app[keys.OUTBOX].wake()
    if result.events:
        app[keys.NOTIFIER].publish(result.runs)
    return result
