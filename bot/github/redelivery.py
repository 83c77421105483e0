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
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from gidgethub import GitHubException

from bot import keys
from bot.trail.times import parse_time

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


@dataclass(frozen=True)
class Ask:
    """A redelivery to request: the guid's newest failed attempt, and its count so far."""

    guid: str
    newest: Mapping[str, Any]  # the attempt asked for (its event and answer are logged)
    count: int  # requests made before this one
    last_asked: int | None  # the attempt id last asked for

    @property
    def number(self) -> int:
        return int(self.newest["id"])


def is_past(attempt: Mapping[str, Any], mark: int, now: float) -> bool:
    """True at the first attempt already seen or out of GitHub's window: listed newest
    first, everything further down is too."""
    at = _at(attempt)
    return int(attempt.get("id") or 0) <= mark or (at is not None and at < now - WINDOW)


def failing(attempts: Mapping[str, list[Mapping[str, Any]]]) -> dict[str, list[Mapping[str, Any]]]:
    """The guids none of whose attempts was answered OK."""
    return {guid: group for guid, group in attempts.items() if not any(map(_ok, group))}


def choose(
    failed: Mapping[str, list[Mapping[str, Any]]], asked: Mapping[str, str | None]
) -> tuple[list[Ask], list[Ask]]:
    """Which failed guids to ask a redelivery for, and which to give up on.

    `asked` holds the `ASKED` value of each guid the deliveries table does not hold;
    the others (GitHub saw a failure, a timeout say, but the events are committed)
    are left alone. A guid whose newest attempt was already asked for is waited on.
    """
    wanted: list[Ask] = []
    given_up: list[Ask] = []
    for guid, group in failed.items():
        if guid not in asked:
            continue
        count, last_asked = _asked(asked[guid])
        ask = Ask(guid, max(group, key=lambda a: int(a["id"])), count, last_asked)
        if last_asked == ask.number:
            continue  # listed again (below a refused one): its redelivery is under way
        (given_up if count >= MAX_REQUESTS else wanted).append(ask)
    return wanted, given_up


def asked_after(ask: Ask, accepted: bool) -> str:
    """The guid's `ASKED` value once GitHub took (or refused) the request."""
    return _asked_value(ask.count + 1, ask.number if accepted else ask.last_asked)


def high_water(mark: int, highest: int, refused: list[int]) -> int | None:
    """The new high-water mark to store, or None to keep `mark`.

    Refused requests leave no new attempt to find, so the mark stays below them and
    the next pass lists them again.
    """
    if refused:
        highest = min(highest, min(refused) - 1)
    return highest if highest > mark else None


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
        if is_past(attempt, mark, when):
            break
        highest = max(highest, int(attempt.get("id") or 0))
        if attempt.get("guid"):
            attempts[str(attempt["guid"])].append(attempt)
    failed = failing(attempts)
    recorded = await store.known_deliveries(list(failed)) if failed else set()
    asked = {g: await store.get_state(ASKED + g) for g in failed if g not in recorded}
    wanted, given_up = choose(failed, asked)
    for ask in given_up:
        log.warning(
            "delivery %s (%s) still failing after %d redeliveries; giving up",
            ask.guid,
            ask.newest.get("event"),
            ask.count,
            extra={"delivery": ask.guid},
        )
    accepted: list[int] = []
    refused: list[int] = []  # hook delivery ids whose redelivery GitHub did not take
    for ask in wanted:
        took = await _request(gh, jwt, ask)
        (accepted if took else refused).append(ask.number)
        await store.set_state(ASKED + ask.guid, asked_after(ask, took))
    new_mark = high_water(mark, highest, refused)
    if new_mark is not None:
        await store.set_state(MARK, str(new_mark))
    await store.prune_state(ASKED, when - WINDOW)
    return accepted


async def _request(gh: Any, jwt: str, ask: Ask) -> bool:
    """Ask GitHub for one redelivery; False when it refused (an outage, a rate limit)."""
    extra = {"delivery": ask.guid}
    try:
        await gh.post(f"/app/hook/deliveries/{ask.number}/attempts", data=b"", jwt=jwt)
    except GitHubException as exc:
        log.warning("redelivery of %s refused: %s", ask.guid, exc, extra=extra)
        return False
    log.info(
        "asked GitHub to redeliver %s (%s, last answer %s)",
        ask.guid,
        ask.newest.get("event"),
        ask.newest.get("status_code"),
        extra=extra,
    )
    return True
