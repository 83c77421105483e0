"""Per-repository settings in `.github/audit-bot.yml` on the default branch.

Read through the installation's client (so GitHub's ETag answers 304 and costs no
rate limit), parsed with PyYAML's safe loader, and kept briefly per repository.
A file that is not valid YAML, or has keys the bot does not know, never breaks the
summary: defaults apply and the summary says why in one line.

The same file in the owner's `.github` repository (`OWNER/.github`) supplies defaults
for every repository of that owner, like Probot's `context.config`: the repository's
own file overrides it setting by setting (`merge_settings`), so `budget.per_pr` in the
repository replaces only that key and keeps the owner's `budget.per_month`. Each file
is checked on its own first, so an invalid one is named in its notice and left out.

```yaml
budget:
  per_pr: 10 USD            # or {USD: 10, USDC: 5}
  per_month: 200 USD        # the repository's spend per calendar month (UTC)
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
import dataclasses
import json
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
BUDGET_KEYS = ("per_pr", "per_run", "per_month")
COMMENT_MODES = ("update", "recreate", "hide-and-new", "off")
COMMENT_WHEN = ("always", "spend", "over-budget")
COMMENT_KEYS = ("mode", "when")
NOTICE_CHARS = 300  # at most this much of why a file is ignored goes into the comment


@dataclass(frozen=True)
class RepoConfig:
    """What one repository asked for; `notices` explains anything that was ignored."""

    pr_budget: Mapping[str, Decimal] = field(default_factory=dict)
    # the repository's spend per calendar month (UTC), by currency (bot.trail.budget)
    month_budget: Mapping[str, Decimal] = field(default_factory=dict)
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
    data, problem = load_settings(text)
    return _invalid(problem) if problem is not None else _config(data)


def config_from(owner_text: str | None, repo_text: str | None, owner: str = "") -> RepoConfig:
    """The settings in force for a repository: the owner's file (`OWNER/.github`)
    overridden setting by setting by the repository's own; an invalid file is left out
    with its notice (naming the file), and the other still applies."""
    notices: list[str] = []
    layers: list[Mapping[str, Any]] = []
    for text, where in ((owner_text, f"{owner}/.github"), (repo_text, None)):
        if text is None:
            continue
        data, problem = load_settings(text)
        if problem is None:
            layers.append(data)
        elif where is None and layers:  # the owner's settings still apply
            notices.extend(_invalid(problem, None, f"`{owner}/.github`'s settings").notices)
        else:
            notices.extend(_invalid(problem, where).notices)
    merged: Mapping[str, Any] = {}
    for layer in layers:
        merged = merge_settings(merged, layer)
    try:
        config = _config(merged)
    except InvalidInput as exc:  # each layer was valid alone; a merge cannot break one
        return _invalid(_reason(exc))
    return dataclasses.replace(config, notices=(*config.notices, *notices))


def load_settings(text: str) -> tuple[Mapping[str, Any], str | None]:
    """A file's settings as plain data, checked (`({}, why)` when it is invalid)."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        return {}, f"larger than {MAX_BYTES // 1024} KiB"
    try:
        data = yaml.load(text, Loader=_ExactLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return {}, f"not valid YAML{where}"
    except (RecursionError, ArithmeticError, ValueError):
        return {}, "not valid YAML"
    if data is None:
        return {}, None
    try:
        _config(data)
    except InvalidInput as exc:
        return {}, _reason(exc)
    return _normal(data), None


def _reason(exc: InvalidInput) -> str:
    return f"`{_one_line(exc.path, 80)}` {exc.reason}" if exc.path else exc.reason


# Where two files' mappings merge key by key; anything else (a budget, a price entry's
# rates, an explorer's URL, a flag) is one setting, which the repository's file replaces.
_MERGED = ("", "budget", "budget.per_run", "comment", "explorers", "pricing")


def merge_settings(base: Mapping[str, Any], over: Mapping[str, Any], path: str = "") -> dict:
    """`over`'s settings on top of `base`'s: mappings merge key by key down to single
    settings, which `over` replaces whole (`budget.per_pr` in the repository replaces
    only the owner's `budget.per_pr`)."""
    merged = dict(base)
    for key, value in over.items():
        inner = f"{path}.{key}" if path else str(key)
        if inner in _MERGED and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_settings(merged[key], value, inner)
        else:
            merged[key] = value
    return merged


def _normal(data: Mapping[str, Any]) -> dict[str, Any]:
    """A valid file's data in the one shape merging compares: empty sections as `{}`,
    `comment: off` as `{mode: off}`, price keys as the lower-case `[provider ]model`
    they are matched by (so `GPT-4o` in a repository replaces the owner's `gpt-4o`)."""
    normal = dict(data)
    for key in ("budget", "explorers", "pricing"):
        if key in normal and normal[key] is None:
            normal[key] = {}
    if "comment" in normal and not isinstance(normal["comment"], Mapping):
        scalar = normal["comment"]
        normal["comment"] = {"mode": "off" if scalar is False else scalar}
    if "pricing" in normal:
        normal["pricing"] = {
            " ".join(str(k).lower().split()): v for k, v in normal["pricing"].items()
        }
    return normal


def _invalid(reason: str, where: str | None = None, instead: str = "defaults") -> RepoConfig:
    """Defaults and the one-line notice; `where` names the owner's file (`OWNER/.github`)."""
    name = f"`{PATH}` in `{where}`" if where else f"`{PATH}`"
    why = _one_line(reason, NOTICE_CHARS)
    return RepoConfig(notices=(f"{name} is ignored: {why}; {instead} apply.",))


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
    per_month = budget.get("per_month")
    per_run = budget.get("per_run")
    kinds: dict[str, dict[str, Decimal]] = {}
    if per_run is not None:
        for kind, limit in at("budget.per_run", require_mapping, per_run).items():
            kinds[str(kind)] = at(f"budget.per_run.{kind}", parse_budget, limit)
    mode, when = _comment(top.get("comment", "update"))
    return RepoConfig(
        pr_budget=at("budget.per_pr", parse_budget, per_pr) if per_pr is not None else {},
        month_budget=(
            at("budget.per_month", parse_budget, per_month) if per_month is not None else {}
        ),
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


ORG_REPO = ".github"  # the owner's repository whose file supplies defaults


@dataclass(frozen=True)
class _File:
    """One file as read from GitHub: its text, or None (absent), or why it was not read."""

    text: str | None = None
    notice: str | None = None


class RepoConfigs:
    """Parsed settings per repository, each kept for `ttl` seconds; the owner's file
    (`OWNER/.github`) is read once per owner per `ttl` and shared by its repositories.

    `api` gives the installation's GitHubAPI (with its ETag cache), so a refresh
    after the TTL is a conditional request. A missing file means defaults; a file
    the App may not read (403) means defaults and a notice; anything else (5xx,
    network) raises, and the outbox retries the whole refresh.
    """

    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache: TTLCache[str, RepoConfig] = TTLCache(maxsize=2048, ttl=ttl, timer=clock)
        self._owners: TTLCache[str, _File] = TTLCache(maxsize=1024, ttl=ttl, timer=clock)

    async def get(self, gh: Any, repo: str) -> RepoConfig:
        key = repo.lower()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        config = await self._fetch(gh, repo)
        self._cache[key] = config
        return config

    async def _fetch(self, gh: Any, repo: str) -> RepoConfig:
        owner = repo.split("/", 1)[0]
        defaults = self._owners.get(owner.lower())
        if repo.lower() == f"{owner}/{ORG_REPO}".lower():
            defaults = _File()  # the owner's own `.github` repository: its file, once
        elif defaults is None:
            defaults = await _read(gh, f"{owner}/{ORG_REPO}", f"`{PATH}` in `{owner}/{ORG_REPO}`")
            self._owners[owner.lower()] = defaults
        own = await _read(gh, repo, f"`{PATH}`")
        config = config_from(defaults.text, own.text, owner)
        extra = tuple(f.notice for f in (defaults, own) if f.notice is not None)
        if not extra:
            return config
        return dataclasses.replace(config, notices=(*extra, *config.notices))


async def _read(gh: Any, repo: str, name: str) -> _File:
    """The file's text from one repository (`name` says which file in a notice)."""
    try:
        reply = await gh.getitem(f"/repos/{repo}/contents/{PATH}")
    except BadRequest as exc:
        status = int(exc.status_code)
        if status == 404:
            return _File()
        if status == 403 and not is_rate_limit(exc):
            return _File(notice=f"{name} cannot be read (the App needs contents: read).")
        raise
    if not isinstance(reply, Mapping) or reply.get("type") != "file":
        return _File(notice=f"{name} is ignored: not a file; defaults apply.")
    try:
        text = base64.b64decode(str(reply.get("content", ""))).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return _File(notice=f"{name} is ignored: not UTF-8 text; defaults apply.")
    return _File(text=text)


# --- what the store keeps of it -------------------------------------------------------
# The read side (the repository page) and the reporter API never ask GitHub: the outbox
# saves the settings they need, as it last read them, in the store's named values.

SAVED_PREFIX = "repo-settings:"


def saved_name(repo: str) -> str:
    return SAVED_PREFIX + repo.lower()


def saved_settings(config: RepoConfig, private: bool = True) -> str:
    """The monthly budget and price overrides as JSON (exact decimal strings), and
    whether the repository is private (its budget is then shown only to callers who may
    read all of its runs)."""
    pricing = {
        (f"{e.provider} {e.model}" if e.provider else e.model): {
            name: str(rate) for name, rate in e.rates.items()
        }
        for e in config.pricing.entries
    }
    month = {currency: str(limit) for currency, limit in config.month_budget.items()}
    saved = {"per_month": month, "pricing": pricing, "private": private}
    return json.dumps(saved, sort_keys=True)


def read_saved(text: str | None) -> RepoConfig:
    """`saved_settings` read back (defaults when absent or unreadable)."""
    if not text:
        return DEFAULTS
    try:
        data = json.loads(text)
        month = data.get("per_month") or {}
        return RepoConfig(
            month_budget=parse_budget(month) if month else {},
            pricing=require_overrides(data.get("pricing")),
        )
    except (ValueError, AttributeError, InvalidInput):
        return DEFAULTS


def saved_private(text: str | None) -> bool:
    """Whether the saved settings are a private repository's (unknown counts as private)."""
    try:
        return json.loads(text or "{}").get("private") is not False
    except (ValueError, AttributeError):
        return True
