"""`audit-bot spend` as a real subprocess: the API's figures from the database, read-only."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from bot.store import open_store_for
from tests.spend.fixture import PRIVATE, PUBLIC, commands, expected_totals


def audit_bot(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "GITHUB_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, timeout=60
    )


async def test_spend_prints_the_same_figures_read_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/audit.db"
    store = open_store_for(url, debounce=0.0)
    await store.open()
    for command in commands():
        await store.apply(command)
    await store.close()
    path = tmp_path / "audit.db"
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    common = ("--database", url, "--since", "2026-01-01", "--until", "2027-01-01")
    done = audit_bot(
        "spend", "--owner", "acme", *common, "--interval", "month", "--by", "repo", "--csv"
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    sums: dict[str, Decimal] = {}
    for row in rows:
        sums[row["currency"]] = sums.get(row["currency"], Decimal(0)) + Decimal(row["amount"])
    want = expected_totals({PUBLIC, PRIVATE})  # the operator holds the database: all of it
    assert {c: str(v) for c, v in sums.items()} != {} and set(sums) == set(want)
    assert sums["EUR"] == want["EUR"] and sums["USDC"] == want["USDC"]
    text = audit_bot("spend", "--repo", PUBLIC, *common, "--interval", "week", "--by", "kind")
    assert text.returncode == 0, text.stderr
    assert "total  2.5 EUR" in text.stdout
    assert "2026-11-02  2026-11-09  review  USD       0.333333333333333333  1" in text.stdout
    bad = audit_bot("spend", "--repo", PUBLIC, "--database", url, "--since", "soon")
    assert bad.returncode == 2 and "--since" in bad.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # never written
