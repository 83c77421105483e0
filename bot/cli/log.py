"""`audit-bot log key`: print the verifier key of the log's checkpoints."""

from __future__ import annotations

import argparse

from bot.cli import settings_or_exit
from bot.cli.trail_tools import fail
from bot.workers.log_signing import load_signer

HELP = "the transparency log: `log key` prints the checkpoints' verifier key"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("log", help=HELP, description=HELP)
    parser.add_argument("action", choices=["key"])
    parser.set_defaults(run=main)


def main(args: argparse.Namespace) -> int:
    try:
        signer = load_signer(settings_or_exit(), create=False)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    print(signer.verifier.key)
    return 0
