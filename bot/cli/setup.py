"""`audit-bot setup --print-env`: the App `/setup` registered, as environment variables.

For platforms that take settings as environment variables rather than a file in the
data directory: the output is `NAME='value'` lines (shell-quoted; the private key keeps
its newlines), ready for a `.env` file or `export`. It prints secrets, so it writes to
standard output only and never logs.
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.config import ConfigError, data_dir_from
from bot.github.stored_credentials import StoredCredentialsError, env_lines, load, path_in


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "setup", help="show the GitHub App registered through /setup (--print-env)"
    )
    parser.add_argument(
        "--print-env",
        action="store_true",
        help="print GITHUB_APP_ID, GITHUB_PRIVATE_KEY and GITHUB_WEBHOOK_SECRET",
    )
    parser.add_argument("--data-dir", help="the data directory (default: as the bot finds it)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        data_dir = args.data_dir or data_dir_from({k: v for k, v in os.environ.items() if v})
        stored = load(data_dir)
    except (ConfigError, StoredCredentialsError) as exc:
        print(f"audit-bot: {exc}", file=sys.stderr)
        return 2
    if stored is None:
        print(
            f"audit-bot: no registered App in {path_in(data_dir)}; start the bot without "
            "GitHub credentials and open the /setup URL it logs",
            file=sys.stderr,
        )
        return 1
    if not args.print_env:
        print(f"GitHub App {stored.slug} (id {stored.app_id}), stored in {path_in(data_dir)}")
        print("audit-bot setup --print-env prints it as environment variables")
        return 0
    print("\n".join(env_lines(stored)))
    return 0
