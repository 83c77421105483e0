"""The page tests here drive the same Chromium as `tests/web/test_pages_browser.py`."""

from tests.web.test_pages_browser import browser  # noqa: F401 - a fixture, shared
