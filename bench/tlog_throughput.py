"""What the transparency log costs the webhook path, and its merge delay under that load.

The webhook benchmark's load (`webhook_throughput.py`: signed `pull_request` deliveries,
a new run each, from a load generator in its own process) against the bot with its log
(`python -m bot`) and without it (`bench/bot_without_log.py`), alternating `--pairs`
times in one run, so drift on a shared machine hits both alike. Printed: each run's
rate and latencies, the ratio log on / log off per pair and over all (target ≥ 0.90), and
from the log-on runs' databases the **merge delay**: from each event's commit
(`events.recorded_at`) to the first signed checkpoint that holds it
(`log_checkpoints.created_at`), p50 / p99 / max over every event (target ≤ 5 s), and how
many events the integrator had not logged by the time the load stopped.

Run from the repository root:  .venv/bin/python bench/tlog_throughput.py
Smaller:   .venv/bin/python bench/tlog_throughput.py --requests 300 --rounds 2 --pairs 1
"""

from __future__ import annotations

import argparse
import bisect
import multiprocessing
import secrets
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webhook_throughput as wt

from bot.trail.times import parse_time

TARGET_RATIO = 0.90
TARGET_MERGE_DELAY = 5.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed deliveries per round")
    parser.add_argument("--warmup", type=int, default=100, help="untimed deliveries first")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per run; fastest reported")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--prs", type=int, default=200, help="distinct pull requests per run")
    parser.add_argument("--pairs", type=int, default=2, help="log-on/log-off runs, alternating")
    parser.add_argument("--keep-db", action="store_true", help="keep the temp dir")
    parser.add_argument("--no-pin", action="store_true", help="let the kernel place processes")
    args = parser.parse_args(argv)
    if min(args.requests, args.rounds, args.prs, args.pairs, args.concurrency) < 1:
        parser.error("--requests, --rounds, --prs, --pairs and --concurrency must be >= 1")
    return args


def merge_delays(db: Path) -> tuple[list[float], int]:
    """Seconds from each logged event's commit to its first checkpoint; events not logged."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        checkpoints = conn.execute(
            "SELECT size, created_at FROM log_checkpoints ORDER BY size"
        ).fetchall()
        sizes = [int(size) for size, _ in checkpoints]
        signed = [parse_time(at).timestamp() for _, at in checkpoints]
        delays = []
        unlogged = 0
        for leaf, recorded in conn.execute("SELECT leaf_index, recorded_at FROM events"):
            at = bisect.bisect_right(sizes, int(leaf)) if leaf is not None else len(sizes)
            if at == len(sizes):
                unlogged += 1
                continue
            delays.append(max(0.0, signed[at] - parse_time(recorded).timestamp()))
    finally:
        conn.close()
    return sorted(delays), unlogged


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0915 (one report, top to bottom)
    args = parse_args(argv)
    for line in wt.machine_info():
        print(line)
    client_cpus, server_cpus = wt.split_cpus(not args.no_pin)
    plan = wt.LoadPlan(
        secret=secrets.token_hex(16),
        requests=args.requests,
        warmup=args.warmup,
        rounds=args.rounds,
        concurrencies=(args.concurrency,),
        prs=args.prs,
        settle=3.0,
        client_cpus=client_cpus,
        server_cpus=server_cpus,
    )
    print(
        f"load: {plan.rounds} rounds of {plan.requests} signed pull_request deliveries after "
        f"{plan.warmup} warm-up, over {plan.prs} PRs, concurrency {args.concurrency}; "
        f"{args.pairs} log-on/log-off pairs, alternating; figures are each run's fastest round"
    )
    tmpdir = Path(tempfile.mkdtemp(prefix="tlog-bench-"))
    common = wt.base_env() | {"HOST": "127.0.0.1", "GITHUB_WEBHOOK_SECRET": plan.secret}
    on_argv = [sys.executable, "-m", "bot"]
    off_argv = [sys.executable, str(wt.REPO / "bench" / "bot_without_log.py")]

    def spec(argv: list[str], db: Path) -> wt.ServerSpec:
        port = wt.free_port()
        env = common | {
            "PORT": str(port),
            "DATABASE_URL": f"sqlite:///{db}",
            "AUDIT_COMMENT_DEBOUNCE_SECONDS": "2",
        }
        return wt.ServerSpec(argv=argv, env=env, port=port)

    on: list[wt.Figures] = []
    off: list[wt.Figures] = []
    on_dbs: list[Path] = []
    failed = False
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            for pair in range(args.pairs):
                # alternate which goes first, so neither always runs on a warmer machine
                order = [("log on", on_argv), ("log off", off_argv)]
                for label, argv in order if pair % 2 == 0 else order[::-1]:
                    db = tmpdir / f"{label.replace(' ', '-')}-{pair}.db"
                    print(f"\n{label} (pair {pair + 1}):")
                    [fig] = wt.measure_server(label, [spec(argv, db)], plan, pool, tmpdir)
                    (on if label == "log on" else off).append(fig)
                    if label == "log on":
                        on_dbs.append(db)
    except (RuntimeError, wt.BrokenProcessPool) as exc:
        print(f"\nbenchmark aborted: {exc}", file=sys.stderr)
        failed = True

    print(wt.load_line("at the end"))
    print("\n== the log's cost on the webhook path ==")
    for n, (a, b) in enumerate(zip(on, off, strict=False)):
        print(
            f"pair {n + 1}: log on {a.rate:.0f}/s (p99 {a.p99_ms:.1f} ms), log off "
            f"{b.rate:.0f}/s (p99 {b.p99_ms:.1f} ms): ratio {a.rate / b.rate:.3f}"
        )
    if on and off:
        best_on = max(f.rate for f in on)
        best_off = max(f.rate for f in off)
        ratio = best_on / best_off
        verdict = "holds" if ratio >= TARGET_RATIO else "MISSED"
        print(
            f"best of each: log on {best_on:.0f}/s, log off {best_off:.0f}/s, ratio "
            f"{ratio:.3f} (target ≥ {TARGET_RATIO:.2f}: {verdict})"
        )
    print("\n== merge delay under that load (commit -> first signed checkpoint holding it) ==")
    for n, db in enumerate(on_dbs):
        if not db.exists():
            continue
        delays, unlogged = merge_delays(db)
        if not delays:
            print(f"log-on run {n + 1}: no event logged ({unlogged} not)")
            continue
        p50 = wt.percentile(delays, 50)
        p99 = wt.percentile(delays, 99)
        verdict = "holds" if delays[-1] <= TARGET_MERGE_DELAY and not unlogged else "MISSED"
        print(
            f"log-on run {n + 1}: {len(delays)} events, merge delay p50 {p50 * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms; {unlogged} not logged "
            f"when the server stopped (target max ≤ {TARGET_MERGE_DELAY:.0f} s: {verdict})"
        )
    if args.keep_db:
        print(f"\nkept {tmpdir}")
    else:
        shutil.rmtree(tmpdir, ignore_errors=True)
    errors = sum(f.errors + f.warmup_errors for f in on + off)
    if errors:
        print(f"\n{errors} deliveries failed (non-2xx or no answer)")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
