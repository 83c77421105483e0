"""Events about the App itself: acknowledged and kept in the bot-level log."""

from __future__ import annotations

from gidgethub import routing, sansio

from bot.handlers.context import Plan
from bot.handlers.payload import opt
from bot.trail.intents import BotLog

router = routing.Router()


@router.register("ping")
async def ping(event: sansio.Event, plan: Plan) -> None:
    plan.add(
        BotLog("ping", {"zen": opt(event.data, "zen"), "hook_id": opt(event.data, "hook_id", int)})
    )


@router.register("installation")
@router.register("installation_repositories")
@router.register("installation_target")
async def installation(event: sansio.Event, plan: Plan) -> None:
    data = event.data
    repos = [
        r.get("full_name")
        for key in ("repositories", "repositories_added", "repositories_removed")
        for r in (data.get(key) or [])
        if isinstance(r, dict)
    ]
    plan.add(
        BotLog(
            event.event,
            {
                "action": opt(data, "action"),
                "installation_id": opt(data, "installation.id", int),
                "account": opt(data, "installation.account.login"),
                "repositories": repos,
            },
        )
    )
