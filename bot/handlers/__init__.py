"""Webhook handlers: each event family (`pull_requests`, `reviews`, `ci`,
`app_events`) turns a verified delivery into intents, composed here into one router
and the planner; `context` is what every handler receives, `payload` reads fields.

Handlers are pure (payload in, intents out): they may import the root helpers,
`trail`, `render`, `store` and `github`, and write nothing themselves. Sub-routers
register first; `Router(*others)` copies their routes when built.
"""

from __future__ import annotations

from gidgethub import routing, sansio

from bot.handlers import app_events, ci, pull_requests, reviews
from bot.handlers.context import Plan, PlanOptions
from bot.handlers.payload import PayloadError
from bot.trail.events import Source
from bot.trail.intents import Command

router = routing.Router(pull_requests.router, reviews.router, ci.router, app_events.router)


async def plan_delivery(event: sansio.Event, options: PlanOptions | None = None) -> Command:
    """Turn a verified delivery into one command; unknown events become 'ignored'.

    Handlers are awaited one by one: they are pure, so the first failure (a
    `PayloadError`) is the caller's 400 and nothing is written.
    """
    action = event.data.get("action") if isinstance(event.data, dict) else None
    if action is not None and not isinstance(action, str):  # the router hashes it
        raise PayloadError("action", "a string")
    plan = Plan(
        Source("webhook", event.delivery_id, event.event, action), options=options or PlanOptions()
    )
    for callback in router.fetch(event):
        await callback(event, plan)
    return Command(plan.source, plan.intents, outcome="recorded" if plan.handled else "ignored")
