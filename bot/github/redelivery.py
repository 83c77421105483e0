"""Missed deliveries: ask GitHub to redeliver webhooks the bot never acknowledged.

GitHub does not retry a failed delivery by itself. In App mode the bot lists the
App's hook deliveries (`GET /app/hook/deliveries`, App JWT) on start and then every
`AUDIT_REDELIVERY_INTERVAL_SECONDS`, newest first, down to the highest delivery id
it saw on the previous pass (a high-water mark kept in the store) or GitHub's
three-day redelivery window. Attempts are grouped by `guid` (the `X-GitHub-Delivery`
that stays the same on redelivery); a guid with no OK attempt that the deliveries
table does not hold is redelivered once per pass, and at most `MAX_REQUESTS` times
in all, so a delivery the bot refuses for good (say a 400) is not asked for forever.
Dedupe by delivery id makes a redelivery that raced a late success harmless.

A request GitHub refuses (an outage, a rate limit) leaves no new attempt to find, so
the high-water mark stays below it and the next pass asks again (within the limit).
The per-guid counts are forgotten once their deliveries are out of GitHub's window.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from gidgethub import GitHubException

from bot import keys
from bot.trail.times import parse_time
from bot.workers.periodic import every

log = logging.getLogger(__name__)

MARK = "redelivery.high_water"  # the highest hook delivery id seen so far
ASKED = "redelivery.asked."  # + guid: "requests so far:hook delivery id last asked for"
WINDOW = 3 * 86400.0  # GitHub redelivers only deliveries from the last three days
MAX_REQUESTS = 3


def _ok(attempt: Mapping[str, Any]) -> bool:
    code = attempt.get("status_code")
    return attempt.get("status") == "OK" or (isinstance(code, int) and 200 <= code < 300)


def _at(attempt: Mapping[str, Any]) -> float | None:
    try:
        return parse_time(str(attempt["delivered_at"])).timestamp()
    except (KeyError, ValueError):
        return None


def _asked(value: str | None) -> tuple[int, int | None]:
    """A guid's `ASKED` value: how many requests so far, and the attempt id last asked for."""
    count, _, last = (value or "0").partition(":")
    return int(count), int(last) if last else None


def _asked_value(count: int, last: int | None) -> str:
    """The `ASKED` value `_asked` reads back as (count, last)."""
    return f"{count}:{last}" if last else str(count)


async def check_once(app: web.Application, now: float | None = None) -> list[int]:
    """One pass; returns the hook delivery ids whose redelivery was requested."""
    github = app.get(keys.GITHUB)
    if github is None or not github.credentials.is_app:
        return []
    store = app[keys.STORE]
    when = time.time() if now is None else now
    mark = int(await store.get_state(MARK) or 0)
    gh = github.app_api()
    jwt = github.credentials.app_jwt()
    attempts: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    highest = mark
    async for attempt in gh.getiter("/app/hook/deliveries?per_page=100", jwt=jwt):
        number = int(attempt.get("id") or 0)
        at = _at(attempt)
        if number <= mark or (at is not None and at < when - WINDOW):
            break  # listed newest first: everything further down was seen or is too old
        highest = max(highest, number)
        if attempt.get("guid"):
            attempts[str(attempt["guid"])].append(attempt)
    failed = {guid: group for guid, group in attempts.items() if not any(map(_ok, group))}
    recorded = await store.known_deliveries(list(failed)) if failed else set()
    asked: list[int] = []
    refused: list[int] = []  # hook delivery ids whose redelivery GitHub did not take
    for guid, group in failed.items():
        if guid in recorded:
            continue  # GitHub saw a failure (a timeout, say) but the events are committed
        count, last_asked = _asked(await store.get_state(ASKED + guid))
        newest = max(group, key=lambda a: int(a["id"]))
        number = int(newest["id"])
        extra = {"delivery": guid}
        if last_asked == number:
            continue  # listed again (below a refused one): its redelivery is under way
        if count >= MAX_REQUESTS:
            log.warning(
                "delivery %s (%s) still failing after %d redeliveries; giving up",
                guid,
                newest.get("event"),
                count,
                extra=extra,
            )
            continue
        try:
            await gh.post(f"/app/hook/deliveries/{number}/attempts", data=b"", jwt=jwt)
        except GitHubException as exc:
            log.warning("redelivery of %s refused: %s", guid, exc, extra=extra)
            refused.append(number)
            value = _asked_value(count + 1, last_asked)
        else:
            value = _asked_value(count + 1, number)
            asked.append(number)
            log.info(
                "asked GitHub to redeliver %s (%s, last answer %s)",
                guid,
                newest.get("event"),
                newest.get("status_code"),
                extra=extra,
            )
        await store.set_state(ASKED + guid, value)
    if refused:  # list them again next time: no new attempt will stand above them
        highest = min(highest, min(refused) - 1)
    if highest > mark:
        await store.set_state(MARK, str(highest))
    await store.prune_state(ASKED, when - WINDOW)
    return asked


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
