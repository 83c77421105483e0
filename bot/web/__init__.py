"""The HTML pages: a run's whole story, and every run of a pull request.

Lives here: the page handlers and their HTML error pages (``pages``), the run page's
rendering (``render``, ``html``), its spend chart (``chart``) and the per-run cache
of verified scans (``verified``), "Sign in with GitHub" and the pages' account
corner (``signin``), plus the static assets. May import the root
helpers, ``trail``, ``render``, ``store``, ``workers`` (scans) and ``http`` (the read
rule in ``bot.http.access``, query parameters, ``ApiError``); never ``reporter``,
``cli`` or ``app``.
"""

from __future__ import annotations

from bot.web.pages import setup

__all__ = ["setup"]
