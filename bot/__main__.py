"""Command line: `serve` (the default) runs the bot; the others work on its store.

Each command lives in its own module under `bot.cli` with `add_parser(subparsers)`
and `run(args) -> int`; `COMMANDS` lists them.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from bot import __version__


def _missing_dependency(exc: ModuleNotFoundError) -> NoReturn:
    """Run without the install (`python -m bot` from a fresh clone): say what to run."""
    if not exc.name or exc.name.partition(".")[0] == "bot":
        raise exc
    print(
        f"audit-bot: the dependency {exc.name!r} is not installed for {sys.executable}.\n"
        "Start the bot with ./scripts/serve (it installs into .venv first), or run "
        "./scripts/install and then .venv/bin/python -m bot",
        file=sys.stderr,
    )
    raise SystemExit(2)


try:
    from bot.cli import (
        demo,
        export,
        import_,
        log,
        rebuild,
        report,
        serve,
        setup,
        spend,
        verify,
    )
except ModuleNotFoundError as exc:
    _missing_dependency(exc)

COMMANDS = [serve, demo, export, import_, verify, rebuild, report, setup, log, spend]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="audit-bot", description="Audited runs for pull requests, as a GitHub App."
    )
    parser.add_argument("--version", action="version", version=f"audit-bot {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or sys.argv[1:])])
    return int(args.run(args))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ModuleNotFoundError as exc:  # a command's own imports (e.g. serve's bot.app)
        _missing_dependency(exc)
