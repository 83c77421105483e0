"""`audit-bot serve`: run the bot (the default command)."""

from __future__ import annotations

import argparse

from aiohttp import web

from bot.app import create_app
from bot.cli import settings_or_exit
from bot.logs import setup_logging


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run the bot (default)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    setup_logging(settings.log_format, settings.log_level)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        shutdown_timeout=settings.shutdown_grace,
    )
    return 0
