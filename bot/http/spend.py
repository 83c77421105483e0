"""`GET /api/spend`: spend over time from the per-day rollup, exact, never converted.

A repository (`repo=owner/name`) or every repository of an owner (`owner=`), between
`since` and `until` (dates or ISO times, widened to whole UTC days: the rollup is
daily), in UTC buckets of a `day`, a `week` (ISO weeks, starting on Monday) or a
calendar `month`, grouped by one dimension (`by=kind|category|model|repo|pr`),
optionally for one `currency`. Amounts are exact decimal strings per currency.

Only runs the caller may read are counted, by the read rule of `bot.http.access`:
public repositories for anyone; a private repository's runs with the admin token,
with a reporter credential for that repository, or, one PR at a time, with that PR's
link token `t`. A private run the caller may not read is in no bucket and no total.

`Accept: text/csv` or `format=csv` answers CSV (RFC 4180, Python's `csv` module): a
header row, one bucket a line; a cell that a spreadsheet would run as a formula
(beginning with `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from typing import Any

from aiohttp import web

from bot import keys
from bot.http import params as query
from bot.http.access import LINK_PARAM, Reader, reader_for
from bot.http.openapi import AMOUNT, BAD, READERS, ApiDoc, closed, param, ref
from bot.trail.money import parse_currency
from bot.trail.spend_rollup import (
    DIMENSIONS,
    INTERVALS,
    Bucket,
    SpendQuery,
    day_of_time,
    today_number,
    totals,
)
from bot.trail.validation import InvalidInput

PARAMS = ("repo", "owner", "since", "until", "interval", "by", "currency", "format", LINK_PARAM)
OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
DEFAULT_DAYS = 365
MAX_DAYS = 3700  # ten years and a bit: a day bucket per day stays a few thousand rows
CSV = "text/csv"
CSV_HEADER = ("start", "end", "key", "currency", "amount", "runs")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def owner(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not OWNER.match(raw):
        raise query.BadParameter("owner", f"must be a GitHub account name, not {raw[:40]!r}")
    return raw


def choice(raw: str | None, name: str, allowed: tuple[str, ...], default: str) -> str:
    if raw is None:
        return default
    if raw not in allowed:
        raise query.BadParameter(name, f"must be one of {', '.join(allowed)}, not {raw[:40]!r}")
    return raw


def currency(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return parse_currency(raw)
    except InvalidInput as exc:
        raise query.BadParameter("currency", exc.reason) from None


def day_range(since_raw: str | None, until_raw: str | None) -> tuple[int, int]:
    """[since, until) as day numbers: since's day on, through until's day unless until
    is a midnight (then up to it). Defaults: through today, 365 days back."""
    until_iso = query.moment(until_raw, "until")
    since_iso = query.moment(since_raw, "since")
    if until_iso is None:
        until = today_number() + 1
    else:
        until = day_of_time(until_iso) + (0 if until_iso[11:23] == "00:00:00.000" else 1)
    since = day_of_time(since_iso) if since_iso is not None else until - DEFAULT_DAYS
    if until <= since:
        raise query.BadParameter("until", "must be after since")
    if until - since > MAX_DAYS:
        raise query.BadParameter("since", f"covers more than {MAX_DAYS} days before until")
    return since, until


def spend_query(q: Any) -> SpendQuery:
    """The query a request asks for (before the read rule narrows it)."""
    query.reject_unknown(q, PARAMS)
    repo = query.repo(q.get("repo"))
    account = owner(q.get("owner"))
    if (repo is None) == (account is None):
        raise query.BadParameter("repo", "or owner is required (one of them, not both)")
    since, until = day_range(q.get("since"), q.get("until"))
    return SpendQuery(
        since_day=since,
        until_day=until,
        interval=choice(q.get("interval"), "interval", INTERVALS, "week"),
        by=choice(q.get("by"), "by", DIMENSIONS, "kind"),
        repo=repo,
        owner=account,
        currency=currency(q.get("currency")),
    )


async def readable(store: Any, wanted: SpendQuery, reader: Reader) -> SpendQuery:
    """`wanted` narrowed to what this reader may read (the one read rule)."""
    if reader.admin:
        return dataclasses.replace(wanted, all_private=True)
    if reader.principal is None and reader.user is None and not (reader.token and reader.link_key):
        return wanted
    repos: set[str] = set()
    prs: set[tuple[str, int]] = set()
    for repo, pr in await store.spend_private_scopes(wanted):
        if reader.may_read_repo(repo):
            repos.add(repo.lower())
        elif pr is not None and reader.may_read_pr(repo, int(pr)):
            prs.add((repo.lower(), int(pr)))
    return dataclasses.replace(
        wanted, private_repos=tuple(sorted(repos)), private_prs=tuple(sorted(prs))
    )


async def spend_for(request: web.Request, wanted: SpendQuery) -> list[Bucket]:
    """The buckets of `wanted` this request's caller may see."""
    store = request.app[keys.STORE]
    return list(await store.spend(await readable(store, wanted, await reader_for(request))))


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(buckets: list[Bucket]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for bucket in buckets:
        row = bucket.as_dict()
        writer.writerow([safe_cell(row[column]) for column in CSV_HEADER])
    return out.getvalue()


def wants_csv(request: web.Request) -> bool:
    fmt = request.query.get("format")
    if fmt is not None:
        if fmt not in ("json", "csv"):
            raise query.BadParameter("format", "must be json or csv")
        return fmt == "csv"
    return CSV in request.headers.get("Accept", "")


async def get_spend(request: web.Request) -> web.Response:
    wanted = spend_query(request.query)
    as_csv = wants_csv(request)
    buckets = await spend_for(request, wanted)
    if as_csv:
        return web.Response(
            text=csv_text(buckets),
            content_type=CSV,
            headers={"Content-Disposition": 'attachment; filename="spend.csv"'},
        )
    return web.json_response({"buckets": [b.as_dict() for b in buckets], "totals": totals(buckets)})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/spend", get_spend)


_DATE = {"type": "string", "format": "date", "description": "a UTC day (ISO 8601 date)"}
_BUCKET = closed(
    {
        "start": {**_DATE, "description": "the bucket's first day"},
        "end": {**_DATE, "description": "the day after the bucket's last (exclusive)"},
        "key": {
            "type": "string",
            "description": "the `by` value: a run kind, category, model (`(none)` when "
            "unnamed), repository, or `owner/name#PR`",
        },
        "currency": {"type": "string"},
        "amount": AMOUNT,
        "runs": {"type": "integer", "minimum": 1, "description": "runs with spend in it"},
    }
)
_SPEND = closed(
    {
        "buckets": {"type": "array", "items": ref("SpendBucket")},
        "totals": {
            "type": "array",
            "items": closed({"currency": {"type": "string"}, "amount": AMOUNT}),
        },
    }
)
_STRING = {"type": "string"}
DOC = ApiDoc(
    schemas={"SpendBucket": _BUCKET, "Spend": _SPEND},
    paths={
        "/api/spend": {
            "get": {
                "summary": "Spend over time for a repository or an owner, exact per currency",
                "description": (
                    "Sums the per-day spend rollup into UTC buckets (`week`s start on "
                    "Monday; `since`/`until` are widened to whole UTC days, until "
                    "exclusive at midnight; by default the last 365 days). Only runs the "
                    "caller may read are counted, in buckets and in totals. Amounts are "
                    "never converted between currencies. `Accept: text/csv` or "
                    "`format=csv` answers CSV: a header row, one bucket a line, formula-"
                    "like cells prefixed with `'`."
                ),
                "operationId": "getSpend",
                "security": READERS,
                "parameters": [
                    param("repo", "query", _STRING, "owner/name (or `owner`)"),
                    param("owner", "query", _STRING, "every repository of this account"),
                    param("since", "query", _STRING, "a date or ISO time (inclusive)"),
                    param("until", "query", _STRING, "a date or ISO time (exclusive)"),
                    param("interval", "query", {"enum": list(INTERVALS)}, "bucket size"),
                    param("by", "query", {"enum": list(DIMENSIONS)}, "the grouping"),
                    param("currency", "query", _STRING, "only this currency"),
                    param("format", "query", {"enum": ["json", "csv"]}, "or Accept"),
                    param(LINK_PARAM, "query", _STRING, "a PR's link token"),
                ],
                "responses": {
                    "200": {
                        "description": "buckets and totals (JSON), or CSV",
                        "content": {
                            "application/json": {"schema": ref("Spend")},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "400": BAD,
                },
            }
        }
    },
)
