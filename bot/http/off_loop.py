"""Work whose cost grows with a run (rendering a page, building a large JSON answer)
runs in a worker thread, never on the event loop that answers webhooks.

The thread still shares the GIL, but Python hands it back to the loop every few
milliseconds (`sys.getswitchinterval`), so a slow render delays other requests by
milliseconds instead of blocking them for its whole length.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from aiohttp import web

P = ParamSpec("P")
T = TypeVar("T")


async def off_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in the default executor's worker threads."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def json_answer(
    build: Callable[[], Any], *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response whose body is built and serialised in a worker thread."""

    def text() -> str:
        return json.dumps(build())

    return web.json_response(text=await off_loop(text), status=status, headers=headers)
