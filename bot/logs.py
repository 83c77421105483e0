"""Logging: readable lines locally, one JSON object a line in production.

Records carry delivery, installation, repository and run ids when given as `extra`;
nothing here ever formats a token, key or secret (they are never passed in).

Every webhook writes one line, so a record costs what the formatters need and no
more: no caller frame lookup, thread, process or task names (no format here uses
them), and the text format's time stamp is built once per second.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

import orjson

_FIELDS = ("delivery", "installation", "repo", "run", "runs", "pr")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # a lone surrogate (undecodable bytes in a path): escaped instead
            return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message`, the time to the millisecond in local time."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:  # strftime once a second, not once a line
            self._second = second
            self._stamp = time.strftime(self.default_time_format, self.converter(second))
        return f"{self._stamp},{int(record.msecs):03d}"


def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    # The caller's file and line, and thread, process and task names, are looked up for
    # every record unless turned off; neither format prints them.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
