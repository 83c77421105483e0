"""The outbox worker: GitHub side effects, after the commit, never on the request path.

Rows are claimed with a lease, so a crashed worker's rows come back after the lease
and a second instance never delivers the same row at the same time. Failures are
sorted into three kinds: retry soon (5xx, network), retry when GitHub says (rate
limits), or give up and record why (the PR is gone, permission removed).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
from cachetools import LRUCache
from gidgethub import BadRequest, HTTPException
from gidgethub.aiohttp import GitHubAPI

from bot.github.checks import SpendChecks
from bot.github.client import GitHub
from bot.github.comments import replace_summary_comment, upsert_summary_comment
from bot.github.errors import (
    headers_of,
    is_declined,
    is_rate_limited,
    is_server_error,
    refused_credentials,
    status_text,
)
from bot.github.pacing import Paced
from bot.github.repo_config import DEFAULTS as DEFAULT_REPO_CONFIG
from bot.github.repo_config import RepoConfig, RepoConfigs, saved_name, saved_settings
from bot.render.log_stamp import LogStamp
from bot.render.spend_check import spend_check
from bot.render.summary import (
    SummaryOptions,
    has_spend,
    headline_key,
    is_over_budget,
    render_summary,
)
from bot.store.base import SUMMARY, OutboxItem, RunFilter, Store, StoreUnavailable
from bot.store.sql import MAX_DUE_AHEAD
from bot.trail.budget import MonthSpend
from bot.trail.money import EXACT
from bot.trail.spend_rollup import SpendQuery, epoch_day, month_bounds, month_key

log = logging.getLogger(__name__)

LEASE = 120.0
# A delivery still unfinished at this share of its lease is abandoned and retried, so it
# never outlives the lease: another instance may claim the row once the lease runs out,
# and two workers writing one PR's first comment at once would post it twice.
DEADLINE_SHARE = 0.75
MAX_ATTEMPTS = 15
BASE_BACKOFF = 2.0
MAX_BACKOFF = 900.0
RATE_LIMIT_FLOOR = 60.0
SUMMARY_RUNS = 500  # older runs collapse into a counted line anyway
# The signed log (GitHub as its witness): a refresh waits up to LOG_WAIT (the documented
# merge delay) for the integrator to sign a checkpoint holding the PR's newest events,
# looking again every LOG_RECHECK s (the integrator is woken by the same commit, so this
# is normally one look). Past that it posts "pending" and the row comes back every
# LOG_FOLLOW_UP s for up to LOG_FOLLOW_UP_FOR s: the checkpoint then costs at most one
# more edit. "Pending" never names a checkpoint, so the looks in between render the same
# body and write nothing.
LOG_WAIT = 5.0
LOG_RECHECK = 0.05
LOG_FOLLOW_UP = 1.0
LOG_FOLLOW_UP_FOR = 120.0
# Summaries refreshed a second by one instance, at most, in bursts of up to SUMMARY_BURST.
# A refresh reads and renders every run of its PR, and under a burst of deliveries over
# many PRs refreshing each PR as soon as its debounce ends took more CPU than the
# deliveries themselves, on the core that answers them. The rows wait instead, each
# still one per PR (a later change to a waiting PR costs nothing more), and a waiting
# row's refresh shows every change made meanwhile. Well above what GitHub lets an
# installation write (80 a minute), so it never delays what can be posted.
SUMMARY_RATE = 5.0
SUMMARY_BURST = 8


class PermanentFailure(Exception):
    """Retrying will not help (gone, forbidden); the reason is recorded."""


class AwaitingLog(Exception):
    """The PR's newest events are not in a signed checkpoint yet: look again at `until`."""

    def __init__(self, until: float) -> None:
        super().__init__("waiting for the signed log")
        self.until = until


@dataclass(frozen=True)
class RetryAt:
    delay: float
    reason: str


def classify(exc: BaseException, attempts: int, now: float) -> RetryAt | PermanentFailure:
    """What to do after a failed GitHub call: when to retry, or why to stop."""
    if isinstance(exc, HTTPException):
        status = int(exc.status_code)
        if is_rate_limited(exc):
            return RetryAt(_rate_limit_delay(headers_of(exc), now), f"rate limited ({status})")
        if refused_credentials(exc):  # mint a new token and retry
            return RetryAt(_backoff(attempts), "GitHub refused the credentials (401)")
        if is_server_error(exc):
            return RetryAt(_backoff(attempts), f"GitHub answered {status}")
        return PermanentFailure(f"GitHub answered {status_text(status)}")
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)):
        return RetryAt(_backoff(attempts), f"network error: {type(exc).__name__}")
    if isinstance(exc, LookupError):
        return PermanentFailure(str(exc))
    return RetryAt(_backoff(attempts), f"unexpected error: {type(exc).__name__}")


def _rate_limit_delay(headers: dict[str, str], now: float) -> float:
    """`retry-after`, else until `x-ratelimit-reset`, else at least a minute."""
    try:
        if "retry-after" in headers:
            return max(1.0, float(headers["retry-after"]))
        if "x-ratelimit-reset" in headers:
            return max(RATE_LIMIT_FLOOR / 60, float(headers["x-ratelimit-reset"]) - now + 1)
    except ValueError:
        pass
    return RATE_LIMIT_FLOOR


def outbox_lag(status: Mapping[str, Any], now: float) -> float:
    """How overdue the oldest due row in `Store.outbox_status()` is (0 when none is).

    A due time more than `MAX_DUE_AHEAD` ahead was written before the clock stepped
    back: the row is due now and counts as overdue by how far it lies past that bound,
    so `/readyz` still sees a stuck outbox rather than a row seemingly not due yet.
    """
    oldest = status.get("oldest_due_at")
    if not oldest:
        return 0.0
    return max(0.0, now - oldest, oldest - now - MAX_DUE_AHEAD)


def _backoff(attempts: int) -> float:
    """Exponential backoff with full jitter, so retries from many rows spread out."""
    ceiling = min(MAX_BACKOFF, BASE_BACKOFF * 2**attempts)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        github: GitHub | None,
        *,
        debounce: float,
        options: Callable[[str, int], SummaryOptions],
        clock: Callable[[], float] = time.time,
        repo_configs: RepoConfigs | None = None,
        spend_checks: SpendChecks | None = None,
        log_stamps: bool = False,
    ) -> None:
        self.store = store
        self.github = github  # None: dry run, render and store but post nothing
        self.debounce = debounce
        self.options = options
        self.clock = clock
        # `.github/audit-bot.yml` readers and the audit-bot/spend check (App mode only)
        self.repo_configs = repo_configs
        self.spend_checks = spend_checks
        # show the signed log's checkpoint in the comment and check (this process integrates)
        self.log_stamps = log_stamps
        self._awaiting: LRUCache[str, float] = LRUCache(maxsize=4096)  # key -> first wait
        self.worker_id = uuid.uuid4().hex[:12]
        # repository -> the settings this worker last saved for the read side and the
        # reporter API (`saved_settings`), so an unchanged file costs no write
        self._saved: dict[str, str] = {}
        self.lease = LEASE
        self._wake = asyncio.Event()
        self.rate = SUMMARY_RATE
        self._credit = float(SUMMARY_BURST)  # refreshes allowed now (the token bucket)
        self._credit_at: float | None = None  # loop time the credit was counted at
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.skipped_unchanged = 0
        self.skipped_quiet = 0  # `comment.when` said there is nothing to say yet
        self.writes = 0
        self.retried = 0
        self.paced = 0
        self.failed = 0
        # Rows whose outcome (finish, retry, defer, fail) the store could not record:
        # key -> (lease end, the write). Written again before claiming anything, so a
        # storage fault does not leave them leased until the lease runs out.
        self._unsettled: dict[str, tuple[float, Callable[[], Awaitable[None]]]] = {}

    @property
    def unsettled(self) -> int:
        """Rows whose outcome waits for the store to take writes again."""
        return len(self._unsettled)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self, flush_within: float = 0.0) -> None:
        """Stop the loop; first deliver what is due, for at most `flush_within` s."""
        if flush_within > 0:
            try:
                await asyncio.wait_for(self.drain(patient=False), flush_within)
            except TimeoutError:
                log.warning(
                    "outbox not flushed within %.0f s; the rest resumes on start", flush_within
                )
            except StoreUnavailable as exc:  # logged by the store; no traceback
                log.warning("outbox not flushed (%s); pending rows resume on start", exc)
            except Exception:  # the store went away: the rows stay for the next start
                log.exception("outbox flush failed; pending rows resume on start")
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def drain(self, patient: bool = True) -> None:
        """Deliver everything pending now, ignoring the debounce window (and, unless
        `patient`, without waiting for the signed log: at shutdown).

        Rows that fail again (or are paced) are put back with their due time; a pass
        in which nothing was delivered ends the drain, so a GitHub outage during
        shutdown cannot turn it into a tight retry loop.
        """
        while True:
            items = await self.store.claim_outbox(
                self.worker_id, self.clock(), self.lease, 16, due_by=float("inf")
            )
            if not items:
                return
            done = await asyncio.gather(*(self._deliver(item, patient) for item in items))
            if not any(done):
                return

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._settle_unsettled()
                await self._pace()
                items = await self.store.claim_outbox(
                    self.worker_id, self.clock(), self.lease, SUMMARY_BURST
                )
                if items:
                    self._credit -= len(items)
                    await asyncio.gather(*(self._deliver(item) for item in items))
                    continue
                due = await self.store.next_outbox_due()
                wait = 5.0 if due is None else min(5.0, max(0.0, due - self.clock()))
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait if wait > 0 else 0.01)
            except asyncio.CancelledError:
                raise
            except StoreUnavailable:  # the store logged it; try again shortly
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("outbox loop failed; retrying in 1 s")
                await asyncio.sleep(1.0)

    async def _pace(self) -> None:
        """Wait until a refresh is allowed: at most `rate` a second, `SUMMARY_BURST` at once.
        (Loop time, not `clock`: the bound is on CPU spent, whatever the wall clock says.)"""
        now = asyncio.get_running_loop().time()
        if self._credit_at is not None:
            elapsed = now - self._credit_at
            self._credit = min(float(SUMMARY_BURST), self._credit + elapsed * self.rate)
        self._credit_at = now
        if self._credit < 1.0:
            wait = (1.0 - self._credit) / self.rate
            await asyncio.sleep(wait)
            self._credit, self._credit_at = 1.0, now + wait

    async def _deliver(self, item: OutboxItem, patient: bool = True) -> bool:
        """Carry out one row; True when it is done (not retried, paced or failed).

        `patient`: the refresh may wait (briefly) for the signed log; a drain does not.
        """
        extra = {"repo": item.repo, "pr": item.pr, "installation": item.installation_id}
        try:
            if item.kind == SUMMARY:
                async with asyncio.timeout(self.lease * DEADLINE_SHARE):
                    await self._refresh_summary(item, patient)
            else:
                raise PermanentFailure(f"unknown outbox kind {item.kind!r}")
        except AwaitingLog as waiting:
            # Not an attempt and not a failure: the row comes back when the log has run.
            until, why = min(waiting.until, self.clock() + MAX_DUE_AHEAD), str(waiting)
            await self._settle(item, lambda: self.store.defer_outbox(item, until, why))
            return False
        except PermanentFailure as failure:
            log.warning("outbox %s failed for good: %s", item.key, failure, extra=extra)
            why = str(failure)
            await self._settle(item, lambda: self.store.fail_outbox(item, why))
            self.failed += 1
            return False
        except Paced as paced:
            # Not an attempt: nothing was sent. The row waits for the installation's slot.
            log.info("outbox %s paced until %.0f", item.key, paced.until, extra=extra)
            until = min(paced.until, self.clock() + MAX_DUE_AHEAD)
            await self._settle(
                item, lambda: self.store.defer_outbox(item, until, "paced: write budget used up")
            )
            self.paced += 1
            return False
        except Exception as exc:
            if refused_credentials(exc) and self.github is not None:
                # Whichever call got the 401 (config, comment, check), the next try mints anew.
                self.github.credentials.forget(item.installation_id)
            verdict = classify(exc, item.attempts, self.clock())
            if isinstance(verdict, PermanentFailure) or item.attempts + 1 >= MAX_ATTEMPTS:
                reason = (
                    str(verdict)
                    if isinstance(verdict, PermanentFailure)
                    else (f"gave up after {item.attempts + 1} attempts: {verdict.reason}")
                )
                log.warning("outbox %s failed for good: %s", item.key, reason, extra=extra)
                await self._settle(item, lambda: self.store.fail_outbox(item, reason))
                self.failed += 1
                return False
            log.info(
                "outbox %s: %s; retrying in %.0f s",
                item.key,
                verdict.reason,
                verdict.delay,
                extra=extra,
            )
            due = self.clock() + min(verdict.delay, MAX_DUE_AHEAD)  # see sql.MAX_DUE_AHEAD
            await self._settle(item, lambda: self.store.retry_outbox(item, due, verdict.reason))
            self.retried += 1
            return False
        now = self.clock()
        await self._settle(item, lambda: self.store.finish_outbox(item, now, self.debounce))
        self.delivered += 1
        return True

    async def _settle(self, item: OutboxItem, write: Callable[[], Awaitable[None]]) -> None:
        """Record a row's outcome; if the store cannot write now, again on the next pass."""
        try:
            await write()
        except StoreUnavailable:
            self._unsettled[item.key] = (self.clock() + self.lease * DEADLINE_SHARE, write)

    async def _settle_unsettled(self) -> None:
        """Write the outcomes the store refused before, while this worker's lease holds
        (past it another instance may hold the row). Raises StoreUnavailable while the
        store still cannot write, so nothing new is claimed meanwhile."""
        for key, (until, write) in list(self._unsettled.items()):
            if self.clock() < until:
                await write()
            del self._unsettled[key]

    async def _refresh_summary(self, item: OutboxItem, patient: bool = True) -> None:
        """The PR's comment, then its spend check: one row, so both follow every change.

        The repository's `.github/audit-bot.yml` shapes both (budgets, comment mode,
        spend check, explorers). A failure anywhere raises and the row is retried;
        unchanged parts are skipped on the retry. With the log on, both carry the signed
        checkpoint holding the PR's runs (see LOG_WAIT).
        """
        runs = await self.store.list_runs(RunFilter(repo=item.repo, pr=item.pr, limit=SUMMARY_RUNS))
        stamp = await self._log_stamp(item, runs, patient)
        # One client per refresh (None in a dry run): the installation's token is looked up
        # once. A 401 from any of its calls still reaches `_deliver`, which forgets the token.
        gh = None if self.github is None else await self.github.api(item.installation_id)
        config = await self._repo_config(gh, item)
        private = any(run.get("private") is not False for run in runs)
        await self._save_settings(item.repo, config, private)
        options = with_repo_config(self.options(item.repo, item.pr), config)
        options = dataclasses.replace(options, log=stamp)
        if config.month_budget:
            month = await self.month_spend(item.repo, item.pr, config.month_budget)
            options = dataclasses.replace(options, month=month)
        body = render_summary(item.repo, item.pr, runs, options)
        if config.comment != "off":
            await self._post_summary(gh, item, body, config, wanted(config, runs, options))
        if config.spend_check:
            await self._post_spend_check(gh, item, runs, options)
        if stamp is not None and stamp.pending:
            now = self.clock()
            if now - self._awaiting.setdefault(item.key, now) < LOG_FOLLOW_UP_FOR:
                raise AwaitingLog(now + LOG_FOLLOW_UP)
            self._awaiting.pop(item.key, None)  # the integrator is down: the next change

    async def _log_stamp(
        self, item: OutboxItem, runs: list[dict], patient: bool
    ) -> LogStamp | None:
        """The newest signed checkpoint holding every event of `runs` (pending while one
        is not integrated); None when the log is not shown. Waits for the integrator up
        to LOG_WAIT when `patient`."""
        if not self.log_stamps:
            return None
        heads = [(str(run["id"]), int(run["seq"])) for run in runs if run.get("seq")]
        if not heads:
            return None
        deadline = time.monotonic() + (LOG_WAIT if patient else 0.0)
        while True:
            covering = await self.store.covering_size(heads)
            latest = await self.store.latest_checkpoint() if covering is not None else None
            if covering is not None and latest is not None and latest.size >= covering:
                self._awaiting.pop(item.key, None)
                return LogStamp(latest.note, latest.size, latest.root)
            if time.monotonic() >= deadline:
                return LogStamp(None)
            await asyncio.sleep(LOG_RECHECK)

    async def _repo_config(self, gh: GitHubAPI | None, item: OutboxItem) -> RepoConfig:
        if self.repo_configs is None or gh is None:
            return DEFAULT_REPO_CONFIG
        return await self.repo_configs.get(gh, item.repo)

    async def _save_settings(self, repo: str, config: RepoConfig, private: bool) -> None:
        """Keep what the repository page and the reporter API need of the file (its
        monthly budget, its prices) in the store, which they read without GitHub."""
        if self.repo_configs is None:
            return
        saved = saved_settings(config, private)
        if self._saved.get(repo.lower()) == saved:
            return
        await self.store.set_state(saved_name(repo), saved)
        self._saved[repo.lower()] = saved

    async def month_spend(self, repo: str, pr: int, limit: dict[str, Decimal]) -> MonthSpend:
        """The repository's spend this calendar month (UTC, by the worker's clock) from
        the rollups, and this PR's part of it, against its monthly budget."""
        today = epoch_day(datetime.fromtimestamp(self.clock(), UTC).date())
        month = month_key(today)
        start, end = month_bounds(month)
        query = SpendQuery(
            since_day=epoch_day(start),
            until_day=epoch_day(end),
            interval="month",
            by="pr",
            repo=repo,
            all_private=True,  # the budget counts every run; only the bot sees the sum
        )
        spent: dict[str, Decimal] = {}
        mine: dict[str, Decimal] = {}
        this_pr = f"{repo}#{pr}".lower()
        for bucket in await self.store.spend(query):
            currency = bucket.currency
            spent[currency] = EXACT.add(spent.get(currency, Decimal(0)), bucket.amount)
            if bucket.key.lower() == this_pr:
                mine[currency] = EXACT.add(mine.get(currency, Decimal(0)), bucket.amount)
        return MonthSpend(start.strftime("%Y-%m"), dict(limit), spent, mine)

    async def _post_spend_check(
        self, gh: GitHubAPI | None, item: OutboxItem, runs: list[dict], options: SummaryOptions
    ) -> None:
        if self.spend_checks is None or gh is None:
            return
        check = spend_check(runs, options)
        if check is None:
            return
        try:
            await self.spend_checks.publish(gh, item.repo, check)
        except BadRequest as exc:
            if not is_declined(exc):
                raise
            # No checks permission, or a head GitHub does not know: the comment stands.
            log.warning(
                "spend check for %s#%s not posted: GitHub answered %s",
                item.repo,
                item.pr,
                exc.status_code,
            )

    async def _post_summary(
        self, gh: GitHubAPI | None, item: OutboxItem, body: str, config: RepoConfig, want: bool
    ) -> None:
        previous = await self.store.get_comment(item.repo, item.pr)
        if previous is None and not want:
            self.skipped_quiet += 1  # `comment.when`: nothing to say yet, no comment at all
            return
        unchanged = previous is not None and previous.body == body
        if unchanged and (gh is None or previous.comment_id is not None):
            self.skipped_unchanged += 1
            return
        if gh is None or self.github is None:
            log.info("dry run: summary for %s#%s rendered, not posted", item.repo, item.pr)
            await self.store.save_comment(item.repo, item.pr, None, body)
            return
        login = await self.github.bot_login(item.installation_id)
        known = previous.comment_id if previous is not None else None
        if (
            config.comment in ("recreate", "hide-and-new")
            and known is not None
            and headline_key(previous.body) != headline_key(body)  # type: ignore[union-attr]
        ):
            # A new headline: a new comment (one notification); a status change is an edit.
            comment_id = await replace_summary_comment(
                gh, item.repo, item.pr, body, known, config.comment
            )
        else:
            comment_id = await upsert_summary_comment(gh, item.repo, item.pr, body, known, login)
        self.writes += 1
        await self.store.save_comment(item.repo, item.pr, comment_id, body)


def wanted(config: RepoConfig, runs: list[dict], options: SummaryOptions) -> bool:
    """Whether `comment.when` lets a PR without a comment get one now."""
    if config.comment_when == "spend":
        return has_spend(runs)
    if config.comment_when == "over-budget":
        return is_over_budget(runs, options)
    return True


def with_repo_config(options: SummaryOptions, config: RepoConfig) -> SummaryOptions:
    """Summary options with a repository's budgets, notices and extra explorers.

    The operator's explorers win over the repository's; the repository can only add
    networks the built-in table lacks (checked when its file is parsed).
    """
    return dataclasses.replace(
        options,
        budget=config.pr_budget or options.budget,
        kind_budgets=config.kind_budgets or options.kind_budgets,
        explorers={**config.explorers, **options.explorers},
        notices=(*options.notices, *config.notices),
    )
