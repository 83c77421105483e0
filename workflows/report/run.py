"""Entry point of the composite action: the inputs → `audit-bot report` (stdlib only).

The inputs arrive as environment variables, never pasted into a shell script, and
`args` is split with `shlex` (nothing in it is executed). The bot's package is
imported from the checkout of this action itself, two directories up.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def arguments(environ: dict[str, str]) -> list[str]:
    command = environ.get("REPORT_COMMAND", "").strip()
    args = [command, *shlex.split(environ.get("REPORT_ARGS", ""))]
    if environ.get("REPORT_BOT_URL"):
        args += ["--url", environ["REPORT_BOT_URL"]]
    if environ.get("REPORT_AUDIENCE"):
        args += ["--audience", environ["REPORT_AUDIENCE"]]
    if environ.get("REPORT_STRICT", "").lower() == "true":
        args.append("--strict")
    return args


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from bot.cli.report import main as report

    try:
        args = arguments(dict(os.environ))
    except ValueError as exc:  # unbalanced quotes in `args`
        print(f"::error title=audit-bot report::cannot split the args input: {exc}")
        return 1
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
