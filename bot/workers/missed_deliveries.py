"""The missed-delivery check as a periodic job (App mode): `bot.github.redelivery` asks.

Scheduling lives here, beside the other jobs, so `bot.github` never reaches up into
the workers.
"""

from __future__ import annotations

from aiohttp import web

from bot import keys
from bot.github.redelivery import check_once
from bot.workers.periodic import every


def setup(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    if settings.mode == "app" and settings.redelivery_interval > 0:
        app.cleanup_ctx.append(
            every(
                "missed-delivery check",
                settings.redelivery_interval,
                check_once,
                catch_up_at_start=True,  # deliveries missed while it was down go out now
            )
        )
