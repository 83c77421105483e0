"""The per-day spend rollups: what one spend event adds to them, and how sums come back.

Every spend event adds its amount to one row of `spend_daily`, keyed by
(run, UTC day, category, model, currency) and carrying what a query filters or groups
on (repository, PR, run kind, private flag), and to one row of the coarser
`spend_rollup`, keyed by (repository, day, kind, category, model, currency, private),
whose run counters `RollupRow.marks` keeps exact (a run counted once per bucket).
`GET /api/spend`, the repository pages and `audit-bot spend` sum these rows instead
of reading events.

Exactness. Amounts have at most 30 integer digits and 18 decimal places
(`bot.trail.money`), too many for one 64-bit integer and SQLite has no decimal type,
so an amount is kept as four integer columns, each below 10^15:

    amount = hi * 10^15 + units + nano * 10^-9 + atto * 10^-18

`hi`/`units` split the integer part, `nano`/`atto` the 18 decimal places. SQL sums
each column on its own (integer sums are exact in both databases; SQLite raises
"integer overflow" rather than round, and only past 9.2 * 10^18 of a column), and
`amount_from_parts` recombines them with `Decimal`, so every figure is exact to the
last digit without summing text in Python row by row.

Days are numbered from 1970-01-01 (`epoch_day`), so a week's bucket is plain integer
arithmetic in both SQL dialects: weeks start on Monday (ISO 8601).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.trail import events as ev
from bot.trail.money import EXACT, canonical_amount

EPOCH = date(1970, 1, 1)
_PART = 10**15
_NANO = 10**9
NO_MODEL = ""  # the model column of a spend without one
INTERVALS = ("day", "week", "month")
DIMENSIONS = ("kind", "category", "model", "repo", "pr")


def amount_parts(amount: Decimal) -> tuple[int, int, int, int]:
    """(hi, units, nano, atto) of a non-negative amount with ≤ 18 decimal places."""
    scaled = int(EXACT.multiply(amount, Decimal(10) ** 18))
    whole, fraction = divmod(scaled, 10**18)
    hi, units = divmod(whole, _PART)
    nano, atto = divmod(fraction, _NANO)
    return hi, units, nano, atto


def amount_from_parts(hi: Any, units: Any, nano: Any, atto: Any) -> Decimal:
    """The exact amount that summed parts stand for (any column may exceed its range)."""
    scaled = ((int(hi) * _PART + int(units)) * _NANO + int(nano)) * _NANO + int(atto)
    return EXACT.divide(Decimal(scaled), Decimal(10) ** 18)


def amount_text(amount: Decimal) -> str:
    return canonical_amount(amount)


def epoch_day(day: date) -> int:
    return (day - EPOCH).days


def day_of(number: int) -> date:
    return EPOCH + timedelta(days=number)


def day_of_time(iso: str) -> int:
    """The UTC day number of a trail time (`2026-11-01T12:00:00.000Z`)."""
    return epoch_day(date.fromisoformat(iso[:10]))


def week_start(number: int) -> int:
    """The Monday on or before a day (1970-01-01 was a Thursday)."""
    return number - (number + 3) % 7


def month_key(number: int) -> int:
    """A month as year * 12 + month - 1 (what `spend_daily.month` holds)."""
    day = day_of(number)
    return day.year * 12 + day.month - 1


def month_bounds(key: int) -> tuple[date, date]:
    year, month = divmod(key, 12)
    start = date(year, month + 1, 1)
    end = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return start, end


def bucket_bounds(interval: str, bucket: int) -> tuple[date, date]:
    """The [start, end) dates of a bucket as the query groups it."""
    if interval == "month":
        return month_bounds(bucket)
    start = day_of(bucket)
    return start, start + timedelta(days=7 if interval == "week" else 1)


@dataclass(frozen=True)
class RollupRow:
    """One event's addition to `spend_daily` (SQL `SPEND_ADD` column order)."""

    run_id: str
    day: int
    month: int
    category: str
    model: str
    currency: str
    repo: str
    pr: int | None
    kind: str
    private: int
    hi: int
    units: int
    nano: int
    atto: int

    def marks(self) -> list[str]:
        """What this spend may count the run for, in `SPEND_COUNTERS` order: per
        dimension (any, category, model), per period (day, week, month)."""
        periods = (f"d{self.day}", f"w{week_start(self.day)}", f"m{self.month}")
        dims = ("r:", f"c:{self.category}", f"m:{self.model}")
        return [f"{period}:{dim}" for dim in dims for period in periods]

    def coarse_values(self, counted: Sequence[int]) -> tuple[Any, ...]:
        """A `spend_rollup` row (SQL `SPEND_ROLLUP_ADD` order) adding this spend."""
        return (
            self.repo.lower(),
            self.day,
            self.kind,
            self.category,
            self.model,
            self.currency,
            self.private,
            self.repo,
            self.month,
            self.hi,
            self.units,
            self.nano,
            self.atto,
            *counted,
        )

    def values(self) -> tuple[Any, ...]:
        return (
            self.run_id,
            self.day,
            self.month,
            self.category,
            self.model,
            self.currency,
            self.repo,
            self.pr,
            self.kind,
            self.private,
            self.hi,
            self.units,
            self.nano,
            self.atto,
        )


def rollup_rows(state: Mapping[str, Any], events: Iterable[ev.Event]) -> list[RollupRow]:
    """What these events (of the run whose state is given) add to the rollup."""
    found: list[RollupRow] = []
    for event in events:
        if event.type != ev.SPEND or "amount" not in event.data:
            continue
        data = event.data
        day = day_of_time(event.at)
        hi, units, nano, atto = amount_parts(Decimal(str(data["amount"])))
        found.append(
            RollupRow(
                run_id=str(state["id"]),
                day=day,
                month=month_key(day),
                category=str(data.get("category") or "other"),
                model=str(data.get("model") or NO_MODEL),
                currency=str(data["currency"]),
                repo=str(state.get("repo") or ""),
                pr=state.get("pr"),
                kind=str(state.get("kind") or ""),
                private=0 if state.get("private") is False else 1,
                hi=hi,
                units=units,
                nano=nano,
                atto=atto,
            )
        )
    return found


# -- answers ------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendQuery:
    """What `GET /api/spend` (and the pages, the CLI) ask the store for.

    `since_day`/`until_day` are day numbers, until exclusive. Private rows are
    counted only when `all_private` is set or their repository is in
    `private_repos` (lower-case) or their (repository, PR) in `private_prs`.
    """

    since_day: int
    until_day: int
    interval: str = "week"
    by: str = "kind"
    repo: str | None = None
    owner: str | None = None
    currency: str | None = None
    all_private: bool = False
    private_repos: tuple[str, ...] = ()
    private_prs: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Bucket:
    start: date
    end: date
    key: str
    currency: str
    amount: Decimal
    runs: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "key": self.key,
            "currency": self.currency,
            "amount": canonical_amount(self.amount),
            "runs": self.runs,
        }


def key_text(by: str, value: Any, repo: Any = None) -> str:
    """A bucket's key as text: `owner/name#12` for a PR, `(none)` for no model or PR."""
    if by == "pr":
        return f"{repo}#{value}" if value is not None else f"{repo}#(none)"
    if by == "model" and not value:
        return "(none)"
    return str(value)


def buckets_from_rows(interval: str, by: str, rows: Sequence[Sequence[Any]]) -> list[Bucket]:
    """Store rows (bucket, key, [repo,] currency, hi, units, nano, atto, runs) as Buckets,
    ordered by start, key, currency."""
    found = []
    for row in rows:
        bucket, key, repo, currency, hi, units, nano, atto, runs = row
        start, end = bucket_bounds(interval, int(bucket))
        amount = amount_from_parts(hi, units, nano, atto)
        found.append(Bucket(start, end, key_text(by, key, repo), currency, amount, int(runs)))
    found.sort(key=lambda b: (b.start, b.key, b.currency))
    return found


def totals(buckets: Iterable[Bucket]) -> list[dict[str, str]]:
    """Per currency, the exact sum of the buckets, never converted."""
    sums: dict[str, Decimal] = {}
    for bucket in buckets:
        sums[bucket.currency] = EXACT.add(sums.get(bucket.currency, Decimal(0)), bucket.amount)
    return [{"currency": c, "amount": canonical_amount(sums[c])} for c in sorted(sums)]


def today_number() -> int:
    return epoch_day(datetime.now(UTC).date())
