"""Typed application state keys (aiohttp `web.AppKey`)."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from bot.auth import Authenticator
from bot.config import Settings
from bot.github.client import GitHub
from bot.store.base import Store
from bot.workers.notify import RunNotifier
from bot.workers.outbox import OutboxWorker

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
OUTBOX = web.AppKey("outbox", OutboxWorker)
GITHUB = web.AppKey("github", GitHub)  # absent in dry run
SESSION = web.AppKey("session", aiohttp.ClientSession)
STATS = web.AppKey("stats", dict[Any, int])
NOTIFIER = web.AppKey("notifier", RunNotifier)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)  # reporter credentials
