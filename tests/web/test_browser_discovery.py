"""How the browser test finds its browser on machines without Debian's chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web import test_pages_browser as pages


def executables(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)


def test_debian_first_then_path_then_the_variable_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    debian = tmp_path / "usr-bin-chromium"
    monkeypatch.setattr(pages, "DEBIAN_CHROMIUM", str(debian))
    monkeypatch.delenv("AUDIT_TEST_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert pages.find_chromium() is None

    executables(tmp_path, "google-chrome")  # GitHub's Ubuntu runners
    assert pages.find_chromium() == str(tmp_path / "google-chrome")
    executables(tmp_path, "chromium-browser")
    assert pages.find_chromium() == str(tmp_path / "chromium-browser")
    executables(tmp_path, "usr-bin-chromium")
    assert pages.find_chromium() == str(debian)

    monkeypatch.setenv("AUDIT_TEST_CHROMIUM", "google-chrome")  # a name on PATH, or a path
    assert pages.find_chromium() == str(tmp_path / "google-chrome")
    monkeypatch.setenv("AUDIT_TEST_CHROMIUM", str(tmp_path / "absent"))
    assert pages.find_chromium() is None  # named but missing: skipped (a failure in CI)
