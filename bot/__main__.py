"""Command line: `serve` (the default) runs the bot; other commands operate on a store."""

from __future__ import annotations

import argparse
import sys

from aiohttp import web

from bot import __version__
from bot.app import create_app
from bot.config import ConfigError, load_settings
from bot.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="audit-bot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"audit-bot {__version__}")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the bot (default)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"audit-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_format, settings.log_level)
    if args.command in (None, "serve"):
        web.run_app(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            print=None,
            shutdown_timeout=settings.shutdown_grace,
        )
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
