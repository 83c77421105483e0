"""`audit-bot log witness --from-github REPO`: GitHub as the log's witness.

The bot publishes its signed checkpoint in each PR's summary comment and in the
`audit-bot/spend` check run of the PR's head (`bot.render.log_stamp`). GitHub holds
those out of the operator's reach, so this command collects them and checks each against
the tree the store holds now: signed by a trusted key, and the current tree extends it
(an RFC 9162 consistency proof from the store). A log rewritten after a checkpoint was
published (even re-signed with the bot's own key) fails here, one line per checkpoint.

Reads only: GitHub through the App's installation token or `GITHUB_TOKEN`, the store
read-only. Exit 0 when every checkpoint found is consistent, 1 otherwise (or none found).
"""

from __future__ import annotations

import argparse
import base64
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
from gidgethub import HTTPException
from gidgethub.aiohttp import GitHubAPI

from bot.cli import settings_or_exit
from bot.cli.trail_tools import database_url, fail, trail_session
from bot.config import Settings
from bot.github.auth import USER_AGENT, Credentials
from bot.render.log_stamp import published_notes
from bot.render.spend_check import CHECK_NAME
from bot.render.summary import MARKER
from bot.store import log as tlog
from bot.store.base import LogStore, RunFilter, Store
from bot.trail import checkpoint as cp
from bot.trail import merkle
from bot.workers.log_signing import load_signer

MAX_HEADS = 2000  # check runs looked up per repository (one request each)


@dataclass(frozen=True)
class Published:
    """One checkpoint as GitHub shows it, and where."""

    where: str
    note: str


async def witness(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    repo = args.from_github.strip().strip("/")
    if repo.count("/") != 1 or not all(repo.split("/")):
        return fail(f"--from-github wants OWNER/REPO, not {args.from_github!r}")
    if settings.mode not in ("app", "token"):
        return fail(
            "log witness reads GitHub: set GITHUB_APP_ID and GITHUB_PRIVATE_KEY (App mode) "
            "or GITHUB_TOKEN (token mode)"
        )
    try:
        trusted = _trusted_keys(args, settings)
    except (OSError, ValueError) as exc:
        return fail(f"no verifier key: {exc}")
    url = database_url(args, must_exist=True)
    async with trail_session(url, "witnessing the log", read_only=True) as (store, _):
        try:
            found = await collect(settings, repo, store)
        except (HTTPException, aiohttp.ClientError, LookupError) as exc:
            return fail(f"cannot read {repo} on GitHub: {_reason(exc)}")
        return await check_all(store, found, trusted, repo)


def _trusted_keys(args: argparse.Namespace, settings: Settings) -> list[cp.Verifier]:
    """`--key` (a key string or a file of them, one a line), else the bot's own key."""
    if args.key:
        path = Path(args.key)
        text = path.read_text() if path.is_file() else args.key
        return [cp.parse_verifier_key(line) for line in text.split() if line.strip()]
    return [load_signer(settings, create=False).verifier]


async def check_all(
    store: LogStore, found: list[Published], trusted: list[cp.Verifier], repo: str
) -> int:
    """One line per checkpoint; 0 when all are consistent with the current tree."""
    size = await store.log_size()
    current = await tlog.root_at(store, size)
    print(f"current tree: size {size}, root {base64.b64encode(current).decode()}")
    bad = 0
    for item in found:
        problem, checkpoint = await check_one(store, item.note, trusted, size, current)
        what = f"size {checkpoint.size}" if checkpoint else "checkpoint"
        if problem:
            bad += 1
            print(f"INCONSISTENT {item.where}: {what}: {problem}")
        else:
            print(f"OK {item.where}: {what} is consistent with the current tree")
    if not found:
        print(f"FAILED: no checkpoint of this log found on {repo}'s pull requests")
        return 1
    if bad:
        print(f"FAILED: {bad} of {len(found)} checkpoints GitHub shows are not in this log")
        return 1
    print(f"OK: all {len(found)} checkpoints GitHub shows are consistent with the current tree")
    return 0


async def check_one(
    store: LogStore, note: str, trusted: list[cp.Verifier], size: int, current: bytes
) -> tuple[str | None, cp.Checkpoint | None]:
    """Why `note` is not a checkpoint of the current tree (None: it is)."""
    try:
        checkpoint = cp.open_checkpoint(note, trusted, None)
    except cp.CheckpointError as exc:
        return str(exc), None
    if checkpoint.origin not in {v.name for v in trusted}:
        return f"wrong origin {checkpoint.origin!r}", checkpoint
    if checkpoint.size > size:
        return (
            f"the tree has only {size} leaves now: the log was truncated or rebuilt",
            checkpoint,
        )
    try:
        proof = await tlog.consistency_proof(store, checkpoint.size, size)
        merkle.verify_consistency(checkpoint.size, size, checkpoint.root, current, proof)
    except merkle.ProofError as exc:
        return f"the current tree does not extend it ({exc}): the log was rewritten", checkpoint
    return None, checkpoint


# --- collecting from GitHub --------------------------------------------------------


async def collect(settings: Settings, repo: str, store: Store) -> list[Published]:
    """Every checkpoint in the bot's summary comments on `repo`, then in the spend
    checks of the PR heads the store knows."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        gh, login = await _client(session, settings, repo)
        found: list[Published] = []
        prs: set[int] = set()
        async for comment in gh.getiter(f"/repos/{repo}/issues/comments?per_page=100"):
            body = str(comment.get("body") or "")
            author = (comment.get("user") or {}).get("login")
            if MARKER not in body or author != login:
                continue  # not the bot's summary: anyone can write the marker
            pr = _pr_number(comment)
            prs.add(pr)
            for note in published_notes(body):
                found.append(Published(f"#{pr} comment {comment.get('id')}", note))
        for sha, pr in (await _heads(store, repo, prs))[:MAX_HEADS]:
            url = f"/repos/{repo}/commits/{sha}/check-runs?check_name={quote(CHECK_NAME)}"
            reply = await gh.getitem(url)
            for run in reply.get("check_runs") or []:
                if run.get("name") != CHECK_NAME:
                    continue
                text = str((run.get("output") or {}).get("text") or "")
                for note in published_notes(text):
                    found.append(Published(f"#{pr} check {sha[:7]}", note))
        return found


async def _client(
    session: aiohttp.ClientSession, settings: Settings, repo: str
) -> tuple[GitHubAPI, str]:
    """A client for `repo` and the login the bot's comments are by: `<slug>[bot]` acting
    as the App's installation on `repo`, or the token's user."""
    credentials = Credentials(
        session,
        api_url=settings.api_url,
        app_id=settings.app_id,
        private_key=settings.private_key,
        token=settings.token,
    )
    installation, login = None, None
    if credentials.is_app:
        app = GitHubAPI(session, USER_AGENT, base_url=settings.api_url)
        jwt = credentials.app_jwt()
        installation = int((await app.getitem(f"/repos/{repo}/installation", jwt=jwt))["id"])
        login = f"{(await app.getitem('/app', jwt=jwt))['slug']}[bot]"
    token = await credentials.token_for(installation)
    gh = GitHubAPI(session, USER_AGENT, oauth_token=token, base_url=settings.api_url)
    if login is None:
        login = str((await gh.getitem("/user"))["login"])
    return gh, login


def _pr_number(comment: dict) -> int:
    issue_url = str(comment.get("issue_url") or "")
    tail = issue_url.rsplit("/", 1)[-1]
    return int(tail) if tail.isdecimal() else 0


async def _heads(store: Store, repo: str, prs: set[int]) -> list[tuple[str, int]]:
    """The head commits of those PRs' runs (where their spend checks are), newest first."""
    heads: dict[str, int] = {}
    for pr in sorted(prs):
        for run in await store.list_runs(RunFilter(repo=repo, pr=pr, limit=500)):
            if run.get("head_sha"):
                heads.setdefault(str(run["head_sha"]), pr)
    return list(heads.items())


def _reason(exc: BaseException) -> str:
    if isinstance(exc, HTTPException):
        return f"GitHub answered {exc.status_code}"
    return f"{type(exc).__name__}: {exc}"
