"""The reporter API: CI steps open runs, append batches of events and close them.

Each call is authenticated (401/403/503), its body validated (400/413/415/422),
and only then turned into one `Command` committed atomically: a 2xx means the
events are durable. An idempotency key makes a retried call a replay that writes
nothing; a key reused for a different request is refused.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import web

from bot import keys
from bot.auth import AuthError, AuthUnavailable, Principal
from bot.github.repo_config import read_saved, saved_name
from bot.http import intake
from bot.http.errors import ApiError
from bot.http.links import page_base
from bot.ids import is_run_id
from bot.reporter.bodies import (
    DEFAULT_PRICING,
    CloseRequest,
    InvalidBody,
    NotJSON,
    OpenRequest,
    parse_close,
    parse_events,
    parse_json,
    parse_key,
    parse_open,
)
from bot.store.base import IdempotencyConflict, RunFilter
from bot.trail import events as ev
from bot.trail.intents import Append, ById, Command, CommandResult, OpenRun, RunSpec
from bot.trail.pricing import Pricing
from bot.trail.proofs import explorer_url
from bot.trail.state import is_open
from bot.trail.validation import InvalidInput
from bot.workers.commit import commit

log = logging.getLogger(__name__)

_JSON_TYPES = ("application/json", "")
IDEMPOTENCY_HEADER = "Idempotency-Key"


class _Keyed(Protocol):
    @property
    def idempotency_key(self) -> str | None: ...


Req = TypeVar("Req", bound=_Keyed)


# --- request plumbing --------------------------------------------------------------


async def authenticate(request: web.Request) -> Principal:
    """The caller, or a 401/503 (never naming the token, never writing anything)."""
    authenticator = request.app.get(keys.AUTHENTICATOR)
    if authenticator is None or not authenticator.configured:
        raise ApiError(
            401,
            "the reporter API has no credentials configured on this bot",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return await authenticator.authenticate(request.headers.get("Authorization"))
    except AuthUnavailable as exc:
        log.warning("reporter credentials cannot be checked: %s", exc)
        raise ApiError(
            503, f"credentials cannot be checked right now: {exc}", headers={"Retry-After": "10"}
        ) from None
    except AuthError as exc:
        log.info("reporter credentials refused on %s: %s", request.path, exc)
        raise ApiError(
            401,
            f"unauthorized: {exc}",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


async def read_body(request: web.Request) -> object:
    """The JSON body, read up to the configured cap (413 past it; 408, 503: intake)."""
    cap = request.app[keys.SETTINGS].api_max_body_bytes
    # aiohttp reports a missing Content-Type as application/octet-stream; a bodiless
    # `POST …/close` sends none, and is JSON's empty object here.
    content_type = request.content_type if "Content-Type" in request.headers else ""
    if content_type not in _JSON_TYPES and not content_type.endswith("+json"):
        raise ApiError(415, "content type must be application/json")
    if request.content_length is not None and request.content_length > cap:
        raise ApiError(413, f"body is larger than the {cap}-byte limit")
    try:  # under the in-flight budget and the body timeout, like webhooks
        raw = await intake.read_body(request, cap=cap)
    except intake.BodyRefused as refused:
        raise ApiError(refused.status, refused.message, headers=refused.headers) from None
    try:
        return parse_json(bytes(raw)) if raw else {}
    except NotJSON as exc:
        raise ApiError(400, str(exc)) from None


def pricing(request: web.Request) -> Pricing:
    """The operator's prices over the package table."""
    overrides = request.app[keys.SETTINGS].model_prices
    return Pricing(operator=overrides) if overrides is not None else DEFAULT_PRICING


def _names_a_model(body: object) -> bool:
    """Whether some event of the body is a spend naming a model (only those are priced),
    so other reports cost no extra store read."""
    events = body.get("events") if isinstance(body, Mapping) else None
    if not isinstance(events, list):
        return False
    return any(isinstance(e, Mapping) and e.get("model") is not None for e in events)


async def repo_pricing(request: web.Request, repo: object, principal: Principal) -> Pricing:
    """The repository's `pricing:` over the operator's prices over the package table.

    The reporter API never asks GitHub: the repository's settings are the ones the
    outbox last read from its `.github/audit-bot.yml` (and the owner's) and saved in
    the store. Only a caller who may report for the repository gets them, so a
    refusal cannot tell anyone else whether a repository has prices of its own.
    """
    base = pricing(request)
    if not isinstance(repo, str) or not principal.may_write(repo):
        return base
    saved = read_saved(await request.app[keys.STORE].get_state(saved_name(repo)))
    return base.with_repository(saved.pricing) if saved.pricing.entries else base


def header_key(request: web.Request, body_key: str | None) -> str | None:
    """The idempotency key from the body or the `Idempotency-Key` header (must agree)."""
    header = request.headers.get(IDEMPOTENCY_HEADER)
    if header is None:
        return body_key
    try:
        key = parse_key(header)
    except InvalidInput as exc:
        raise InvalidBody([InvalidInput(f"header {IDEMPOTENCY_HEADER}", exc.reason)]) from None
    if body_key is not None and body_key != key:
        raise InvalidBody(
            [InvalidInput("idempotency_key", f"differs from the {IDEMPOTENCY_HEADER} header")]
        )
    return key


async def _commit(request: web.Request, command: Command) -> CommandResult:
    """Commit `command`; a key reused for a different request is a 422, and so is an
    event the run cannot take (past `MAX_CURRENCIES_PER_RUN`), with nothing written."""
    try:
        return await commit(request.app, command)
    except IdempotencyConflict:
        raise _key_reused() from None
    except InvalidInput as refused:
        raise InvalidBody([refused]) from None


def _key_reused() -> ApiError:
    return ApiError(
        422,
        "this idempotency key was already used for a different request; "
        "use a new key for a new request",
    )


def _source(route: str, scope: str, key: str | None, principal: Principal) -> ev.Source:
    """Scoped by repository or run, so two repositories' keys can never collide."""
    ident = f"api:{route}:{scope}:{key}" if key else f"api:{route}:{uuid.uuid4().hex}"
    return ev.Source(
        "api",
        ident,
        f"POST /api/runs{'' if route == 'open' else '/' + route}",
        actor=principal.subject,
    )


def run_url(request: web.Request, run_id: str) -> str:
    """The run page's address: under PUBLIC_URL, else under the `Host` the caller used.

    It is built after the commit, so it must not raise: a `Host` no URL can hold (no
    host, a port past 65535, bytes that are not UTF-8) gets the path alone.
    """
    return f"{page_base(request, request.app[keys.SETTINGS].public_url)}/runs/{run_id}"


async def _writable_run(request: web.Request, principal: Principal) -> dict[str, Any]:
    """The run named in the path, if this caller may report into it and it is open."""
    run_id = request.match_info["run_id"]
    run = await request.app[keys.STORE].get_run(run_id) if is_run_id(run_id) else None
    if run is None:
        raise ApiError(404, "no such run")
    if not principal.may_write(run["repo"]):
        raise ApiError(403, "this credential may not report for this run's repository")
    if run.get("kind") == "pr":
        raise ApiError(
            409, "PR runs follow GitHub's webhooks; report into a run opened with POST /api/runs"
        )
    return run


def _closed(run: Mapping[str, Any]) -> ApiError:
    return ApiError(409, f"run {run['id']} is already closed ({run.get('status')})")


async def _run_pricing(request: web.Request, body: object, principal: Principal) -> Pricing:
    """The prices for the run named in the path (its repository's, when it has some)."""
    if not _names_a_model(body):
        return pricing(request)
    run_id = request.match_info["run_id"]
    run = await request.app[keys.STORE].get_run(run_id) if is_run_id(run_id) else None
    return await repo_pricing(request, run.get("repo") if run else None, principal)


async def _into_run(
    request: web.Request,
    route: str,
    parse: Callable[[object, Pricing], Req],
    events_of: Callable[[Req], list[ev.NewEvent]],
    priced: bool = False,
) -> tuple[Req, dict[str, Any], CommandResult]:
    """Authenticate, parse, find the run, append atomically: the request, run and result.

    A call that found the run closed is refused (409) and so is its replay: the
    first attempt touched no run, and a retry must not turn that into a success.
    Only a keyed call is remembered for that; one without a key has no replay, so
    it is refused before the store is asked to write anything.
    """
    principal = await authenticate(request)
    body = await read_body(request)
    prices = await _run_pricing(request, body, principal) if priced else DEFAULT_PRICING
    parsed = parse(body, prices)
    key = header_key(request, parsed.idempotency_key)
    run = await _writable_run(request, principal)
    if key is None and not is_open(run):
        raise _closed(run)
    command = Command(
        _source(route, run["id"], key, principal),
        [Append(ById(run["id"]), events_of(parsed), require_open=True)],
    )
    result = await _commit(request, command)
    fresh = await request.app[keys.STORE].get_run(run["id"]) or run
    if not result.runs:
        raise _closed(fresh)
    return parsed, fresh, result


# --- routes ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenPlan:
    """What a valid open-run request asks for: decided before anything is read or written."""

    request: OpenRequest
    repo: str
    pr: int | None
    head_sha: str | None
    source: ev.Source
    run_key: str

    def command(self, installation_id: int | None, private: bool | None) -> Command:
        """The commit, given the installation and visibility of the PR's own run."""
        opened = self.request
        spec = RunSpec(
            kind=opened.kind,
            repo=self.repo,
            pr=self.pr,
            head_sha=self.head_sha,
            name=opened.name,
            installation_id=installation_id,
            private=private,
            opened_data={"budget": dict(opened.budget)} if opened.budget else {},
        )
        return Command(self.source, [OpenRun(self.run_key, spec, list(opened.events))])


def plan_open(opened: OpenRequest, key: str | None, principal: Principal) -> OpenPlan:
    """Which repository, PR and commit the run is for (the OIDC claims fill gaps), or why not.

    A static token must name the repository (422); a credential may only report for
    the repositories it covers (403). The claims' PR and commit apply only to their
    own repository.
    """
    claims = principal.claims
    repo = opened.repo or (claims.repository if claims else None)
    if repo is None:
        raise InvalidBody([InvalidInput("repo", "is required with a static token")])
    if not principal.may_write(repo):
        raise ApiError(403, f"this credential may not report for {repo}")
    same_repo = claims is not None and claims.repository.lower() == repo.lower()
    return OpenPlan(
        request=opened,
        repo=repo,
        pr=opened.pr or (claims.pr_number if same_repo and claims else None),
        head_sha=opened.head_sha or (claims.sha if same_repo and claims else None),
        source=_source("open", repo.lower(), key, principal),
        run_key=f"api:{repo.lower()}:{key}" if key else f"api:{uuid.uuid4().hex}",
    )


def _repo_named(body: object, principal: Principal) -> object:
    """The repository an open-run body reports for, as `plan_open` will pick it."""
    named = body.get("repo") if isinstance(body, Mapping) else None
    if named is not None:
        return named
    return principal.claims.repository if principal.claims else None


async def _commit_open(request: web.Request, plan: OpenPlan) -> CommandResult:
    """Commit the plan with the PR's installation and visibility as the store has them now."""
    installation_id, private = await _pr_context(request, plan.repo, plan.pr)
    try:
        return await commit(request.app, plan.command(installation_id, private))
    except InvalidInput as refused:
        raise InvalidBody([refused]) from None
    except IdempotencyConflict:
        if installation_id is None and private is None:
            raise _key_reused() from None
        # The first attempt may have been made before the PR run (and so its
        # installation) was known: replay it as it was sent then.
        return await _commit(request, plan.command(None, None))


async def open_run(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await read_body(request)
    repo = _repo_named(body, principal)
    prices = await repo_pricing(request, repo, principal) if _names_a_model(body) else None
    opened = parse_open(body, prices or pricing(request))
    plan = plan_open(opened, header_key(request, opened.idempotency_key), principal)
    result = await _commit_open(request, plan)
    run_id = (result.opened or result.runs)[0]
    run = await request.app[keys.STORE].get_run(run_id)
    log.info("reporter %s opened run %s", principal.subject, run_id, extra={"runs": [run_id]})
    body = {
        "id": run_id,
        "url": run_url(request, run_id),
        "repo": run["repo"] if run else plan.repo,
        "pr": run["pr"] if run else plan.pr,
        "kind": run["kind"] if run else opened.kind,
        "replayed": result.duplicate,
    }
    return web.json_response(body, status=200 if result.duplicate else 201)


async def _pr_context(
    request: web.Request, repo: str, pr: int | None
) -> tuple[int | None, bool | None]:
    """The installation and visibility of the PR's own run, so its summary can be posted."""
    if pr is None:
        return None, None
    runs = await request.app[keys.STORE].list_runs(RunFilter(repo=repo, pr=pr, kind="pr", limit=1))
    if not runs:
        return None, None
    return runs[0].get("installation_id"), runs[0].get("private")


async def append_events(request: web.Request) -> web.Response:
    batch, run, result = await _into_run(
        request,
        "events",
        lambda body, prices: parse_events(body, pricing=prices),
        lambda batch: list(batch.events),
        priced=True,
    )
    explorers = request.app[keys.SETTINGS].explorers
    proofs = [e.data for e in batch.events if e.type == ev.PROOF]
    return web.json_response(
        {
            "run_id": run["id"],
            "url": run_url(request, run["id"]),
            "recorded": 0 if result.duplicate else len(batch.events),
            "replayed": result.duplicate,
            "spend": run.get("spend") or {},
            "proofs": [_proof_view(p, explorers) for p in proofs],
        },
        status=200 if result.duplicate else 201,
    )


def _proof_view(proof: Mapping[str, Any], explorers: Mapping[str, str]) -> dict[str, Any]:
    """What a reporter sees of its proof: the bot's own link, never one it was sent."""
    tx = proof.get("tx")
    return {
        "network": proof.get("network"),
        "network_name": proof.get("network_name"),
        "tx": tx,
        "status": proof.get("status"),
        "url": explorer_url(str(proof.get("network")), tx, explorers) if tx else None,
    }


async def close_run(request: web.Request) -> web.Response:
    _, run, result = await _into_run(
        request, "close", lambda body, _: parse_close(body), _closing_events
    )
    return web.json_response(
        {
            "run_id": run["id"],
            "url": run_url(request, run["id"]),
            "status": run.get("status"),
            "spend": run.get("spend") or {},
            "replayed": result.duplicate,
        },
        status=200,
    )


def _closing_events(closing: CloseRequest) -> list[ev.NewEvent]:
    data = {"status": closing.status}
    if closing.reason:
        data["reason"] = closing.reason
    return [ev.NewEvent(ev.RUN_CLOSED, data)]


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/runs", open_run)
    app.router.add_post("/api/runs/{run_id}/events", append_events)
    app.router.add_post("/api/runs/{run_id}/close", close_run)
