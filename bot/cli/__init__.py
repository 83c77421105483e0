"""One module per command line command: `add_parser(subparsers)` and `run(args)`."""

from __future__ import annotations

import sys

from bot.config import ConfigError, Settings, load_settings


def settings_or_exit() -> Settings:
    """The settings, or exit 2 with the one-line reason (no traceback)."""
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"audit-bot: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
