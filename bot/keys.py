"""Typed application state keys (aiohttp `web.AppKey`).

The value types are named for type checkers only (`TYPE_CHECKING`), so importing the
keys loads none of the modules that own those values: every layer may import this
module without pulling in the store, the outbox, the GitHub client or auth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    import aiohttp

    from bot.auth import Authenticator
    from bot.auth.user_access import SignIn
    from bot.config import Settings
    from bot.github.client import GitHub
    from bot.store.base import Store
    from bot.workers.notify import RunNotifier
    from bot.workers.outbox import OutboxWorker

# `AppKey(name)` without a runtime type: the annotation carries it for type checkers.
SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
STORE: web.AppKey[Store] = web.AppKey("store")
OUTBOX: web.AppKey[OutboxWorker] = web.AppKey("outbox")
GITHUB: web.AppKey[GitHub] = web.AppKey("github")  # absent in dry run
SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session")
STATS: web.AppKey[dict[Any, int]] = web.AppKey("stats")
NOTIFIER: web.AppKey[RunNotifier] = web.AppKey("notifier")
AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("authenticator")  # reporter credentials
SIGNIN: web.AppKey[SignIn] = web.AppKey("signin")  # "Sign in with GitHub", when configured
