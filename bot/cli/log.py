"""`audit-bot log key`: print the verifier key of the log's checkpoints."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli import settings_or_exit
from bot.cli.log_witness import witness
from bot.cli.trail_tools import fail
from bot.workers.log_signing import load_signer

HELP = (
    "the transparency log: `log key` prints the checkpoints' verifier key; "
    "`log witness --from-github OWNER/REPO` checks the checkpoints the bot published on "
    "the repository's PRs against the current tree"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("log", help=HELP, description=HELP)
    parser.add_argument("action", choices=["key", "witness"])
    parser.add_argument(
        "--from-github",
        metavar="OWNER/REPO",
        help="witness: the repository whose PR comments and check runs carry checkpoints",
    )
    parser.add_argument(
        "--key",
        metavar="KEY",
        help="witness: the verifier key(s) to trust (a key or a file; default: the bot's own)",
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        help="witness: the store (default: DATABASE_URL, else sqlite:///./data/audit.db)",
    )
    parser.set_defaults(run=main)


def main(args: argparse.Namespace) -> int:
    if args.action == "witness":
        if not args.from_github:
            return fail("log witness needs --from-github OWNER/REPO")
        return asyncio.run(witness(args))
    try:
        signer = load_signer(settings_or_exit(), create=False)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    print(signer.verifier.key)
    return 0
