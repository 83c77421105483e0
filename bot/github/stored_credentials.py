"""The GitHub App that `/setup` registered, kept in one file in the data directory.

`github-app.json` (mode 0600, written atomically: a temporary file in the same
directory, fsynced, then renamed over) holds what GitHub's manifest conversion
returned. `bot.config` reads it at start when the environment names no GitHub
credentials (environment variables win); `audit-bot setup --print-env` prints it as
environment variables. Nothing here logs a secret, and `repr` hides them.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILENAME = "github-app.json"


class StoredCredentialsError(ValueError):
    """The stored file exists but cannot be used; the message names it."""


@dataclass(frozen=True)
class StoredCredentials:
    app_id: int
    slug: str
    client_id: str
    html_url: str
    client_secret: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    pem: str = field(repr=False)

    @classmethod
    def from_conversion(cls, reply: Any) -> StoredCredentials:
        """From GitHub's `POST /app-manifests/{code}/conversions` answer, or ValueError."""
        if not isinstance(reply, dict):
            raise ValueError("the conversion answer is not a JSON object")
        try:
            app_id = reply["id"]
            if not isinstance(app_id, int) or isinstance(app_id, bool) or app_id < 1:
                raise ValueError("id")
            texts = {
                name: reply[name]
                for name in ("slug", "client_id", "client_secret", "webhook_secret", "pem")
            }
            html_url = reply["html_url"]
        except KeyError as exc:
            raise ValueError(f"the conversion answer has no {exc.args[0]!r}") from None
        if not all(isinstance(v, str) and v for v in [*texts.values(), html_url]):
            raise ValueError("the conversion answer has an empty or non-text field")
        if "PRIVATE KEY-----" not in texts["pem"]:
            raise ValueError("the conversion answer's pem is not a PEM private key")
        return cls(app_id=app_id, html_url=html_url, **texts)

    def as_env(self) -> dict[str, str]:
        """The settings `bot.config` reads, as environment variables."""
        return {
            "GITHUB_APP_ID": str(self.app_id),
            "GITHUB_PRIVATE_KEY": self.pem,
            "GITHUB_WEBHOOK_SECRET": self.webhook_secret,
            "GITHUB_CLIENT_ID": self.client_id,  # "Sign in with GitHub"
            "GITHUB_CLIENT_SECRET": self.client_secret,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.app_id,
            "slug": self.slug,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "webhook_secret": self.webhook_secret,
            "pem": self.pem,
            "html_url": self.html_url,
        }


def path_in(data_dir: str | Path) -> Path:
    return Path(data_dir) / FILENAME


def load(data_dir: str | Path) -> StoredCredentials | None:
    """The stored App, None when there is none, StoredCredentialsError when unusable."""
    path = path_in(data_dir)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoredCredentialsError(f"{path} cannot be read: {exc.strerror}") from None
    try:
        return StoredCredentials.from_conversion(json.loads(text))
    except ValueError as exc:  # the message never quotes the file's content
        raise StoredCredentialsError(f"{path} is not a stored GitHub App: {exc}") from None


def save(data_dir: str | Path, credentials: StoredCredentials) -> Path:
    """Write the file atomically with mode 0600 (never readable by others, not even briefly)."""
    path = path_in(data_dir)
    write_private(path, json.dumps(credentials.to_json(), indent=2) + "\n")
    return path


def write_private(path: Path, text: str | bytes, *, replace: bool = True) -> bool:
    """`text` into `path`, mode 0600, atomically: a private temporary file, fsynced, then
    renamed over `path` or, with `replace=False`, hard-linked into place so a file already
    there wins (False): instances starting at once never overwrite each other's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode() if isinstance(text, str) else text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)  # whatever the umask did
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


def env_lines(credentials: StoredCredentials) -> list[str]:
    """`NAME=value` lines a shell (or a .env file) reads back; the PEM keeps its newlines."""
    return [f"{name}={shlex.quote(value)}" for name, value in credentials.as_env().items()]
