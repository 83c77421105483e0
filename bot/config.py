"""Settings: read once from the environment, validated at start.

A bad value stops the bot with one line naming the variable (`ConfigError`), so a
misconfigured deployment fails loudly instead of silently accepting unsigned
webhooks or posting nowhere.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_DATABASE_URL = "sqlite:///./data/audit.db"
DEFAULT_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_MAX_PAYLOAD = 25 * 1024 * 1024
MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    webhook_secret: str | None = field(default=None, repr=False)
    app_id: int | None = None
    private_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    web_url: str | None = None  # GITHUB_WEB_URL, else derived from api_url (bot.web.setup)
    data_dir: str = "./data"  # AUDIT_DATA_DIR, else the SQLite file's directory
    database_url: str = DEFAULT_DATABASE_URL
    public_url: str | None = None
    max_body_bytes: int = GITHUB_MAX_PAYLOAD
    comment_debounce: float = 2.0
    log_format: str = "text"
    log_level: str = "INFO"
    # AUDIT_ROLE / `serve --role`: what this process serves (see ROLES)
    role: str = "all"
    # Reporter API (CI steps)
    oidc_issuer: str = DEFAULT_OIDC_ISSUER
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_enabled: bool = True
    api_tokens: str = field(default="", repr=False)
    admin_token: str | None = field(default=None, repr=False)
    link_key: str | None = field(default=None, repr=False)
    oidc_policies: Mapping[str, str] = field(default_factory=dict)
    oidc_repositories: tuple[str, ...] | None = None
    api_max_body_bytes: int = 1024 * 1024
    ci_rates: Mapping[str, Any] = field(default_factory=dict)  # label -> Decimal or SKU
    model_prices: Any = None  # bot.trail.pricing.Overrides from AUDIT_MODEL_PRICES, if set
    explorers: Mapping[str, str] = field(default_factory=dict)  # CAIP-2 -> URL with {tx}
    # Operations
    retention_days: int | None = None
    retention_max_runs: int | None = None
    redelivery_interval: float = 600.0
    shutdown_grace: float = 25.0
    ready_max_lag: float = 300.0  # /readyz answers 503 when the outbox is this overdue
    max_live_streams: int = 1000  # open SSE tails at once; each holds a connection and polls
    # Intake limits against slow or hostile clients (bot.http.server, bot.http.intake)
    header_timeout: float = 10.0  # a request's headers must be complete within this
    body_timeout: float = 30.0  # a request's whole body must arrive within this
    max_body_bytes_in_flight: int = 64 * MIB  # body bytes being received, all clients
    max_body_bytes_per_address: int = 32 * MIB  # the same, one client address
    max_exports: int = 100  # open NDJSON exports at once; each holds a connection
    max_streams_per_client: int = 10  # exports and tails open at once from one client address
    stream_write_timeout: float = 10.0  # a stream whose reader takes nothing this long is dropped
    # Transparency log: the checkpoint signing key (PEM; None: generated into the data
    # directory at first start) and the log's name in its checkpoints
    log_signing_key: str | None = field(default=None, repr=False)
    log_origin: str = "localhost/audit-bot"
    # Sign in with GitHub (bot.web.signin): the App's OAuth client, the key that signs
    # session cookies and encrypts user tokens at rest, session lifetimes, how long what
    # GitHub says a user may read is trusted, and how long the comment's links live
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    session_key: str | None = field(default=None, repr=False)
    session_idle: int = 8 * 3600
    session_max: int = 7 * 86400
    access_cache_seconds: int = 300
    link_ttl: int | None = None  # seconds a comment's link token stays valid; None: forever

    @property
    def mode(self) -> str:
        """`app`, `token` or `dry-run`: how (and whether) the bot talks to GitHub."""
        if self.app_id is not None:
            return "app"
        if self.token:
            return "token"
        return "dry-run"

    @property
    def setup_mode(self) -> bool:
        """No GitHub credentials and no webhook secret: `/setup` can register the App."""
        return self.mode == "dry-run" and not self.webhook_secret

    @property
    def unsigned_webhooks(self) -> bool:
        return not self.webhook_secret

    @property
    def link_base(self) -> str | None:
        """The base of links in the PR comment: PUBLIC_URL; without it, in local mode
        (dry run or unsigned webhooks), the bot's own listening address, so the comment
        is clickable on the machine that runs it. None when neither is known."""
        if self.public_url:
            return self.public_url
        if not (self.mode == "dry-run" or self.unsigned_webhooks) or not self.port:
            return None
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def signin(self) -> bool:
        """Whether "Sign in with GitHub" is offered: an OAuth client, a session key and
        an address GitHub can send the browser back to."""
        return bool(self.client_id and self.client_secret and self.session_key and self.link_base)

    @property
    def jwks_url(self) -> str:
        return self.oidc_jwks_url or self.oidc_issuer.rstrip("/") + "/.well-known/jwks"

    @property
    def audience(self) -> str | None:
        return self.oidc_audience or self.public_url


# What one process serves. "intake": GitHub's webhooks, the reporter API's writes, the
# outbox and the periodic jobs. "read": pages, the read API, streams, the OpenAPI
# document, with a read-only store. "all": both, in one process (the default).
ROLES = ("all", "intake", "read")


def role_from(raw: str, name: str) -> str:
    """A serving role, or a one-line `ConfigError` naming `name` (AUDIT_ROLE, --role)."""
    role = raw.strip().lower()
    if role not in ROLES:
        raise ConfigError(f"{name} must be one of {', '.join(ROLES)}, not {raw!r}")
    return role


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from `environ` (default `os.environ`), or raise `ConfigError`."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if v != ""}
    default_host = "0.0.0.0" if env.get("GITHUB_WEBHOOK_SECRET") else "127.0.0.1"
    data_dir = data_dir_from(env)
    env = _with_stored_credentials(env, data_dir)
    secret = env.get("GITHUB_WEBHOOK_SECRET")
    app_id = _int(env, "GITHUB_APP_ID", minimum=1)
    private_key = _private_key(env)
    token = env.get("GITHUB_TOKEN")
    if app_id is not None and private_key is None:
        raise ConfigError(
            "GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH is required with GITHUB_APP_ID"
        )
    if private_key is not None and app_id is None:
        raise ConfigError("GITHUB_APP_ID is required with a GitHub App private key")
    if (app_id is not None or token) and not secret:
        raise ConfigError(
            "GITHUB_WEBHOOK_SECRET is required when GitHub credentials are set: "
            "unsigned webhooks must not be able to make the bot write to GitHub"
        )
    host = env.get("HOST", default_host)
    # Setup mode (no credentials, no secret) may listen beyond loopback: the webhook
    # route then refuses every delivery until /setup has stored a secret.
    if not secret and not is_loopback(host) and (app_id is not None or token):
        raise ConfigError(
            f"HOST={host} exposes a bot that accepts unsigned webhooks; "
            "set GITHUB_WEBHOOK_SECRET or listen on 127.0.0.1"
        )
    log_format = env.get("AUDIT_LOG_FORMAT", "text")
    if log_format not in ("text", "json"):
        raise ConfigError(f"AUDIT_LOG_FORMAT must be 'text' or 'json', not {log_format!r}")
    public_url = _url(env, "PUBLIC_URL")
    return Settings(
        host=host,
        port=_int(env, "PORT", minimum=0, maximum=65535, default=8000),
        webhook_secret=secret,
        app_id=app_id,
        private_key=private_key,
        token=token,
        api_url=(_url(env, "GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
        web_url=(_url(env, "GITHUB_WEB_URL") or "").rstrip("/") or None,
        data_dir=data_dir,
        database_url=_database_url(env),
        public_url=public_url.rstrip("/") if public_url else None,
        max_body_bytes=_int(env, "AUDIT_MAX_BODY_BYTES", minimum=1024, default=GITHUB_MAX_PAYLOAD),
        comment_debounce=_float(env, "AUDIT_COMMENT_DEBOUNCE_SECONDS", 2.0),
        log_format=log_format,
        log_level=_log_level(env),
        role=role_from(env.get("AUDIT_ROLE", "all"), "AUDIT_ROLE"),
        oidc_issuer=_url(env, "AUDIT_OIDC_ISSUER") or DEFAULT_OIDC_ISSUER,
        oidc_audience=env.get("AUDIT_OIDC_AUDIENCE"),
        oidc_jwks_url=_url(env, "AUDIT_OIDC_JWKS_URL"),
        oidc_enabled=_bool(env, "AUDIT_OIDC_ENABLED", True),
        api_tokens=_api_tokens(env),
        admin_token=env.get("AUDIT_ADMIN_TOKEN"),
        link_key=env.get("AUDIT_LINK_KEY") or secret,
        oidc_policies=_oidc_policies(env),
        oidc_repositories=_oidc_repositories(env),
        api_max_body_bytes=_int(
            env,
            "AUDIT_API_MAX_BODY_BYTES",
            minimum=1024,
            maximum=GITHUB_MAX_PAYLOAD,
            default=1024 * 1024,
        ),
        ci_rates=_ci_rates(env),
        model_prices=_model_prices(env),
        explorers=_explorers(env),
        retention_days=_int(env, "AUDIT_RETENTION_DAYS", minimum=1),
        retention_max_runs=_int(env, "AUDIT_RETENTION_MAX_RUNS", minimum=1),
        redelivery_interval=_float(env, "AUDIT_REDELIVERY_INTERVAL_SECONDS", 600.0),
        shutdown_grace=_float(env, "AUDIT_SHUTDOWN_GRACE_SECONDS", 25.0),
        ready_max_lag=_float(env, "AUDIT_READY_MAX_OUTBOX_LAG_SECONDS", 300.0),
        max_live_streams=_int(env, "AUDIT_MAX_LIVE_STREAMS", minimum=0, default=1000) or 0,
        **_intake_limits(env),
        max_exports=_int(env, "AUDIT_MAX_EXPORTS", minimum=0, default=100) or 0,
        max_streams_per_client=_int(env, "AUDIT_MAX_STREAMS_PER_CLIENT", minimum=1, default=10)
        or 10,
        stream_write_timeout=_positive(env, "AUDIT_STREAM_WRITE_TIMEOUT_SECONDS", 10.0),
        log_signing_key=_log_signing_key(env),
        log_origin=_log_origin(env, public_url),
        **_signin(env, secret),
    )


def _signin(env: Mapping[str, str], secret: str | None) -> dict[str, Any]:
    """GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET (or the App setup stored), the session key
    (AUDIT_SESSION_KEY, else the link key), session lifetimes and AUDIT_LINK_TTL."""
    client_id, client_secret = env.get("GITHUB_CLIENT_ID"), env.get("GITHUB_CLIENT_SECRET")
    if bool(client_id) != bool(client_secret):
        raise ConfigError("GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET must be set together")
    idle = _duration(env, "AUDIT_SESSION_IDLE_TIMEOUT", 8 * 3600)
    most = _duration(env, "AUDIT_SESSION_MAX_AGE", 7 * 86400)
    assert idle is not None and most is not None
    if idle > most:
        raise ConfigError(
            f"AUDIT_SESSION_IDLE_TIMEOUT ({idle} s) must not exceed "
            f"AUDIT_SESSION_MAX_AGE ({most} s)"
        )
    key = env.get("AUDIT_SESSION_KEY") or env.get("AUDIT_LINK_KEY") or secret
    if env.get("AUDIT_SESSION_KEY") is not None and len(env["AUDIT_SESSION_KEY"]) < 16:
        raise ConfigError("AUDIT_SESSION_KEY must be at least 16 characters")
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "session_key": key,
        "session_idle": idle,
        "session_max": most,
        "access_cache_seconds": _duration(env, "AUDIT_SIGNIN_CACHE_SECONDS", 300, minimum=0),
        "link_ttl": _duration(env, "AUDIT_LINK_TTL", None),
    }


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(
    env: Mapping[str, str], name: str, default: int | None, *, minimum: int = 1
) -> int | None:
    """Seconds, written as a number (`3600`) or with a unit (`90m`, `8h`, `30d`)."""
    raw = env.get(name)
    if raw is None:
        return default
    text = raw.strip().lower()
    unit = _UNITS.get(text[-1:], 0)
    digits = text[:-1] if unit else text
    if not digits.isdigit() or not (unit or text.isdigit()):
        raise ConfigError(f"{name} must be seconds or a number with s, m, h or d, not {raw!r}")
    value = int(digits) * (unit or 1)
    if value < minimum or value > 10 * 365 * 86400:
        raise ConfigError(f"{name} must be between {minimum} s and ten years, not {raw!r}")
    return value


def _int(
    env: Mapping[str, str],
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
) -> int | None:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 <= value < 86400:
        raise ConfigError(f"{name} must be between 0 and 86400 seconds, not {raw!r}")
    return value


def _intake_limits(env: Mapping[str, str]) -> dict[str, Any]:
    """Read timeouts and the in-flight body budget; a body the budget can never hold
    (one client's share below the largest accepted body) is refused at start."""
    limits: dict[str, Any] = {}
    limits["header_timeout"] = _positive(env, "AUDIT_HEADER_TIMEOUT_SECONDS", 10.0)
    limits["body_timeout"] = _positive(env, "AUDIT_BODY_TIMEOUT_SECONDS", 30.0)
    largest = max(
        _int(env, "AUDIT_MAX_BODY_BYTES", default=GITHUB_MAX_PAYLOAD) or 0,
        _int(env, "AUDIT_API_MAX_BODY_BYTES", default=MIB) or 0,
    )
    total = _int(env, "AUDIT_MAX_BODY_BYTES_IN_FLIGHT", minimum=1024, default=64 * MIB)
    share = _int(env, "AUDIT_MAX_BODY_BYTES_PER_ADDRESS", minimum=1024, default=32 * MIB)
    assert total is not None and share is not None
    if share > total:
        raise ConfigError(
            f"AUDIT_MAX_BODY_BYTES_PER_ADDRESS ({share}) must not exceed "
            f"AUDIT_MAX_BODY_BYTES_IN_FLIGHT ({total})"
        )
    if share < largest:
        raise ConfigError(
            f"AUDIT_MAX_BODY_BYTES_PER_ADDRESS ({share}) must be at least the largest "
            f"accepted body (AUDIT_MAX_BODY_BYTES / AUDIT_API_MAX_BODY_BYTES: {largest})"
        )
    limits["max_body_bytes_in_flight"] = total
    limits["max_body_bytes_per_address"] = share
    return limits


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    """Seconds that must be above zero: a zero timeout would drop every reader at once."""
    value = _float(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name} must be more than 0 seconds, not {env[name]!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, not {raw!r}")
    return raw


def _database_url(env: Mapping[str, str]) -> str:
    raw = env.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    scheme = raw.split(":", 1)[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError(
            "DATABASE_URL must start with sqlite:/// or postgresql://, "
            f"not {scheme + ':' if ':' in raw else repr(raw)}"
        )
    if scheme == "sqlite" and not raw.startswith("sqlite:///"):
        raise ConfigError("DATABASE_URL for SQLite must look like sqlite:///path/to/file.db")
    return raw


def data_dir_from(env: Mapping[str, str]) -> str:
    """Where setup keeps its files: AUDIT_DATA_DIR, else beside the SQLite database."""
    if "AUDIT_DATA_DIR" in env:
        return env["AUDIT_DATA_DIR"]
    database = _database_url(env)
    if database.startswith("sqlite:///"):
        return str(Path(database[len("sqlite:///") :]).parent)
    return "./data"


def _with_stored_credentials(env: Mapping[str, str], data_dir: str) -> dict[str, str]:
    """The App `/setup` registered (bot.github.stored_credentials), under the environment.

    Environment variables win: with any GitHub credential in the environment the stored
    file is not read at all, so the two are never mixed.
    """
    given = ("GITHUB_APP_ID", "GITHUB_TOKEN", "GITHUB_PRIVATE_KEY", "GITHUB_PRIVATE_KEY_PATH")
    if any(name in env for name in given):
        return dict(env)
    from bot.github.stored_credentials import StoredCredentialsError, load

    try:
        stored = load(data_dir)
    except StoredCredentialsError as exc:
        raise ConfigError(str(exc)) from None
    if stored is None:
        return dict(env)
    return {**stored.as_env(), **env}


def _log_level(env: Mapping[str, str]) -> str:
    level = env.get("LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    return level


def _private_key(env: Mapping[str, str]) -> str | None:
    """The App key as PEM text, base64 of the PEM, or a path to a PEM file."""
    text = env.get("GITHUB_PRIVATE_KEY")
    path = env.get("GITHUB_PRIVATE_KEY_PATH")
    if text and path:
        raise ConfigError("set GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH, not both")
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"GITHUB_PRIVATE_KEY_PATH cannot be read: {exc.strerror}") from None
        name = "GITHUB_PRIVATE_KEY_PATH"
    elif text:
        name = "GITHUB_PRIVATE_KEY"
    else:
        return None
    text = text.strip().replace("\\n", "\n")
    if not text.startswith("-----BEGIN"):
        try:
            text = base64.b64decode(text, validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            text = ""
    if "PRIVATE KEY-----" not in text:
        raise ConfigError(f"{name} is not a PEM private key (PEM text, base64 of it, or a path)")
    return text.strip() + "\n"


def _pairs(env: Mapping[str, str], name: str) -> list[tuple[str, str]]:
    """`key=value,key=value` entries, split at the first `=`; blank entries are skipped."""
    pairs = []
    for position, entry in enumerate(env.get(name, "").split(","), start=1):
        if not entry.strip():
            continue
        key, equals, value = entry.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise ConfigError(f"{name}: entry {position} must look like key=value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def _api_tokens(env: Mapping[str, str]) -> str:
    """Checked at start so a typo fails loudly; the reporter API parses it again."""
    from bot.auth.tokens import parse_api_tokens

    value = env.get("AUDIT_API_TOKENS", "")
    try:
        parse_api_tokens(value)
    except ValueError as exc:
        raise ConfigError(f"AUDIT_API_TOKENS: {exc}") from None
    return value


def _oidc_policies(env: Mapping[str, str]) -> dict[str, str]:
    """`owner/repo-glob=owner/repo/.github/workflows/file.yml@ref-glob`, comma-separated."""
    from bot.auth.tokens import normalise_repository_glob

    policies: dict[str, str] = {}
    for repo, workflow in _pairs(env, "AUDIT_OIDC_POLICIES"):
        path, at, ref = workflow.partition("@")
        if normalise_repository_glob(repo) is None:
            raise ConfigError(f"AUDIT_OIDC_POLICIES: {repo!r} is not an owner/name glob")
        if not path or not at or not ref or "@" in ref:
            raise ConfigError(
                f"AUDIT_OIDC_POLICIES: the workflow for {repo!r} must look like "
                "owner/repo/.github/workflows/file.yml@ref (globs allowed)"
            )
        if repo in policies:
            raise ConfigError(f"AUDIT_OIDC_POLICIES: {repo!r} appears twice")
        policies[repo] = workflow
    return policies


def _oidc_repositories(env: Mapping[str, str]) -> tuple[str, ...] | None:
    """Repository globs whose Actions tokens are accepted at all (unset: any)."""
    from bot.auth.tokens import normalise_repository_glob

    raw = env.get("AUDIT_OIDC_REPOSITORIES")
    if raw is None:
        return None
    globs = []
    for glob in raw.replace("|", ",").split(","):
        if not glob.strip():
            continue
        normalised = normalise_repository_glob(glob)
        if normalised is None:
            raise ConfigError(
                f"AUDIT_OIDC_REPOSITORIES: {glob.strip()!r} is not an owner/name glob"
            )
        globs.append(normalised)
    return tuple(globs)


def _ci_rates(env: Mapping[str, str]) -> dict[str, Any]:
    """`runner-label=0.01` (USD per minute) or `runner-label=linux_16_core` (a SKU)."""
    from bot.trail.rates import parse_rate_overrides
    from bot.trail.validation import InvalidInput

    try:
        return parse_rate_overrides(dict(_pairs(env, "AUDIT_CI_RATES")))
    except InvalidInput as exc:
        raise ConfigError(f"AUDIT_CI_RATES: {exc}") from None


def _model_prices(env: Mapping[str, str]) -> Any:
    """`[PROVIDER ]MODEL = input 2.5, output 10[, cache_read 1.25]; …` (USD per million)."""
    raw = env.get("AUDIT_MODEL_PRICES", "")
    if not raw.strip():
        return None
    from bot.trail.price_overrides import parse_price_overrides
    from bot.trail.validation import InvalidInput

    try:
        return parse_price_overrides(raw)
    except InvalidInput as exc:
        raise ConfigError(f"AUDIT_MODEL_PRICES: {exc}") from None


def _explorers(env: Mapping[str, str]) -> dict[str, str]:
    """`network=https://host/tx/{tx}` entries; x402's decoder is imported only when set."""
    pairs = _pairs(env, "AUDIT_EXPLORERS")
    if not pairs:
        return {}
    from bot.trail.proofs import parse_explorers
    from bot.trail.validation import InvalidInput

    try:
        return parse_explorers(dict(pairs))
    except InvalidInput as exc:
        raise ConfigError(f"AUDIT_EXPLORERS: {exc}") from None


def _log_signing_key(env: Mapping[str, str]) -> str | None:
    """AUDIT_LOG_SIGNING_KEY: an Ed25519 key as PEM text, or the path of a PEM file."""
    raw = env.get("AUDIT_LOG_SIGNING_KEY")
    if raw is None:
        return None
    text = raw.strip().replace("\\n", "\n")
    if not text.startswith("-----BEGIN"):
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise ConfigError(f"AUDIT_LOG_SIGNING_KEY cannot be read: {exc.strerror}") from None
    from bot.trail.checkpoint import CheckpointError, signer_from_pem

    try:
        signer_from_pem("check", text.encode())
    except CheckpointError as exc:
        raise ConfigError(f"AUDIT_LOG_SIGNING_KEY: {exc} (PEM text or a path)") from None
    return text


def _log_origin(env: Mapping[str, str], public_url: str | None) -> str:
    """AUDIT_LOG_ORIGIN, else `<PUBLIC_URL's host>/audit-bot`: the log's name."""
    origin = env.get("AUDIT_LOG_ORIGIN")
    if origin is None:
        host = urlsplit(public_url).hostname if public_url else None
        return f"{host or 'localhost'}/audit-bot"
    if any(c.isspace() for c in origin) or "+" in origin:
        raise ConfigError(f"AUDIT_LOG_ORIGIN must be one word without '+', not {origin!r}")
    return origin


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address: where an unsigned or unset-up bot may listen."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
