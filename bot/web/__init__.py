"""The HTML pages: a run's whole story, and every run of a pull request."""

from __future__ import annotations

from bot.web.pages import setup

__all__ = ["setup"]
