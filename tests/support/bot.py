"""The bot served on loopback and the webhook helpers the end-to-end tests share."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot import keys
from bot.app import create_app
from bot.config import load_settings
from bot.http import server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SECRET = "test-webhook-secret"
REPO = "Codertocat/Hello-World"
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def load_payload(name: str, **changes: Any) -> dict[str, Any]:
    """A real example payload, with dotted-path `changes` (`pull_request__number=3`)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    for dotted, value in changes.items():
        node = data
        parts = dotted.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return copy.deepcopy(data)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def start_server(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


class Bot:
    """The bot served on loopback, restartable on the same database."""

    def __init__(self, env: dict[str, str], port: int = 0) -> None:
        self.env = env
        self.port = port  # 0: any free port
        self.app: web.Application | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> Bot:
        settings = load_settings(self.env)
        self.app = create_app(settings)
        # served as `audit-bot serve` serves it: with the server's read timeouts
        self.runner, port = await server.start(self.app, settings, "127.0.0.1", self.port)
        self.url = f"http://127.0.0.1:{port}"
        self.session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()
        self.runner = self.session = None

    async def restart(self) -> Bot:
        await self.stop()
        return await self.start()

    @property
    def store(self) -> Any:
        assert self.app is not None
        return self.app[keys.STORE]

    async def deliver(
        self,
        event: str,
        payload: Any,
        *,
        delivery: str | None = None,
        secret: str | None = SECRET,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        body = raw if raw is not None else json.dumps(payload).encode()
        sent = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        if secret is not None:
            sent["X-Hub-Signature-256"] = sign(body, secret)
        sent.update(headers or {})
        sent = {k: v for k, v in sent.items() if v is not None}
        return await self.request("POST", "/webhook", data=body, headers=sent)

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        assert self.session is not None
        async with self.session.request(method, self.url + path, **kwargs) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def drain_until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        """Deliver rows due later (after a backoff) now, as shutdown does, until `check()`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await self.app[keys.OUTBOX].drain()  # type: ignore[index]
            if check():
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("outbox rows were not delivered in time")
            await asyncio.sleep(0.02)

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the outbox has nothing pending (every side effect done)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            status = await self.store.outbox_status()
            if status["pending"] == 0:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"outbox did not settle: {status}")
            await asyncio.sleep(0.02)
