"""Webhook latency while the read side is attacked, next to an idle baseline.

The bot answers GitHub's webhooks and serves public pages and streams from one
process, so a reader must never be able to slow the intake. This starts the bot as a
real process (SQLite in a temp dir), fills a large public run through the reporter
API, then sends signed webhooks at a modest steady rate from a separate process while
each attack runs, one at a time: stalled SSE readers, stalled NDJSON readers, a
worst-case run page, slow-header and slow-body clients, unsigned large bodies.

Printed per case: webhook p50/p99/max, timeouts (GitHub gives up after 10 s), the
bot's RSS growth (from /proc), and whether the targets hold. A measurement, not a
test: it exits 0 whatever the figures, 1 only if the bot could not be started.

With `--role-split` the bot runs as two processes on one SQLite file (`serve --role
intake` and `serve --role read`): webhooks are measured on the intake while the stream
and page attacks go to the read process, the structural answer to "a reader must
never slow the intake". Attacks on `/webhook` itself still reach the intake.

Run from the repository root:
  .venv/bin/python bench/intake_under_attack.py [--quick] [--role-split]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import select
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import aiohttp
from webhook_throughput import (  # bench/ is on sys.path: its helpers, not copies
    DEFAULT_BOT_CMD,
    OPENED,
    REPO,
    LoadJob,
    ServerSpec,
    _deliveries,
    base_env,
    free_port,
    load_line,
    machine_info,
    percentile,
    stop,
    wait_ready,
)

from bot.trail.money import CATEGORIES

SECRET = "bench-attack-secret"
ADMIN = "bench-admin-token"
GITHUB_TIMEOUT = 10.0  # GitHub gives up on a delivery after this long
BATCH = 500  # events per reporter call (the API's maximum)
RAMP = 3.0  # seconds an attack runs before the timed window, so it is at full strength
TARGET_RATIO = 3.0
TARGET_P99_MS = 250.0
TARGET_RSS_MB = 200.0


@dataclass
class Context:
    """What the attacks need: where the bot is and which runs to aim at."""

    port: int
    read_port: int = 0  # --role-split: the read process's port (else the same process)
    read_pid: int = 0
    big_run: str = ""
    wide_run: str = ""
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    addresses: Iterator[str] = field(default_factory=lambda: _addresses())
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The intake: webhooks, reporter writes, and the attacks aimed at `/webhook`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def read_url(self) -> str:
        """Where the read-side attacks go: the read process with --role-split."""
        return f"http://127.0.0.1:{self.read_port or self.port}"

    def tally(self, what: str) -> None:
        self.notes[what] = self.notes.get(what, 0) + 1


@dataclass
class Case:
    name: str
    p50: float = 0.0
    p99: float = 0.0
    worst: float = 0.0
    sent: int = 0
    timeouts: int = 0
    errors: int = 0
    rss_mb: float = 0.0
    notes: dict[str, int] = field(default_factory=dict)


def _addresses() -> Iterator[str]:
    """Distinct loopback source addresses (127.0.x.y), one per attacking client.

    Each attacker looks like a different host, as a crowd would: per-address caps
    alone cannot turn them away, so the global bounds are what is measured.
    """
    for n in count():
        yield f"127.{1 + n // 62500 % 250}.{1 + n // 250 % 250}.{1 + n % 250}"


# --- the steady webhook probe (its own process) -----------------------------------


def probe(url: str, rate: float, seconds: float, pr_base: int) -> tuple[list[float], int, int]:
    """Send signed deliveries at `rate`/s for `seconds`: latencies (s), timeouts, errors."""
    total = max(1, int(rate * seconds))
    job = LoadJob((url,), SECRET, total, 0, 1, 1, 50, pr_base)
    return asyncio.run(_probe(url, list(_deliveries(job)), 1.0 / rate))


async def _probe(
    url: str, deliveries: list[tuple[bytes, dict[str, str]]], gap: float
) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    failed = {"timeouts": 0, "errors": 0}
    timeout = aiohttp.ClientTimeout(total=GITHUB_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(body: bytes, headers: dict[str, str]) -> None:
            started = time.perf_counter()
            try:
                async with session.post(url + "/webhook", data=body, headers=headers) as r:
                    await r.read()
                    if r.status >= 300:
                        failed["errors"] += 1
                        return
            except TimeoutError:
                failed["timeouts"] += 1
                return
            except aiohttp.ClientError:
                failed["errors"] += 1
                return
            latencies.append(time.perf_counter() - started)

        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for i, (body, headers) in enumerate(deliveries):
            await asyncio.sleep(max(0.0, start + i * gap - loop.time()))
            tasks.append(asyncio.create_task(one(body, headers)))
        await asyncio.gather(*tasks)
    return sorted(latencies), failed["timeouts"], failed["errors"]


# --- raw sockets --------------------------------------------------------------------


async def connect(
    ctx: Context, rcvbuf: int | None = None, port: int | None = None
) -> socket.socket:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    sock.bind((next(ctx.addresses), 0))
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port or ctx.port))
    return sock


def hung_up(sock: socket.socket) -> bool:
    """The server closed or reset the connection (without reading what it sent)."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(0))


async def idle_until_hangup(ctx: Context, sock: socket.socket) -> None:
    while not ctx.stop.is_set() and not hung_up(sock):
        await asyncio.sleep(0.5)


# --- the attacks --------------------------------------------------------------------


async def stalled_reader(ctx: Context, fmt: str) -> None:
    """Open a stream of the big run, read its status line, never read again; reopen if
    dropped (an attacker would)."""
    loop = asyncio.get_running_loop()
    accept = "text/event-stream" if fmt == "sse" else "application/x-ndjson"
    request = (
        f"GET /api/runs/{ctx.big_run}/events?format={fmt} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAccept: {accept}\r\n\r\n"
    ).encode()
    while not ctx.stop.is_set():
        sock = await connect(ctx, rcvbuf=4096, port=ctx.read_port or ctx.port)
        try:
            await loop.sock_sendall(sock, request)
            head = await asyncio.wait_for(loop.sock_recv(sock, 16), 30)
            status = head.split(b" ")[1].decode() if head.count(b" ") else "closed"
            ctx.tally(f"{fmt} {status}")
            if status == "200":
                await idle_until_hangup(ctx, sock)
                ctx.tally(f"{fmt} dropped by the bot" if not ctx.stop.is_set() else "")
            else:
                await asyncio.sleep(1.0)
        except (OSError, TimeoutError, IndexError):
            ctx.tally(f"{fmt} connection failed")
            await asyncio.sleep(1.0)
        finally:
            sock.close()


async def page_reader(ctx: Context) -> None:
    """Fetch the worst-case run page again and again."""
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not ctx.stop.is_set():
            try:
                async with session.get(f"{ctx.read_url}/runs/{ctx.wide_run}") as response:
                    size = len(await response.read())
                ctx.tally(f"page {response.status} ({size // 1024} KiB)")
            except (aiohttp.ClientError, TimeoutError):
                ctx.tally("page failed")


async def slow_sender(ctx: Context, head: bytes, drip: Callable[[int], bytes]) -> None:
    """Send `head`, then one `drip(n)` every 5 s; reconnect when the bot drops us."""
    loop = asyncio.get_running_loop()
    while not ctx.stop.is_set():
        sock = await connect(ctx)
        try:
            await loop.sock_sendall(sock, head)
            for n in count():
                for _ in range(10):
                    await asyncio.sleep(0.5)
                    if ctx.stop.is_set() or hung_up(sock):
                        break
                if ctx.stop.is_set() or hung_up(sock):
                    break
                await loop.sock_sendall(sock, drip(n))
            ctx.tally("dropped by the bot" if not ctx.stop.is_set() else "")
        except OSError:
            ctx.tally("dropped by the bot")
        finally:
            sock.close()


def slow_header(ctx: Context) -> Awaitable[None]:
    head = b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    return slow_sender(ctx, head, lambda n: f"X-Slow-{n}: y\r\n".encode())


def slow_body(ctx: Context) -> Awaitable[None]:
    head = (
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-GitHub-Event: ping\r\nX-GitHub-Delivery: 00000000-0000-4000-8000-000000000000\r\n"
        b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\nContent-Length: 1000000\r\n\r\n"
    )
    return slow_sender(ctx, head, lambda n: b" ")


async def big_body(ctx: Context, body: bytes) -> None:
    """Send an unsigned body of `len(body)` bytes as fast as the bot takes it, repeatedly."""
    loop = asyncio.get_running_loop()
    head = (
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-GitHub-Event: push\r\nX-GitHub-Delivery: 00000000-0000-4000-8000-000000000001\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    while not ctx.stop.is_set():
        sock = await connect(ctx)
        try:
            await loop.sock_sendall(sock, head)
            await loop.sock_sendall(sock, body)
            answer = await asyncio.wait_for(loop.sock_recv(sock, 64), 30)
            ctx.tally(f"body answered {answer[9:12].decode() or 'nothing'}")
        except (OSError, TimeoutError):
            ctx.tally("body connection closed by the bot")
            await asyncio.sleep(0.2)
        finally:
            sock.close()


def attacks(
    args: argparse.Namespace,
) -> list[tuple[str, Callable[[Context], list[Awaitable[None]]]]]:
    body = b"[" + b" " * (args.body_mb * 1024 * 1024 - 2) + b"]"
    n, slow = args.stalled, args.slow
    return [
        ("idle", lambda ctx: []),
        (f"{n} stalled SSE", lambda ctx: [stalled_reader(ctx, "sse") for _ in range(n)]),
        (f"{n} stalled NDJSON", lambda ctx: [stalled_reader(ctx, "ndjson") for _ in range(n)]),
        ("worst-case page", lambda ctx: [page_reader(ctx) for _ in range(args.page_clients)]),
        (f"{slow} slow headers", lambda ctx: [slow_header(ctx) for _ in range(slow)]),
        (f"{slow} slow bodies", lambda ctx: [slow_body(ctx) for _ in range(slow)]),
        (
            f"{args.bodies}x{args.body_mb} MB unsigned",
            lambda ctx: [big_body(ctx, body) for _ in range(args.bodies)],
        ),
    ]


# --- the bot and its runs --------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def fill_runs(ctx: Context, events: int, currencies: int) -> None:
    """A public PR (by webhook), then two reporter runs on it: `events` notes, and one
    spend in each of `currencies` currencies (the widest page the bot allows)."""
    opened = json.loads(OPENED.read_text())
    job = LoadJob((ctx.url,), SECRET, 1, 0, 1, 1, 1, 1)
    body, headers = next(_deliveries(job))
    payload = json.loads(body)
    repo, pr = payload["repository"]["full_name"], payload["number"]
    assert not opened["repository"]["private"]
    auth = {"Authorization": f"Bearer {ADMIN}"}
    async with aiohttp.ClientSession(headers=auth) as session:
        async with session.post(ctx.url + "/webhook", data=body, headers=headers) as r:
            assert r.status == 200, await r.text()
        head = payload["pull_request"]["head"]["sha"]
        spec = {"kind": "agent", "repo": repo, "pr": pr, "head_sha": head}
        ctx.big_run = await _new_run(session, ctx.url, {**spec, "name": "long agent loop"})
        for start in range(0, events, BATCH):
            notes = [{"type": "note", "text": f"step {i}"} for i in range(start, start + BATCH)]
            await _append(session, ctx.url, ctx.big_run, notes[: events - start])
        ctx.wide_run = await _new_run(session, ctx.url, {**spec, "name": "many currencies"})
        # One request a currency, in every category, until the bot refuses one (its
        # per-run currency limit); then a full timeline of notes.
        for i in range(currencies):
            spends = [
                {"type": "spend", "amount": "0.01", "currency": _currency(i), "category": c}
                for c in CATEGORIES
            ]
            if not await _append(session, ctx.url, ctx.wide_run, spends, strict=False):
                break  # past what the bot allows: the widest run it will hold
        notes = [{"type": "note", "text": f"wide step {i}"} for i in range(BATCH)]
        for _ in range(max(1, 1000 // BATCH)):
            await _append(session, ctx.url, ctx.wide_run, notes)


def _currency(i: int) -> str:
    letters = ""
    for _ in range(4):
        i, digit = divmod(i, 26)
        letters += chr(65 + digit)
    return "X" + letters


async def _new_run(session: aiohttp.ClientSession, url: str, spec: dict[str, object]) -> str:
    async with session.post(url + "/api/runs", json=spec) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["id"])


async def _append(
    session: aiohttp.ClientSession, url: str, run: str, events: list[dict[str, str]], strict=True
) -> bool:
    async with session.post(f"{url}/api/runs/{run}/events", json={"events": events}) as r:
        if r.status == 201:
            return True
        text = await r.text()
    if strict:
        raise RuntimeError(f"appending to {run} answered {r.status}: {text[:300]}")
    print(f"  (the wide run stops here: {r.status} {text[:120]})")
    return False


# --- one case -----------------------------------------------------------------------


async def run_case(
    ctx: Context,
    name: str,
    make: Callable[[Context], list[Awaitable[None]]],
    pid: int,
    args: argparse.Namespace,
    index: int,
    pool: ProcessPoolExecutor,
) -> Case:
    ctx.stop.clear()
    ctx.notes = {}
    before = rss_mb(pid)
    peak = before
    read_before = read_peak = rss_mb(ctx.read_pid) if ctx.read_pid else 0.0
    tasks = [asyncio.create_task(coro) for coro in make(ctx)]  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    if tasks:
        await asyncio.sleep(RAMP)
    measured = loop.run_in_executor(
        pool, probe, ctx.url, args.rate, args.phase, 100_000 + index * 1000
    )
    while not measured.done():
        peak = max(peak, rss_mb(pid))
        if ctx.read_pid:
            read_peak = max(read_peak, rss_mb(ctx.read_pid))
        await asyncio.wait({measured}, timeout=0.25)
    latencies, timeouts, errors = measured.result()
    ctx.stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await wait_healthy(ctx)
    if ctx.read_pid:
        await wait_healthy(ctx, url=ctx.read_url)
        ctx.notes[f"read process RSS +{read_peak - read_before:.0f} MB"] = 0  # a label
    ms = [s * 1000 for s in latencies]
    return Case(
        name,
        percentile(ms, 50),
        percentile(ms, 99),
        ms[-1] if ms else 0.0,
        len(ms) + timeouts + errors,
        timeouts,
        errors,
        peak - before,
        {k: v for k, v in sorted(ctx.notes.items()) if k},
    )


async def wait_healthy(ctx: Context, limit: float = 120.0, url: str = "") -> None:
    """Until the bot answers /healthz again (an attack may leave it busy for a while)."""
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get((url or ctx.url) + "/healthz") as r:
                    if r.status == 200:
                        await asyncio.sleep(1.0)  # let closing connections finish
                        return
            await asyncio.sleep(0.5)


# --- report -------------------------------------------------------------------------


def verdicts(case: Case, idle: Case) -> list[str]:
    bound = min(TARGET_RATIO * idle.p99, TARGET_P99_MS)
    checks = [
        (f"p99<={bound:.0f}ms", case.p99 <= bound),
        ("no timeouts", case.timeouts == 0),
        (f"RSS<={TARGET_RSS_MB:.0f}MB", case.rss_mb <= TARGET_RSS_MB),
    ]
    return [f"{'pass' if ok else 'FAIL'} {label}" for label, ok in checks]


def report(cases: Sequence[Case], layout: str) -> None:
    idle = cases[0]
    print()
    print(f"layout: {layout}")
    print(
        f"targets: webhook p99 <= {TARGET_RATIO:g}x idle p99 ({TARGET_RATIO * idle.p99:.1f} ms)"
        f" and <= {TARGET_P99_MS:.0f} ms; no timeouts; RSS growth <= {TARGET_RSS_MB:.0f} MB"
    )
    header = f"{'case':<24} {'sent':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(header + f" {'timeouts':>8} {'errors':>6} {'RSS +MB':>8}  verdict")
    for case in cases:
        print(
            f"{case.name:<24} {case.sent:>5} {case.p50:>8.1f} {case.p99:>8.1f} "
            f"{case.worst:>8.1f} {case.timeouts:>8} {case.errors:>6} {case.rss_mb:>8.1f}  "
            + ("baseline" if case is idle else ", ".join(verdicts(case, idle)))
        )
    print()
    for case in cases[1:]:
        seen = "; ".join(k if v == 0 else f"{k}: {v}" for k, v in case.notes.items()) or "-"
        print(f"  {case.name}: {seen}")


# --- main -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="10,000 events, 6 s cases, 300 currencies")
    add("--events", type=int, default=50_000, help="note events in the big public run")
    add("--currencies", type=int, default=1000, help="currencies in the wide run (page)")
    add("--phase", type=float, default=15.0, help="seconds of webhooks measured per case")
    add("--rate", type=float, default=20.0, help="signed webhooks a second during each case")
    add("--stalled", type=int, default=200, help="stalled SSE (and NDJSON) readers")
    add("--slow", type=int, default=100, help="slow-header (and slow-body) clients")
    add("--bodies", type=int, default=40, help="concurrent unsigned large bodies")
    add("--body-mb", type=int, default=26, help="size of each unsigned body")
    add("--page-clients", type=int, default=2, help="clients fetching the wide page")
    add("--bot-cmd", default=DEFAULT_BOT_CMD, help="how to start the bot (from the repo root)")
    add("--keep-db", action="store_true", help="keep the temp dir (database and bot log)")
    add(
        "--role-split",
        action="store_true",
        help="two processes on one SQLite file: webhooks measured on `serve --role intake`, "
        "stream and page attacks sent to `serve --role read` (attacks on /webhook itself "
        "still go to the intake, which alone serves it)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.phase, args.currencies = 10_000, 6.0, 300
    return args


async def measure(
    args: argparse.Namespace,
    proc: subprocess.Popen[bytes],
    port: int,
    reader: tuple[subprocess.Popen[bytes], int] | None = None,
) -> None:
    ctx = Context(port)
    if reader is not None:
        ctx.read_pid, ctx.read_port = reader[0].pid, reader[1]
    started = time.monotonic()
    await fill_runs(ctx, args.events, args.currencies)
    print(
        f"runs filled in {time.monotonic() - started:.1f} s: {args.events} events in "
        f"{ctx.big_run}, {args.currencies} currencies asked for in {ctx.wide_run}; "
        f"bot RSS {rss_mb(proc.pid):.0f} MB"
    )
    waited = await log_caught_up(ctx, args.events)
    print(f"the signed log caught up with the filled runs in {waited:.1f} s")
    cases = []
    with ProcessPoolExecutor(1) as pool:
        # warm-up, not reported: the pool's process, connections, the bot's first writes
        await asyncio.get_running_loop().run_in_executor(pool, probe, ctx.url, args.rate, 2.0, 1)
        for index, (name, make) in enumerate(attacks(args)):
            case = await run_case(ctx, name, make, proc.pid, args, index, pool)
            print(
                f"  {name}: p99 {case.p99:.1f} ms, timeouts {case.timeouts}, "
                f"RSS +{case.rss_mb:.0f} MB",
                flush=True,
            )
            cases.append(case)
            if proc.poll() is not None:
                print(f"the bot exited ({proc.returncode}) during {name!r}")
                break
    layout = "one process (--role all)"
    if reader is not None:
        layout = (
            "--role-split: webhooks on an intake process; SSE, NDJSON and page attacks on a "
            "read process (slow headers, slow bodies and unsigned bodies target /webhook, "
            "which only the intake serves); RSS +MB is the intake's"
        )
    report(cases, layout)


async def log_caught_up(ctx: Context, least: int, timeout: float = 180.0) -> float:
    """Seconds until the transparency log's checkpoint holds at least `least` leaves and
    has not grown for 5 s: integrating the tens of thousands of events just filled is a
    one-off backlog, not the idle state the cases are compared with."""
    started = time.monotonic()
    sizes: list[int] = []
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout:
            async with session.get(ctx.read_url + "/api/log/checkpoint") as reply:
                note = await reply.text() if reply.status == 200 else ""
            lines = note.splitlines()
            sizes.append(int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else 0)
            if sizes[-1] >= least and len(sizes) > 5 and len(set(sizes[-6:])) == 1:
                break
            await asyncio.sleep(1.0)
    return time.monotonic() - started


def start_bot(
    args: argparse.Namespace, env: dict[str, str], port: int, log_path: Path
) -> subprocess.Popen[bytes]:
    spec = ServerSpec(shlex.split(args.bot_cmd), {**env, "PORT": str(port)}, port)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(spec.argv, cwd=REPO, env=spec.env, stdout=log, stderr=log)
    try:
        wait_ready(proc, spec, log_path)
    except RuntimeError:
        stop(proc)
        raise
    return proc


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print("\n".join(machine_info()))
    tmp = Path(tempfile.mkdtemp(prefix="attack-bench-"))
    port = free_port()
    env = {
        **base_env(),
        "HOST": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "AUDIT_ADMIN_TOKEN": ADMIN,
        "AUDIT_COMMENT_DEBOUNCE_SECONDS": "2",
    }
    logs = [tmp / "bot.log"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if args.role_split:  # the intake first: it creates and migrates the database
            procs.append(start_bot(args, {**env, "AUDIT_ROLE": "intake"}, port, logs[0]))
            logs.append(tmp / "bot-read.log")
            read_port = free_port()
            procs.append(start_bot(args, {**env, "AUDIT_ROLE": "read"}, read_port, logs[1]))
            asyncio.run(measure(args, procs[0], port, (procs[1], read_port)))
        else:
            procs.append(start_bot(args, env, port, logs[0]))
            asyncio.run(measure(args, procs[0], port))
    except RuntimeError as exc:
        print(f"could not measure: {exc}")
        return 1
    finally:
        for proc in procs:
            stop(proc)
        for log_path in logs:
            errors = log_path.read_text(errors="replace").count("Traceback")
            kept = f" ({log_path})" if args.keep_db else ""
            print(f"{log_path.stem} log: {errors} tracebacks{kept}")
        print(load_line("at end"))
        if not args.keep_db:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
