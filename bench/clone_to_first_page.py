"""From `git clone` to the first run page, as the README's quick start does it.

Each run clones this checkout into a fresh directory (no `.venv`), runs the README's
start command (`./scripts/serve`, `PORT=0`), and times: the clone, the listening line
(the package install is nearly all of it), `/healthz`'s first 200, and the first run
page (the README's example webhook, then the page its answer links to). Prints each
run and the min and median. pip's cache is used as pip uses it (warm after one install
on this machine); `--cold` sets PIP_NO_CACHE_DIR=1, so every package is downloaded.

    python3 bench/clone_to_first_page.py [--runs 3] [--cold]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.quickstart import ROOT, QuickStart, readme_blocks

STEPS = ("clone", "listening", "healthz", "run page")


def once(cold: bool) -> dict[str, float]:
    serve = readme_blocks()[0]
    with tempfile.TemporaryDirectory(prefix="clone-to-page-") as where:
        run = QuickStart(ROOT, Path(where), {"PIP_NO_CACHE_DIR": "1"} if cold else None)
        try:
            run.clone()
            run.serve(serve, timeout=600)
            run.until_healthy()
            run.first_run_page()
        finally:
            run.stop()
        return run.marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="no pip cache (PIP_NO_CACHE_DIR=1)")
    args = parser.parse_args()
    results = []
    for n in range(args.runs):
        marks = once(args.cold)
        results.append(marks)
        print(f"run {n + 1}: " + ", ".join(f"{s} {marks[s]:.1f} s" for s in STEPS), flush=True)
    for step in STEPS:
        values = [r[step] for r in results]
        print(f"{step:>9}: min {min(values):.1f} s, median {statistics.median(values):.1f} s")


if __name__ == "__main__":
    main()
