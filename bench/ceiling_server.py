"""The throughput ceiling: the least a webhook receiver can do on aiohttp.

It reads the body, checks the `X-Hub-Signature-256` HMAC and answers 200. The bot has
to do all of that too, so whatever this server reaches on a machine is the most the bot
could reach there; `webhook_throughput.py` reports the bot as a fraction of it.

Configured like the bot, from the environment: HOST, PORT, GITHUB_WEBHOOK_SECRET.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys

from aiohttp import web

SECRET_KEY: web.AppKey[bytes] = web.AppKey("secret", bytes)
OK_BODY = b'{"ok":true}'


def signed(request: web.Request, body: bytes, secret: bytes) -> bool:
    """Whether `X-Hub-Signature-256` is the HMAC of `body` (the check every receiver makes)."""
    header = request.headers.get("X-Hub-Signature-256", "")
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.encode(), expected.encode())


async def webhook(request: web.Request) -> web.Response:
    """Verify the signature over the raw body; nothing is parsed or stored."""
    body = await request.read()
    if not signed(request, body, request.app[SECRET_KEY]):
        return web.Response(status=401, text="bad signature")
    return web.Response(body=OK_BODY, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    """Readiness probe, polled by the benchmark before it sends load."""
    return web.Response(text="ok")


def create_app(secret: bytes) -> web.Application:
    """Build the two-route app."""
    app = web.Application()
    app[SECRET_KEY] = secret
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> int:
    """Serve until terminated; a missing secret is an error, as it is for the bot."""
    secret = os.environ.get("GITHUB_WEBHOOK_SECRET", "")
    if not secret:
        print("GITHUB_WEBHOOK_SECRET is required", file=sys.stderr)
        return 2
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    web.run_app(create_app(secret.encode()), host=host, port=port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
