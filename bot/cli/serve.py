"""`audit-bot serve`: run the bot (the default command)."""

from __future__ import annotations

import argparse
import dataclasses
import socket
import sqlite3
import sys

from aiohttp import web

from bot.cli import settings_or_exit
from bot.cli.listen import CannotListen, listen
from bot.config import ConfigError, Settings, role_from
from bot.http import server
from bot.logs import setup_logging
from bot.store.base import StoreError

IN_FLIGHT_WAIT = 5.0  # seconds: at most this long for requests in flight on SIGTERM


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run the bot (default)")
    parser.add_argument(
        "--role",
        default=None,
        help="what this process serves: all (default), intake (webhooks, reporter writes, "
        "outbox, periodic jobs) or read (pages, read API, streams; read-only store); "
        "overrides AUDIT_ROLE",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bot.app import create_app  # imported here: other commands start without the app

    settings = settings_or_exit()
    role = getattr(args, "role", None)
    if role is not None:
        try:
            settings = dataclasses.replace(settings, role=role_from(role, "--role"))
        except ConfigError as exc:
            print(f"audit-bot: configuration error: {exc}", file=sys.stderr)
            return 2
    setup_logging(settings.log_format, settings.log_level)
    try:  # bound before the app starts: a taken port is one line, nothing announced
        sock = listen(settings.host, settings.port)
    except CannotListen as exc:
        print(f"audit-bot: {exc}", file=sys.stderr)
        return 2
    settings = dataclasses.replace(settings, port=sock.getsockname()[1])
    try:
        _serve(create_app(settings), settings, sock)
    except (StoreError, OSError, sqlite3.Error) as exc:  # store unusable: one line
        sock.close()
        print(f"audit-bot: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _serve(app: web.Application, settings: Settings, sock: socket.socket) -> None:
    # `web.run_app` with a runner that adds header and body read timeouts (bot.http.server).
    server.serve(
        app,
        settings,
        sock=sock,
        # Requests in flight get a short wait (webhooks answer in milliseconds; aiohttp
        # stops reading bodies at shutdown, so a stalled upload only waits this out),
        # then the outbox flush gets AUDIT_SHUTDOWN_GRACE_SECONDS: 5 + 25 s by default.
        shutdown_timeout=min(IN_FLIGHT_WAIT, settings.shutdown_grace / 5),
    )
