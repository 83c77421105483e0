"""The access log line keeps the request's shape and drops the query's secrets."""

from __future__ import annotations

import pytest

from bot.http.access_log import redact


@pytest.mark.parametrize(
    ("line", "logged"),
    [
        ("GET /setup?token=s3cret HTTP/1.1", "GET /setup?token=[redacted] HTTP/1.1"),
        (
            "GET /setup/callback?code=c0de&state=st4te HTTP/1.1",
            "GET /setup/callback?code=[redacted]&state=[redacted] HTTP/1.1",
        ),
        ("GET /setup?org=acme&token=s3cret", "GET /setup?org=acme&token=[redacted]"),
        ("GET /runs/r1?t=link&after=3 HTTP/1.1", "GET /runs/r1?t=[redacted]&after=3 HTTP/1.1"),
        ("GET /setup?%74oken=s3cret HTTP/1.1", "GET /setup?%74oken=[redacted] HTTP/1.1"),
        (
            "http://127.0.0.1:8000/setup?TOKEN=s3cret",
            "http://127.0.0.1:8000/setup?TOKEN=[redacted]",
        ),
        ("GET /api/runs?limit=5&cursor=abc HTTP/1.1", "GET /api/runs?limit=5&cursor=abc HTTP/1.1"),
        ("GET /x?tokens=1&t= HTTP/1.1", "GET /x?tokens=1&t= HTTP/1.1"),
        ("-", "-"),
    ],
)
def test_secret_query_values_are_redacted(line: str, logged: str) -> None:
    assert redact(line) == logged
