"""Per-repository settings in `.github/audit-bot.yml` on the default branch.

Read through the installation's client (so GitHub's ETag answers 304 and costs no
rate limit), parsed with PyYAML's safe loader, and kept briefly per repository.
A file that is not valid YAML, or has keys the bot does not know, never breaks the
summary: defaults apply and the summary says why in one line.

```yaml
budget:
  per_pr: 10 USD            # or {USD: 10, USDC: 5}
  per_run:                  # by run kind
    review: 1 USD
    agent: 2 USD, 3 USDC
comment:                    # or a scalar: `comment: update` / `comment: off`
  mode: update              # update | recreate | hide-and-new | off
  when: always              # always | spend | over-budget
spend_check: true           # the audit-bot/spend check run
explorers:                  # extra networks only; built-in ones cannot be replaced
  eip155:2741: https://abscan.org/tx/{tx}
pricing:                    # USD per million tokens (see bot.trail.price_overrides)
  my-llm: {input: 0.1, output: 0.4}
```
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml
from cachetools import TTLCache
from gidgethub import BadRequest

from bot.github.errors import is_rate_limit
from bot.trail.budget import parse_budget
from bot.trail.price_overrides import require_overrides
from bot.trail.pricing import Overrides
from bot.trail.proofs import EXPLORERS, parse_explorers
from bot.trail.validation import InvalidInput, at, kind_of, require_mapping

log = logging.getLogger(__name__)

PATH = ".github/audit-bot.yml"
MAX_BYTES = 64 * 1024
TTL = 60.0  # seconds a parsed file is reused before asking GitHub (cheaply) again
TOP_KEYS = ("budget", "comment", "spend_check", "explorers", "pricing")
BUDGET_KEYS = ("per_pr", "per_run")
COMMENT_MODES = ("update", "recreate", "hide-and-new", "off")
COMMENT_WHEN = ("always", "spend", "over-budget")
COMMENT_KEYS = ("mode", "when")
NOTICE_CHARS = 300  # at most this much of why a file is ignored goes into the comment


@dataclass(frozen=True)
class RepoConfig:
    """What one repository asked for; `notices` explains anything that was ignored."""

    pr_budget: Mapping[str, Decimal] = field(default_factory=dict)
    kind_budgets: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    comment: str = "update"  # mode: update | recreate | hide-and-new | off
    comment_when: str = "always"  # always | spend | over-budget
    spend_check: bool = True
    explorers: Mapping[str, str] = field(default_factory=dict)
    pricing: Overrides = field(default_factory=Overrides)  # validated; see bot.trail.pricing
    notices: tuple[str, ...] = ()


DEFAULTS = RepoConfig()


class _ExactLoader(yaml.SafeLoader):
    """YAML's floats become Decimal, so `0.10` in a budget is exactly 0.10."""


def _exact_float(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    value = Decimal(text) if text.lower() not in (".nan", ".inf", "-.inf", "+.inf") else text
    return value


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)


def parse_repo_config(text: str) -> RepoConfig:
    """The file's settings, or the defaults with one notice saying what was wrong."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        return _invalid(f"larger than {MAX_BYTES // 1024} KiB")
    try:
        data = yaml.load(text, Loader=_ExactLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return _invalid(f"not valid YAML{where}")
    except (RecursionError, ArithmeticError, ValueError):
        return _invalid("not valid YAML")
    if data is None:
        return DEFAULTS
    try:
        return _config(data)
    except InvalidInput as exc:
        return _invalid(f"`{_one_line(exc.path, 80)}` {exc.reason}" if exc.path else exc.reason)


def _invalid(reason: str) -> RepoConfig:
    return RepoConfig(
        notices=(f"`{PATH}` is ignored: {_one_line(reason, NOTICE_CHARS)}; defaults apply.",)
    )


def _one_line(text: str, limit: int) -> str:
    """File text quoted in a notice: one line of the PR comment, and short (a YAML key
    can be 60,000 characters long, enough to push the comment past GitHub's limit)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _config(data: object) -> RepoConfig:
    top = require_mapping(data)
    _known(top, TOP_KEYS, "")
    budget: Mapping[object, object] = {}
    if "budget" in top:
        budget = at("budget", require_mapping, top["budget"] or {})
        _known(budget, BUDGET_KEYS, "budget.")
    per_pr = budget.get("per_pr")
    per_run = budget.get("per_run")
    kinds: dict[str, dict[str, Decimal]] = {}
    if per_run is not None:
        for kind, limit in at("budget.per_run", require_mapping, per_run).items():
            kinds[str(kind)] = at(f"budget.per_run.{kind}", parse_budget, limit)
    mode, when = _comment(top.get("comment", "update"))
    return RepoConfig(
        pr_budget=at("budget.per_pr", parse_budget, per_pr) if per_pr is not None else {},
        kind_budgets=kinds,
        comment=mode,
        comment_when=when,
        spend_check=at("spend_check", _flag, top.get("spend_check", True)),
        explorers=at("explorers", _extra_explorers, top.get("explorers") or {}),
        pricing=at("pricing", require_overrides, top.get("pricing")),
    )


def _known(data: Mapping[object, object], allowed: tuple[str, ...], prefix: str) -> None:
    for key in data:
        if key not in allowed:
            raise InvalidInput(
                f"{prefix}{key}", f"is not a known key (expected {', '.join(allowed)})"
            )


def _comment(value: object) -> tuple[str, str]:
    """`comment: update` (a scalar mode) or `comment: {mode: …, when: …}`."""
    if not isinstance(value, Mapping):
        return at("comment", _comment_mode, value), "always"
    _known(value, COMMENT_KEYS, "comment.")
    mode = at("comment.mode", _comment_mode, value.get("mode", "update"))
    when = at("comment.when", _comment_when, value.get("when", "always"))
    return mode, when


def _comment_when(value: object) -> str:
    if isinstance(value, str) and value in COMMENT_WHEN:
        return value
    raise InvalidInput("", f"must be one of {', '.join(COMMENT_WHEN)}")


def _comment_mode(value: object) -> str:
    if value is False:  # YAML 1.1 reads a bare `off` as false
        return "off"
    if isinstance(value, str) and value in COMMENT_MODES:
        return value
    raise InvalidInput("", f"must be one of {', '.join(COMMENT_MODES)}")


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidInput("", f"must be true or false, not {kind_of(value)}")


def _extra_explorers(value: object) -> dict[str, str]:
    """Links for networks the bot has no explorer for; a built-in one is never replaced."""
    explorers = parse_explorers(value)
    for network in explorers:
        if network in EXPLORERS:
            raise InvalidInput(network, "already has a built-in explorer")
    return explorers


# --- reading it from GitHub --------------------------------------------------------


class RepoConfigs:
    """Parsed files per repository, each kept for `ttl` seconds.

    `api` gives the installation's GitHubAPI (with its ETag cache), so a refresh
    after the TTL is a conditional request. A missing file means defaults; a file
    the App may not read (403) means defaults and a notice; anything else (5xx,
    network) raises, and the outbox retries the whole refresh.
    """

    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache: TTLCache[str, RepoConfig] = TTLCache(maxsize=2048, ttl=ttl, timer=clock)

    async def get(self, gh: Any, repo: str) -> RepoConfig:
        key = repo.lower()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        config = await self._fetch(gh, repo)
        self._cache[key] = config
        return config

    async def _fetch(self, gh: Any, repo: str) -> RepoConfig:
        try:
            reply = await gh.getitem(f"/repos/{repo}/contents/{PATH}")
        except BadRequest as exc:
            status = int(exc.status_code)
            if status == 404:
                return DEFAULTS
            if status == 403 and not is_rate_limit(exc):
                return RepoConfig(
                    notices=(f"`{PATH}` cannot be read (the App needs contents: read).",)
                )
            raise
        if not isinstance(reply, Mapping) or reply.get("type") != "file":
            return _invalid("not a file")
        try:
            text = base64.b64decode(str(reply.get("content", ""))).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return _invalid("not UTF-8 text")
        return parse_repo_config(text)
