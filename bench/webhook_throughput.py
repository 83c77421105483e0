"""Webhook throughput of the bot, measured against a bare aiohttp ceiling on the same machine.

Absolute numbers depend on the machine, so the figure that matters is the ratio: the
bot (verify, dedupe, one durable SQLite commit, 2xx) against `ceiling_server.py`
(verify, 2xx) under the same load. Each server runs in its own process and the load
comes from a third one, so no two of them share an event loop.

Run from the repository root:  .venv/bin/python bench/webhook_throughput.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import multiprocessing
import os
import platform
import secrets
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "webhooks"
OPENED = FIXTURES / "pull_request.opened.json"
SYNCHRONIZE = FIXTURES / "pull_request.synchronize.json"
DEFAULT_BOT_CMD = ".venv/bin/python -m bot"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
TARGET_RATIO = 0.50
TARGET_P99_MS = 20.0
TARGET_CONCURRENCY = 16
# Inherited variables that could make a server do more than the dry run we measure
# (GitHub credentials) or point it somewhere else; the benchmark sets its own.
STRIPPED_ENV_PREFIXES = ("GITHUB_", "AUDIT_")
STRIPPED_ENV_NAMES = ("DATABASE_URL", "HOST", "PORT", "PUBLIC_URL")


@dataclass(frozen=True)
class ServerSpec:
    """One server process to start: its command line, environment and port."""

    argv: list[str]
    env: dict[str, str]
    port: int
    host: str = "127.0.0.1"

    @property
    def base_url(self) -> str:
        """Where the load generator and the readiness poll reach it."""
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class LoadPlan:
    """What every measured run sends; the same for every server so results compare."""

    secret: str
    requests: int
    warmup: int
    rounds: int
    concurrencies: tuple[int, ...]
    prs: int
    settle: float
    client_cpus: frozenset[int] | None = None
    server_cpus: frozenset[int] | None = None


@dataclass(frozen=True)
class LoadJob:
    """One run of the load generator: sent to its process, so it must pickle."""

    urls: tuple[str, ...]
    secret: str
    requests: int
    warmup: int
    rounds: int
    concurrency: int
    prs: int
    pr_base: int
    cpus: frozenset[int] | None = None


@dataclass(frozen=True)
class Round:
    """One timed round: its wall time and every request's latency, in seconds."""

    seconds: float
    latencies: list[float]


@dataclass(frozen=True)
class LoadOutcome:
    """What the load generator sends back: raw timings, so the parent does the maths."""

    rounds: list[Round]
    errors: int
    warmup_errors: int
    samples: list[str]


@dataclass
class Figures:
    """What one run measured, as the load generator saw it.

    A run is several rounds; the figures are those of the fastest round. On a shared
    virtual machine, noise from outside only ever slows a round down (by up to 3x was
    seen on two cores), so the fastest round is the best estimate of what the server
    can do, as `timeit` reasons; every round's rate is printed too.
    """

    label: str
    concurrency: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    warmup_errors: int
    round_rates: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Deliveries acknowledged per second of wall time."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


# --- the load generator (runs in its own process) ---------------------------------------


def _deliveries(job: LoadJob) -> Iterator[tuple[bytes, dict[str, str]]]:
    """Signed `pull_request` deliveries: each PR is opened once, then pushed to.

    PR numbers cycle over `job.prs` pull requests and every delivery carries a new
    random head SHA, so the bot records a new run for each, as it would for real pushes.
    """
    opened = json.loads(OPENED.read_text())
    synchronize = json.loads(SYNCHRONIZE.read_text())
    key = job.secret.encode()
    heads: dict[int, str] = {}
    for i in range(job.warmup + job.rounds * job.requests):
        number = job.pr_base + i % job.prs
        sha = secrets.token_hex(20)
        if number in heads:
            payload = synchronize
            payload["before"], payload["after"] = heads[number], sha
        else:
            payload = opened
        payload["number"] = number
        payload["pull_request"]["number"] = number
        payload["pull_request"]["id"] = 10_000_000 + number
        payload["pull_request"]["head"]["sha"] = sha
        heads[number] = sha
        body = json.dumps(payload, separators=(",", ":")).encode()
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        yield (
            body,
            {
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": f"sha256={signature}",
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/bench",
            },
        )


async def _phase(
    session: aiohttp.ClientSession,
    urls: Sequence[str],
    batch: list[tuple[bytes, dict[str, str]]],
    width: int,
) -> tuple[list[float], int, list[str]]:
    """Send `batch` with `width` requests in flight; return latencies, errors, samples."""
    latencies: list[float] = []
    samples: list[str] = []
    errors = 0
    todo = iter(enumerate(batch))

    async def worker() -> None:
        nonlocal errors
        for i, (body, headers) in todo:
            url = urls[i % len(urls)]
            started = time.perf_counter()
            problem = ""
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    text = await resp.read()
                    if not 200 <= resp.status < 300:
                        problem = f"HTTP {resp.status}: {text[:200].decode(errors='replace')}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            latencies.append(time.perf_counter() - started)
            if problem:
                errors += 1
                if len(samples) < 5:
                    samples.append(problem)

    await asyncio.gather(*(worker() for _ in range(width)))
    return latencies, errors, samples


async def _drive(job: LoadJob) -> LoadOutcome:
    """Warm up, then time `job.rounds` rounds of `job.requests` over one connection pool."""
    deliveries = _deliveries(job)
    urls = [f"{u}/webhook" for u in job.urls]
    connector = aiohttp.TCPConnector(limit=job.concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    rounds: list[Round] = []
    errors = 0
    samples: list[str] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        batch = list(itertools.islice(deliveries, job.warmup))
        _, warm_errors, warm_samples = await _phase(session, urls, batch, job.concurrency)
        samples += [f"warm-up: {s}" for s in warm_samples]
        for _ in range(job.rounds):
            batch = list(itertools.islice(deliveries, job.requests))  # signed before timing
            started = time.perf_counter()
            latencies, round_errors, round_samples = await _phase(
                session, urls, batch, job.concurrency
            )
            rounds.append(Round(time.perf_counter() - started, latencies))
            errors += round_errors
            samples += round_samples[: max(0, 5 - len(samples))]
    return LoadOutcome(rounds=rounds, errors=errors, warmup_errors=warm_errors, samples=samples)


def run_load(job: LoadJob) -> LoadOutcome:
    """Entry point of the load-generator process."""
    if job.cpus:
        os.sched_setaffinity(0, job.cpus)
    return asyncio.run(_drive(job))


# --- servers -----------------------------------------------------------------------------


def split_cpus(pin: bool) -> tuple[frozenset[int] | None, frozenset[int] | None]:
    """Give the load generator one CPU of its own and the servers the rest.

    Unpinned, the kernel tends to wake a server on the CPU of the client that just wrote
    to it, so on two cores a run lands, by chance, at either half or full speed.
    """
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return frozenset(cpus[-1:]), frozenset(cpus[:-1])


@contextlib.contextmanager
def cpu_affinity(cpus: frozenset[int] | None) -> Iterator[None]:
    """Run the block (a Popen: the child inherits the mask) on `cpus`, then restore."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    """This process's environment without anything that would change what a server does."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(STRIPPED_ENV_PREFIXES) and k not in STRIPPED_ENV_NAMES
    }


def _log_tail(path: Path, lines: int = 20) -> str:
    """The end of a server's log, to explain why it did not come up."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_ready(proc: subprocess.Popen[bytes], spec: ServerSpec, log: Path) -> float:
    """Poll GET /healthz until it answers 200; return how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{shlex.join(spec.argv)} exited with {proc.returncode} before it was ready:\n"
                + _log_tail(log)
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{spec.base_url}/healthz", timeout=1) as resp,
        ):
            if resp.status == 200:
                return time.monotonic() - started
        time.sleep(0.1)
    raise RuntimeError(
        f"{shlex.join(spec.argv)} not ready after {READY_TIMEOUT:.0f} s:\n" + _log_tail(log)
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started, and kill it if it does not go in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure_server(
    label: str,
    servers: Sequence[ServerSpec],
    plan: LoadPlan,
    pool: Executor,
    logdir: Path,
) -> list[Figures]:
    """Start `servers`, load them at each concurrency of `plan`, stop them, return figures.

    With several servers (instances sharing one store) the load generator spreads the
    deliveries over them round-robin; the figures are for the set as a whole.
    """
    procs: list[subprocess.Popen[bytes]] = []
    figures: list[Figures] = []
    try:
        for n, spec in enumerate(servers):
            log = logdir / f"{label}-{n}.log"
            with log.open("wb") as out, cpu_affinity(plan.server_cpus):
                proc = subprocess.Popen(
                    spec.argv, cwd=REPO, env=spec.env, stdout=out, stderr=subprocess.STDOUT
                )
            procs.append(proc)
            took = wait_ready(proc, spec, log)
            print(f"  {label}: {shlex.join(spec.argv)} ready on {spec.base_url} in {took:.1f} s")
        for run, concurrency in enumerate(plan.concurrencies):
            if run:
                time.sleep(plan.settle)  # let background work from the last run finish
            job = LoadJob(
                urls=tuple(s.base_url for s in servers),
                secret=plan.secret,
                requests=plan.requests,
                warmup=plan.warmup,
                rounds=plan.rounds,
                concurrency=concurrency,
                prs=plan.prs,
                pr_base=100_000 * (run + 1),
                cpus=plan.client_cpus,
            )
            cpu_before = cpu_seconds(procs)
            outcome = pool.submit(run_load, job).result()
            cpu_after = cpu_seconds(procs)
            best = min(outcome.rounds, key=lambda r: r.seconds)
            latencies = sorted(best.latencies)
            fig = Figures(
                label=label,
                concurrency=concurrency,
                requests=plan.requests,
                seconds=best.seconds,
                p50_ms=percentile(latencies, 50) * 1000,
                p99_ms=percentile(latencies, 99) * 1000,
                max_ms=latencies[-1] * 1000 if latencies else 0.0,
                errors=outcome.errors,
                warmup_errors=outcome.warmup_errors,
                round_rates=[plan.requests / r.seconds for r in outcome.rounds],
                error_samples=outcome.samples,
            )
            print("  " + row(fig))
            if cpu_before is not None and cpu_after is not None:
                sent = plan.warmup + plan.rounds * plan.requests
                user, kernel = (
                    1e6 * (b - a) / sent for a, b in zip(cpu_before, cpu_after, strict=True)
                )
                print(
                    f"      CPU per delivery (server processes, whole run incl. background "
                    f"work): user {user:.0f} µs, kernel {kernel:.0f} µs"
                )
            if min(fig.round_rates) < 0.75 * max(fig.round_rates):
                print("      note: rounds differ by over 25 %: the machine was noisy, rerun")
            for sample in fig.error_samples:
                print(f"      error: {sample}")
            figures.append(fig)
            for proc, spec in zip(procs, servers, strict=True):
                if proc.poll() is not None:
                    raise RuntimeError(f"{shlex.join(spec.argv)} died with {proc.returncode}")
    finally:
        for proc in procs:
            stop(proc)
    return figures


def cpu_seconds(procs: Sequence[subprocess.Popen[bytes]]) -> tuple[float, float] | None:
    """User and kernel CPU seconds the processes (all their threads) have used so far.

    Read from /proc/<pid>/stat (Linux); None elsewhere, and the line is not printed.
    """
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    user = kernel = 0.0
    for proc in procs:
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        user += int(fields[11]) / tick  # utime, the 14th field of the whole line
        kernel += int(fields[12]) / tick  # stime
    return user, kernel


def measure_postgres(
    bot_argv: list[str],
    spec: Callable[..., ServerSpec],
    plan: LoadPlan,
    pool: Executor,
    logdir: Path,
) -> dict[str, list[Figures]]:
    """The bot on PostgreSQL: one instance, then two sharing one database.

    The server is a throwaway one started from the installed binaries (as the tests
    do), with durable commits (fsync and synchronous_commit on, as SQLite's
    `synchronous=FULL`), pinned to the servers' CPUs like the bots it serves.
    """
    sys.path.insert(0, str(REPO))
    from tests.support.pg_server import PostgresUnavailable, ThrowawayPostgres

    try:
        server = ThrowawayPostgres(durable=True)
        with cpu_affinity(plan.server_cpus):
            server.start()
    except PostgresUnavailable as exc:
        print(f"\nPostgreSQL: not measured ({exc})")
        return {}
    results: dict[str, list[Figures]] = {}
    try:
        debounce = {"AUDIT_COMMENT_DEBOUNCE_SECONDS": "2"}
        one = spec(bot_argv, DATABASE_URL=server.create_database("bench_one"), **debounce)
        print(f"\nbot on PostgreSQL {server.version} (durable commits):")
        results["pg"] = measure_server("pg", [one], plan, pool, logdir)
        shared = server.create_database("bench_two")
        two = [spec(bot_argv, DATABASE_URL=shared, **debounce) for _ in range(2)]
        print("\ntwo bots sharing one PostgreSQL database (deliveries alternate between them):")
        results["pg x2"] = measure_server("pg x2", two, plan, pool, logdir)
    finally:
        server.stop()
    return results


# --- reporting ---------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when it is empty)."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


def row(fig: Figures) -> str:
    """One table line of figures."""
    errors = fig.errors + fig.warmup_errors
    rounds = ", ".join(f"{r:.0f}" for r in fig.round_rates)
    return (
        f"{fig.label:<8} c={fig.concurrency:<3} {fig.rate:8.1f} deliveries/s  "
        f"p50 {fig.p50_ms:6.2f} ms  p99 {fig.p99_ms:6.2f} ms  max {fig.max_ms:7.2f} ms  "
        f"errors {errors}  (rounds/s: {rounds})"
    )


def machine_info() -> list[str]:
    """What the figures depend on, printed with them."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return [
        f"nproc: {affinity or os.cpu_count()}  (os.cpu_count {os.cpu_count()})  cpu: {cpu}",
        f"python: {platform.python_implementation()} {platform.python_version()}"
        f"  on {platform.platform()}",
        f"sqlite: {sqlite3.sqlite_version}",
        load_line("at start"),
    ]


def load_line(when: str) -> str:
    """The load average: other work on the machine is the usual cause of odd figures."""
    if not hasattr(os, "getloadavg"):
        return f"load average {when}: unknown"
    one, five, _ = os.getloadavg()
    return f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min)"


def report(
    ceiling: list[Figures], bot: list[Figures], floor: list[Figures], bound: list[Figures]
) -> None:
    """Print the ratios per concurrency and whether the targets hold.

    Beside the bot's ratio to the ceiling: the least durable receiver's (`floor`: what
    any server that commits before its 2xx reaches at most) and the bot without its
    store's writes (`bound`: what the request path alone reaches), when measured.
    """
    by_c = {f.concurrency: f for f in ceiling}
    columns = [("bot", bot), ("least durable", floor), ("bot without store", bound)]
    columns = [(name, {f.concurrency: f for f in figs}) for name, figs in columns if figs]
    print("\nthroughput / ceiling's:  " + "  |  ".join(name for name, _ in columns))
    for fig in bot:
        base = by_c.get(fig.concurrency)
        if not base or not base.rate:
            continue
        cells = []
        for name, figs in columns:
            other = figs.get(fig.concurrency)
            cells.append(f"{name} {other.rate / base.rate:.2f}" if other else f"{name} -")
        print(f"  c={fig.concurrency:<3} " + "  |  ".join(cells))
    at = next((f for f in bot if f.concurrency == TARGET_CONCURRENCY), None)
    base = by_c.get(TARGET_CONCURRENCY)
    print(f"\ntargets at concurrency {TARGET_CONCURRENCY}:")
    if at is None or base is None or not base.rate:
        print(f"  not measured (add {TARGET_CONCURRENCY} to --concurrency)")
        return
    ratio = at.rate / base.rate
    print(f"  ratio {ratio:.2f} >= {TARGET_RATIO:.2f}: {'yes' if ratio >= TARGET_RATIO else 'NO'}")
    print(
        f"  bot p99 {at.p99_ms:.2f} ms < {TARGET_P99_MS:.0f} ms: "
        f"{'yes' if at.p99_ms < TARGET_P99_MS else 'NO'}"
    )
    failed = at.errors + at.warmup_errors
    print(f"  no failed deliveries: {'yes' if not failed else f'NO ({failed} failed)'}")


def report_stores(results: dict[str, list[Figures]]) -> None:
    """Each store's throughput beside the SQLite bot's from the same run."""
    labels = [label for label in ("bot", "pg", "pg x2") if label in results]
    if len(labels) < 2:
        return
    names = {"bot": "SQLite, 1 bot", "pg": "PostgreSQL, 1 bot", "pg x2": "PostgreSQL, 2 bots"}
    print("\nstores side by side (deliveries/s, p99 ms; x = throughput / SQLite's):")
    for fig in results["bot"]:
        cells = []
        for label in labels:
            other = next((f for f in results[label] if f.concurrency == fig.concurrency), None)
            if other is not None:
                ratio = other.rate / fig.rate if fig.rate else 0.0
                cells.append(
                    f"{names[label]} {other.rate:7.1f}/s p99 {other.p99_ms:6.2f} x{ratio:.2f}"
                )
        print(f"  c={fig.concurrency:<3} " + "  |  ".join(cells))


# --- command line ------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The benchmark's flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed deliveries per run")
    parser.add_argument("--warmup", type=int, default=100, help="untimed deliveries first")
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed rounds per run; the fastest is reported"
    )
    parser.add_argument(
        "--concurrency", default="16,64", help="comma-separated requests in flight, per run"
    )
    parser.add_argument("--prs", type=int, default=200, help="distinct pull requests per run")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds between runs on one server"
    )
    parser.add_argument(
        "--bot-cmd", default=DEFAULT_BOT_CMD, help="command that serves the bot (cwd = repo)"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the temp dir with the DB")
    parser.add_argument(
        "--no-postgres",
        action="store_true",
        help="skip the PostgreSQL runs (one bot, then two sharing one database)",
    )
    parser.add_argument(
        "--no-writes",
        action="store_true",
        help="skip counting GitHub writes per PR for a 100-event burst (bench/github_writes.py)",
    )
    parser.add_argument(
        "--no-bound",
        action="store_true",
        help="skip the two bounds: the least durable receiver (bench/durable_floor_server.py) "
        "and the bot without its store's writes (bench/bot_without_store.py)",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let the kernel place processes (default: load generator on a CPU of its own)",
    )
    args = parser.parse_args(argv)
    try:
        args.concurrencies = tuple(int(c) for c in args.concurrency.split(",") if c.strip())
    except ValueError:
        parser.error(f"--concurrency must be integers separated by commas: {args.concurrency!r}")
    if not args.concurrencies or min(args.concurrencies) < 1:
        parser.error("--concurrency needs at least one value >= 1")
    if min(args.requests, args.rounds, args.prs) < 1 or args.warmup < 0:
        parser.error("--requests, --rounds and --prs must be >= 1, --warmup >= 0")
    return args


def measure_all(
    args: argparse.Namespace,
    plan: LoadPlan,
    spec: Callable[..., ServerSpec],
    bot_argv: list[str],
    tmpdir: Path,
) -> tuple[dict[str, list[Figures]], bool]:
    """Every server in turn on one load plan; (figures by server, whether a run aborted)."""
    failed = False
    results: dict[str, list[Figures]] = {}
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            ceiling = spec([sys.executable, str(REPO / "bench" / "ceiling_server.py")])
            print("\nceiling (bench/ceiling_server.py):")
            results["ceiling"] = measure_server("ceiling", [ceiling], plan, pool, tmpdir)
            bot = spec(
                bot_argv,
                DATABASE_URL=f"sqlite:///{tmpdir}/bench.db",
                AUDIT_COMMENT_DEBOUNCE_SECONDS="2",
            )
            print(f"\nbot ({shlex.join(bot_argv)}):")
            results["bot"] = measure_server("bot", [bot], plan, pool, tmpdir)
            if not args.no_bound:
                floor = spec(
                    [sys.executable, str(REPO / "bench" / "durable_floor_server.py")],
                    DATABASE_URL=f"sqlite:///{tmpdir}/floor.db",
                )
                print("\nthe least durable receiver (bench/durable_floor_server.py):")
                results["floor"] = measure_server("floor", [floor], plan, pool, tmpdir)
                bound = spec(
                    [sys.executable, str(REPO / "bench" / "bot_without_store.py")],
                    DATABASE_URL=f"sqlite:///{tmpdir}/bound.db",
                )
                print("\nbot without its store's writes (bench/bot_without_store.py):")
                results["bound"] = measure_server("no-store", [bound], plan, pool, tmpdir)
            if not args.no_postgres:
                results |= measure_postgres(bot_argv, spec, plan, pool, tmpdir)
        if not args.no_writes:
            from github_writes import report as report_writes  # bench/ is on sys.path

            report_writes(bot_argv, tmpdir)
    except (RuntimeError, BrokenProcessPool) as exc:
        print(f"\nbenchmark aborted: {exc}", file=sys.stderr)
        failed = True
    finally:
        if args.keep_db:
            print(f"\nkept {tmpdir} (database and server logs)")
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)

    return results, failed


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the ceiling, then the bot; exit 1 if any delivery failed."""
    args = parse_args(argv)
    for line in machine_info():
        print(line)
    client_cpus, server_cpus = split_cpus(not args.no_pin)
    if client_cpus and server_cpus:
        print(f"cpus: load generator {sorted(client_cpus)}, servers {sorted(server_cpus)}")
    else:
        print("cpus: not pinned")
    plan = LoadPlan(
        secret=secrets.token_hex(16),
        requests=args.requests,
        warmup=args.warmup,
        rounds=args.rounds,
        concurrencies=args.concurrencies,
        prs=args.prs,
        settle=args.settle,
        client_cpus=client_cpus,
        server_cpus=server_cpus,
    )
    print(
        f"load: {plan.rounds} rounds of {plan.requests} signed pull_request deliveries after "
        f"{plan.warmup} warm-up, over {plan.prs} PRs, at concurrency "
        f"{','.join(map(str, plan.concurrencies))}; figures are the fastest round's"
    )
    tmpdir = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    common = base_env() | {"HOST": "127.0.0.1", "GITHUB_WEBHOOK_SECRET": plan.secret}
    bot_argv = shlex.split(args.bot_cmd)
    if bot_argv and "/" in bot_argv[0] and not Path(bot_argv[0]).is_absolute():
        bot_argv[0] = str(REPO / bot_argv[0])

    def spec(argv: list[str], **extra: str) -> ServerSpec:
        port = free_port()
        return ServerSpec(argv=argv, env=common | {"PORT": str(port), **extra}, port=port)

    results, failed = measure_all(args, plan, spec, bot_argv, tmpdir)

    print(load_line("at the end"))
    if "ceiling" in results and "bot" in results:
        report(
            results["ceiling"], results["bot"], results.get("floor", []), results.get("bound", [])
        )
    report_stores(results)
    total_errors = sum(f.errors + f.warmup_errors for figs in results.values() for f in figs)
    if total_errors:
        print(f"\n{total_errors} deliveries failed (non-2xx or no answer)")
    return 1 if failed or total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
