"""The bot with its transparency log taken out: the baseline for `tlog_throughput.py`.

The same bot (`python -m bot serve`) without the log integrator, and with the outbox not
waiting for checkpoints: what the bot would cost if issue 15 had not been built. The
benchmark runs it beside the real bot in the same run to show what the log costs on the
webhook path (target: within 10 %). Never a way to run the bot: the log is not optional.

Configured like the bot: HOST, PORT, GITHUB_WEBHOOK_SECRET, DATABASE_URL.
"""

from __future__ import annotations

import sys
from typing import Any

from bot import app
from bot.__main__ import main
from bot.workers import log_integrator
from bot.workers.outbox import OutboxWorker

_init = OutboxWorker.__init__


def _without_log_stamps(self: OutboxWorker, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **{**kwargs, "log_stamps": False})


if __name__ == "__main__":
    app.FEATURES[:] = [(f, roles) for f, roles in app.FEATURES if f is not log_integrator.setup]
    OutboxWorker.__init__ = _without_log_stamps  # type: ignore[method-assign]
    sys.exit(main(["serve"]))
