"""`audit-bot report open|event|spend|proof|close`: what a CI step runs to report.

It needs only the standard library, so the composite action can run it with the
runner's own Python and nothing installed. Inside GitHub Actions it fetches its
own OIDC token (the job needs `permissions: id-token: write`); elsewhere it uses
`AUDIT_BOT_TOKEN`. Reporting must not break the build it reports on: when the bot
cannot be reached (after retries with backoff) or no credential is available, it
warns and exits 0 unless `--strict`. A request the bot refuses (4xx) exits 1.

`open` prints the run ID and writes `run-id=…` to `$GITHUB_OUTPUT` and
`AUDIT_RUN_ID=…` to `$GITHUB_ENV`, so later steps of the job report into the same
run without passing it along. Each command adds one line to `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib import error, parse, request

USER_AGENT = "audit-bot-report"
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_WAIT = 30.0
# What the bot's answer may hold before it goes into $GITHUB_ENV / $GITHUB_OUTPUT,
# where a line break would let an answer set other variables for later steps.
_RUN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_LINE = re.compile(r"[^\x00-\x1f\x7f]*")


class Unreachable(Exception):
    """The bot (or the token endpoint) could not be reached or kept failing."""


class Rejected(Exception):
    """The bot answered 4xx: the request itself is wrong; retrying will not help."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body

    def __str__(self) -> str:
        if isinstance(self.body, Mapping):
            message = str(self.body.get("error", ""))
            details = [
                f"{e.get('path')}: {e.get('reason')}"
                for e in self.body.get("errors") or []
                if isinstance(e, Mapping)
            ]
            if details:
                message += " — " + "; ".join(details)
            return f"HTTP {self.status}: {message}"
        return f"HTTP {self.status}"


class NoCredentials(Exception):
    """Neither a static token nor an Actions OIDC token is available here."""


# --- HTTP with retries -------------------------------------------------------------


def _call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Any = None,
    timeout: float,
    retries: int,
    backoff: float,
) -> Any:
    """JSON in, JSON out; retries network errors, 5xx and 429 with exponential backoff."""
    data = None if body is None else json.dumps(body).encode()
    sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **headers}
    if data is not None:
        sent["Content-Type"] = "application/json"
    last = "no attempt"
    for attempt in range(retries + 1):
        wait = backoff * 2**attempt
        try:
            req = request.Request(url, data=data, headers=sent, method=method)
            with request.urlopen(req, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except error.HTTPError as exc:
            payload = _json_or_none(exc.read())
            if exc.code not in RETRYABLE:
                raise Rejected(exc.code, payload) from None
            last = f"HTTP {exc.code}"
            wait = _retry_after(exc.headers.get("Retry-After"), wait)
        except (error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            last = f"{type(exc).__name__}: {reason}"
        if attempt < retries:
            time.sleep(min(wait, MAX_WAIT))
    raise Unreachable(f"{url.split('?')[0]} failed after {retries + 1} attempts ({last})")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _retry_after(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


# --- credentials -------------------------------------------------------------------


def credential(args: argparse.Namespace) -> str:
    """A static token if given, else an Actions OIDC token for the bot's audience."""
    if args.token:
        return args.token
    token_url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not token_url or not request_token:
        raise NoCredentials(
            "no credentials: set AUDIT_BOT_TOKEN, or give the job "
            "`permissions: id-token: write` so it can get a GitHub Actions OIDC token "
            "(pull requests from forks never get one)"
        )
    # The bot's default audience is PUBLIC_URL without a trailing slash.
    audience = args.audience or args.url.rstrip("/")
    separator = "&" if "?" in token_url else "?"
    url = f"{token_url}{separator}{parse.urlencode({'audience': audience})}"
    try:
        reply = _call(
            "GET",
            url,
            headers={"Authorization": f"bearer {request_token}"},
            timeout=args.timeout,
            retries=args.retries,
            backoff=args.backoff,
        )
    except Rejected as exc:
        raise NoCredentials(
            f"the Actions token endpoint refused to issue a token ({exc})"
        ) from None
    value = reply.get("value") if isinstance(reply, Mapping) else None
    if not isinstance(value, str) or not value:
        raise Unreachable("the Actions token endpoint answered without a token")
    return value


# --- commands ----------------------------------------------------------------------


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def build(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The route and body a command sends (pure: no network, no environment)."""
    key = args.idempotency_key
    if args.action == "open":
        body = _clean(
            {
                "kind": args.kind,
                "name": args.name,
                "repo": args.repo,
                "pr": args.pr,
                "head_sha": args.head_sha,
                "budget": args.budget,
                "idempotency_key": key,
            }
        )
        return "/api/runs", body
    run = f"/api/runs/{parse.quote(args.run_id, safe='')}"
    if args.action == "close":
        return f"{run}/close", _clean(
            {"status": args.status, "reason": args.reason, "idempotency_key": key}
        )
    return f"{run}/events", {"events": _events(args), "idempotency_key": key}


def _events(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.action == "spend":
        return [
            _clean(
                {
                    "type": "spend",
                    "amount": args.amount,
                    "currency": args.currency,
                    "category": args.category,
                    "model": args.model,
                    "provider": args.provider,
                    "input_tokens": args.input_tokens,
                    "output_tokens": args.output_tokens,
                    "cache_read_tokens": args.cache_read_tokens,
                    "cache_write_tokens": args.cache_write_tokens,
                    "reasoning_tokens": args.reasoning_tokens,
                    "unit_price": args.unit_price,
                    "description": args.description,
                }
            )
        ]
    if args.action == "proof":
        if args.x402 is not None:
            header = _read_value(args.x402)
            return [_clean({"type": "proof", "x402": header, "description": args.description})]
        return [
            _clean(
                {
                    "type": "proof",
                    "network": args.network,
                    "tx": args.tx,
                    "status": args.status,
                    "amount": args.amount,
                    "currency": args.currency,
                    "payer": args.payer,
                    "description": args.description,
                }
            )
        ]
    if args.json is not None:
        # Fractions stay exact: sent as decimal strings, which the bot reads as amounts.
        loaded = json.loads(_read_value(args.json), parse_float=str, parse_constant=_no_constant)
        return loaded if isinstance(loaded, list) else [loaded]
    return [
        _clean(
            {
                "type": args.type,
                "name": args.name,
                "status": args.status if args.type == "step.finished" else None,
                "text": args.text,
            }
        )
    ]


def _no_constant(name: str) -> Any:
    raise ValueError(f"--json holds {name}, which JSON does not allow")


def _read_value(value: str) -> str:
    """`@path` reads a file, `-` reads standard input, anything else is the value."""
    if value == "-":
        return sys.stdin.read().strip()
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as handle:
            return handle.read().strip()
    return value


def _append(variable: str, text: str) -> None:
    path = os.environ.get(variable)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")


def _say(kind: str, message: str) -> None:
    """A warning or error that shows up on the workflow run's summary page."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # A workflow command is one line: escape what would end it early.
        escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::{kind} title=audit-bot report::{escaped}", flush=True)
    else:
        print(f"audit-bot report: {kind}: {message}", file=sys.stderr, flush=True)


def _amounts(spend: Any) -> str:
    if not isinstance(spend, Mapping) or not spend:
        return "—"
    parts = []
    for currency, amount in sorted(spend.items()):
        whole, _, fraction = str(amount).partition(".")
        parts.append(f"{whole}.{fraction.ljust(2, '0')} {currency}")
    return " · ".join(parts)


def _summary_line(args: argparse.Namespace, reply: Mapping[str, Any]) -> str:
    run_id = reply.get("id") or reply.get("run_id")
    link = f"[`{run_id}`]({reply['url']})" if reply.get("url") else f"`{run_id}`"
    if args.action == "open":
        where = f"{reply.get('repo')}#{reply['pr']}" if reply.get("pr") else reply.get("repo")
        named = f" ({args.name})" if args.name else ""
        return f"🧾 Audit run {link} opened: {reply.get('kind')}{named} on {where}"
    if args.action == "close":
        spent = _amounts(reply.get("spend"))
        return f"🧾 Audit run {link} closed: {reply.get('status')}; spend {spent}"
    if args.action == "spend":
        what = (
            f"{args.amount} {args.currency.upper()}"
            if args.amount is not None
            else f"{args.model} tokens (priced by the bot)"
        )
        return f"🧾 {link}: spent {what}; run total {_amounts(reply.get('spend'))}"
    if args.action == "proof":
        shown = []
        for proof in reply.get("proofs") or []:
            tx = proof.get("tx") or "no transaction"
            label = f"[{tx}]({proof['url']})" if proof.get("url") else f"`{tx}`"
            shown.append(f"{label} on {proof.get('network_name')} ({proof.get('status')})")
        return f"🧾 {link}: proof " + ", ".join(shown)
    return f"🧾 {link}: recorded {reply.get('recorded', 0)} event(s)"


def execute(args: argparse.Namespace) -> int:
    if args.action != "open" and not args.run_id:
        raise NoCredentials(
            "no run ID: pass --run-id or set AUDIT_RUN_ID (`report open` sets it for the "
            "job's later steps; did it fail?)"
        )
    if not args.url:
        raise NoCredentials("no bot URL: pass --url or set AUDIT_BOT_URL")
    route, body = build(args)
    token = credential(args)
    reply = _call(
        "POST",
        args.url.rstrip("/") + route,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": args.idempotency_key},
        body=body,
        timeout=args.timeout,
        retries=args.retries,
        backoff=args.backoff,
    )
    if not isinstance(reply, Mapping):
        raise Unreachable("the bot answered something that is not a JSON object")
    run_id = str(reply.get("id") or reply.get("run_id"))
    if not _RUN_ID.fullmatch(run_id) or not _LINE.fullmatch(str(reply.get("url", ""))):
        raise Unreachable("the bot answered with a run ID or URL that is not one line of text")
    if args.action == "open":
        print(run_id, flush=True)
        _append("GITHUB_OUTPUT", f"run-id={run_id}\nrun-url={reply.get('url', '')}")
        _append("GITHUB_ENV", f"AUDIT_RUN_ID={run_id}")
    else:
        _append("GITHUB_OUTPUT", f"run-id={run_id}")
        print(_summary_line(args, reply), flush=True)
    _append("GITHUB_STEP_SUMMARY", _summary_line(args, reply))
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return execute(args)
    except Rejected as exc:
        _say("error", f"the audit bot refused the report: {exc}")
        return 1
    except (Unreachable, NoCredentials) as exc:
        _say("error" if args.strict else "warning", f"nothing reported: {exc}")
        return 1 if args.strict else 0
    except (OSError, ValueError) as exc:  # an unreadable @file, bad --json
        _say("error", f"cannot build the report: {exc}")
        return 1


# --- command line ------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--url", default=env.get("AUDIT_BOT_URL"), help="the bot (AUDIT_BOT_URL)")
    parser.add_argument(
        "--token",
        default=env.get("AUDIT_BOT_TOKEN"),
        help="a static token (AUDIT_BOT_TOKEN); inside Actions an OIDC token is used otherwise",
    )
    parser.add_argument(
        "--audience",
        default=env.get("AUDIT_BOT_AUDIENCE"),
        help="OIDC audience the bot expects (AUDIT_BOT_AUDIENCE; default: the bot URL)",
    )
    parser.add_argument("--strict", action="store_true", help="fail when nothing was reported")
    parser.add_argument("--retries", type=int, default=4, help="retries after the first try")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
    parser.add_argument("--backoff", type=float, default=0.5, help=argparse.SUPPRESS)
    parser.add_argument(
        "--idempotency-key",
        default=None,
        help="makes a repeated call a no-op (default: one fresh key per invocation)",
    )


def _run_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run-id", default=os.environ.get("AUDIT_RUN_ID"), help="the run (AUDIT_RUN_ID)"
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="report a CI step's run, spend and payment proofs to the bot",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    opening = actions.add_parser("open", help="open a run (prints its ID)")
    _common(opening)
    opening.add_argument("--kind", default="ci", help="review, agent, ci, … (default ci)")
    opening.add_argument("--name", help="what this run is, e.g. 'AI review'")
    opening.add_argument("--repo", help="owner/name (default: the OIDC token's repository)")
    opening.add_argument("--pr", type=int, help="PR number (default: from refs/pull/N/merge)")
    opening.add_argument("--head-sha", help="the PR head commit")
    opening.add_argument("--budget", help='a limit like "5 USD" or "5 USD, 10 USDC"')

    event = actions.add_parser("event", help="record a step, a note, or raw JSON events")
    _common(event)
    _run_id(event)
    event.add_argument("--type", choices=("step.started", "step.finished", "note"))
    event.add_argument("--name", help="the step's name")
    event.add_argument(
        "--status", default="succeeded", choices=("succeeded", "failed", "cancelled", "skipped")
    )
    event.add_argument("--text", help="a note's text")
    event.add_argument("--json", help="an event or list of events as JSON (@file or - too)")

    spend = actions.add_parser("spend", help="record money spent")
    _common(spend)
    _run_id(spend)
    spend.add_argument(
        "--amount",
        help='exact decimal, e.g. "0.10"; 0 is fine. Leave it out to have the bot price '
        "--model and the token counts (USD)",
    )
    spend.add_argument("--currency", help="USD, EUR, USDC, …; required with --amount")
    spend.add_argument("--category", choices=("llm", "ci", "payment", "api", "other"))
    spend.add_argument("--model", help="e.g. gpt-4o or claude-sonnet-4-0")
    spend.add_argument(
        "--provider", help="e.g. openai or anthropic; found from --model if left out"
    )
    spend.add_argument("--input-tokens", type=int, help="all input tokens, cached ones included")
    spend.add_argument("--output-tokens", type=int, help="all output tokens, reasoning included")
    spend.add_argument("--cache-read-tokens", type=int, help="input tokens read from a cache")
    spend.add_argument("--cache-write-tokens", type=int, help="input tokens written to a cache")
    spend.add_argument("--reasoning-tokens", type=int, help="output tokens spent reasoning")
    spend.add_argument("--unit-price")
    spend.add_argument("--description")

    proof = actions.add_parser("proof", help="record a payment's transaction proof")
    _common(proof)
    _run_id(proof)
    proof.add_argument(
        "--x402", help="the PAYMENT-RESPONSE / X-PAYMENT-RESPONSE header value (@file or -)"
    )
    proof.add_argument("--network", help="eip155:8453, base, solana, …")
    proof.add_argument("--tx", help="the transaction hash or signature")
    proof.add_argument("--status", choices=("settled", "pending", "failed"))
    proof.add_argument("--amount")
    proof.add_argument("--currency")
    proof.add_argument("--payer")
    proof.add_argument("--description")

    close = actions.add_parser("close", help="end the run with a status")
    _common(close)
    _run_id(close)
    close.add_argument(
        "--status", default="succeeded", choices=("succeeded", "failed", "cancelled")
    )
    close.add_argument("--reason")

    for sub in (opening, event, spend, proof, close):
        sub.set_defaults(run=_checked_run(sub))


def _checked_run(parser: argparse.ArgumentParser) -> Any:
    """Argument combinations argparse cannot express, checked before any network call."""

    def checked(args: argparse.Namespace) -> int:
        if args.action == "event" and args.json is None and args.type is None:
            parser.error("give --type (with --name or --text) or --json")
        if (
            args.action == "event"
            and args.type in ("step.started", "step.finished")
            and not args.name
        ):
            parser.error(f"{args.type} needs --name")
        if args.action == "event" and args.type == "note" and not args.text:
            parser.error("a note needs --text")
        if args.action == "spend":
            _check_spend(parser, args)
        if args.action == "proof" and args.x402 is None and not args.network:
            parser.error("give --x402 HEADER_VALUE, or --network with --tx")
        if args.url and not args.url.startswith(("http://", "https://")):
            parser.error("--url / AUDIT_BOT_URL must be an http(s) URL")
        if args.retries < 0 or args.timeout <= 0:
            parser.error("--retries must be >= 0 and --timeout > 0")
        args.idempotency_key = args.idempotency_key or uuid.uuid4().hex
        return run(args)

    return checked


TOKEN_OPTIONS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def _check_spend(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An amount with its currency, or a model with token counts for the bot to price."""
    if args.amount is not None and args.currency is None:
        parser.error("--amount needs --currency")
    if args.amount is None:
        tokens = any(getattr(args, name) is not None for name in TOKEN_OPTIONS)
        if args.model is None or not tokens:
            parser.error(
                "give --amount with --currency, or --model with token counts "
                "(--input-tokens, --output-tokens, …) for the bot to price"
            )


def main(argv: list[str] | None = None) -> int:
    """Run `report` on its own (`python -m bot.cli.report open …`), without the server."""
    parser = argparse.ArgumentParser(prog="audit-bot")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
