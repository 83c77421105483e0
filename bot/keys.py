"""Typed application state keys (aiohttp `web.AppKey`)."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from bot.auth import Authenticator
from bot.config import Settings
from bot.github.client import GitHub
from bot.notify import RunNotifier
from bot.outbox import OutboxWorker
from bot.store.base import Store

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
OUTBOX = web.AppKey("outbox", OutboxWorker)
GITHUB = web.AppKey("github", GitHub)  # absent in dry run
SESSION = web.AppKey("session", aiohttp.ClientSession)
STATS = web.AppKey("stats", dict[Any, int])
NOTIFIER = web.AppKey("notifier", RunNotifier)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)  # reporter credentials
