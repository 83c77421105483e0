"""The key that signs the transparency log's checkpoints, found or made once at start.

`AUDIT_LOG_SIGNING_KEY` wins; else the key in the data directory (beside the SQLite
file, or `./data` with PostgreSQL), generated there at first start with mode 0600 and
one loud log line: losing it means a new key, and readers must be told (see README).
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import Settings
from bot.github.stored_credentials import write_private
from bot.store import sqlite_path
from bot.trail.checkpoint import Signer, generate_signer, signer_from_pem, signer_to_pem

log = logging.getLogger(__name__)

KEY_FILE = "log-signing-key.pem"


def key_path(settings: Settings) -> Path:
    """Where the generated key lives: the data directory."""
    if settings.database_url.startswith("sqlite:"):
        return sqlite_path(settings.database_url).parent / KEY_FILE
    return Path("data") / KEY_FILE


def load_signer(settings: Settings, *, create: bool = True) -> Signer:
    """The checkpoint signer, named after the log's origin."""
    name = settings.log_origin
    if settings.log_signing_key is not None:
        return signer_from_pem(name, settings.log_signing_key.encode())
    path = key_path(settings)
    if path.exists():
        return signer_from_pem(name, path.read_bytes())
    if not create:
        raise FileNotFoundError(f"no log signing key at {path} and AUDIT_LOG_SIGNING_KEY unset")
    signer = generate_signer(name)
    # another instance made one first: use it
    if not write_private(path, signer_to_pem(signer), replace=False):
        return signer_from_pem(name, path.read_bytes())
    log.warning(
        "GENERATED a new transparency log signing key at %s (mode 0600): back it up, or set "
        "AUDIT_LOG_SIGNING_KEY; verifier key %s",
        path,
        signer.verifier.key,
    )
    return signer


