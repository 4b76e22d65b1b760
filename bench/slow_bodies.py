"""``python -m bench.slow_bodies``: do slow request bodies delay anyone else?

Starts ``tessera serve --workers 2`` on a fresh SQLite database in a temporary directory (seeded through the
``tessera`` command, as ``bench.seed`` does), then measures ``GET /healthz`` and introspection of a valid token
with a modest steady load (``wrk -t1 -c8``, 10 s each) twice: with no slow clients, then while 200 connections
are held open that each declare a 60 KB form body (to the token endpoint, introspection and the sign-in form in
turn) and send one byte a second. Each slow connection the server answers (408 after ``TESSERA_BODY_TIMEOUT``,
10 s by default) is replaced by a new one at once, so that 200 are open throughout. Prints a small table.

Everything it starts is stopped by PID, and the temporary directory removed, when it ends, on an error, on
Ctrl-C and on SIGTERM. All traffic is on 127.0.0.1.
"""

import argparse
import dataclasses
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from bench import procs
from bench.load import Load, Scenario, basic, http_call, run_wrk
from bench.seed import seed
from bench.targets import free_port, wait_healthy, which_wrk

__all__ = ["SlowBodies", "main"]

PATHS = ("/oauth/token", "/oauth/introspect", "/login")


@dataclasses.dataclass
class _Conn:
    sock: socket.socket
    opened: float
    received: bytearray = dataclasses.field(default_factory=bytearray)
    sent: int = 0
    send_failed: bool = False


class SlowBodies:
    """``count`` connections that each declare a body of ``declared`` bytes and send one byte every ``tick``
    seconds, driven by one thread; each connection the server answers or closes is replaced by a new one."""

    def __init__(self, port: int, count: int, *, tick: float = 1.0, declared: int = 60_000) -> None:
        self.port = port
        self.count = count
        self.tick = tick
        self.declared = declared
        #: how the server ended each connection: "408", another status, or "closed" (no answer)
        self.answers: Counter[str] = Counter()
        #: seconds from opening a connection to the end of its answer
        self.waits: list[float] = []
        self.connect_errors = 0
        self._opened = 0
        self._open: dict[socket.socket, _Conn] = {}
        self._low = count
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, name="slow-bodies", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        while len(self._open) < self.count:
            self._connect()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for conn in list(self._open.values()):
            self._close(conn)
        self._selector.close()

    def low_water(self) -> int:
        """The fewest connections open at any tick since the last call (the measured window's)."""
        with self._lock:
            low, self._low = self._low, len(self._open)
        return low

    def _connect(self) -> None:
        path = PATHS[self._opened % len(PATHS)]
        self._opened += 1
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {self.declared}\r\n\r\n"
        )
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(head.encode())
        except OSError:
            self.connect_errors += 1
            return
        sock.setblocking(False)
        conn = _Conn(sock, time.monotonic())
        self._open[sock] = conn
        self._selector.register(sock, selectors.EVENT_READ, conn)

    def _close(self, conn: _Conn) -> None:
        self._open.pop(conn.sock, None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def _finish(self, conn: _Conn) -> None:
        status = bytes(conn.received[9:12]).decode("ascii", "replace") if conn.received.startswith(b"HTTP/") else ""
        self.answers[status or "closed"] += 1
        self.waits.append(time.monotonic() - conn.opened)
        self._close(conn)

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_tick:
                for conn in list(self._open.values()):
                    if conn.sent < self.declared and not conn.send_failed:
                        try:
                            conn.sock.send(b"x")
                            conn.sent += 1
                        except OSError:  # closed by the server: its answer is read below
                            conn.send_failed = True
                next_tick += self.tick
            for key, _ in self._selector.select(timeout=max(0.0, min(next_tick - time.monotonic(), 0.2))):
                conn = key.data
                try:
                    data = conn.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:  # a reset: the server closed with bytes of ours unread
                    data = b""
                if data:
                    conn.received += data
                else:
                    self._finish(conn)
            while len(self._open) < self.count and not self._stop.is_set():
                before = self.connect_errors
                self._connect()
                if self.connect_errors > before:
                    break  # try again at the next round
            with self._lock:
                self._low = min(self._low, len(self._open))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _cpu_here_and_reaped() -> float:
    """CPU of this process (the slow clients' thread included) and of its reaped children (wrk)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _measure(scenario: Scenario, load: Load, out: Path, server_pid: int) -> dict[str, Any]:
    run_wrk(scenario, load, load.warmup_s, None, out / f"{scenario.name}.warmup.txt")
    host0, server0, ours0, t0 = (
        procs.host_busy(),
        procs.cpu_seconds(server_pid),
        _cpu_here_and_reaped(),
        time.monotonic(),
    )
    result = run_wrk(scenario, load, load.duration_s, None, out / f"{scenario.name}.wrk.txt")
    wall = time.monotonic() - t0
    host, server, ours = (
        procs.host_busy() - host0,
        procs.cpu_seconds(server_pid) - server0,
        _cpu_here_and_reaped() - ours0,
    )
    if result is None:
        raise RuntimeError(f"wrk printed no result: {(out / f'{scenario.name}.wrk.txt').read_text()[-500:]}")
    result["errors"] = sum(
        result[k] for k in ("non2xx", "bad_body", "sock_connect", "sock_read", "sock_write", "sock_timeout")
    )
    result["server_cores"] = server / wall
    # anything but the server, wrk and this harness: other work on a shared machine
    result["other_cores"] = max(0.0, (host - server - ours) / wall)
    return result


def _row(phase: str, name: str, r: dict[str, Any]) -> str:
    cpu = f"{r['server_cores']:.2f} | {r['other_cores']:.2f}"
    if not r["requests"]:  # wrk counts no error for a request still waiting when the window closes
        return f"| {phase} | {name} | 0 | - | - | - | nothing answered | {cpu} |"
    latency = f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f}"
    return f"| {phase} | {name} | {r['rps']:.0f} | {latency} | {r['errors']} | {cpu} |"


def run(args: argparse.Namespace, tmp: Path, started: procs.Started) -> list[str]:
    bin_dir = Path(args.bin_dir) if args.bin_dir else Path(sys.executable).parent
    port = free_port()
    url = f"sqlite:///{tmp / 'tessera.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=url,
        TESSERA_ISSUER=f"http://127.0.0.1:{port}",
        TESSERA_SECRET_KEY="bench-only-secret-key-0123456789abcdef",
    )
    seeded = seed(bin_dir, env, url)
    argv = [str(bin_dir / "tessera"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    pid = started.start([*argv, "--workers", str(args.workers)], env=env, log=tmp / "server.log", cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(started, pid, base, tmp / "server.log")

    auth = basic(seeded.cc_id, seeded.cc_secret)
    status, text = http_call(base + "/oauth/token", method="POST", body="grant_type=client_credentials", auth=auth)
    if status != 200:
        raise RuntimeError(f"no token: HTTP {status} {text[:200]}")
    token = json.loads(text)["access_token"]
    scenarios = [
        Scenario("healthz", "GET /healthz", base + "/healthz", '"status":%s*"ok"'),
        Scenario(
            "introspect",
            "introspection",
            base + "/oauth/introspect",
            '"active":%s*true',
            method="POST",
            body=f"token={token}",
            auth=auth,
        ),
    ]
    load = Load(duration_s=args.duration, warmup_s=2, connections=args.connections, threads=1, timeout="10s")
    rows = []
    for scenario in scenarios:
        print(f"  no slow clients: {scenario.label}", file=sys.stderr, flush=True)
        rows.append(_row("none", scenario.label, _measure(scenario, load, tmp, pid)))

    slow = SlowBodies(port, args.slow)
    slow.start()
    try:
        held = []
        for scenario in scenarios:
            print(f"  {args.slow} slow bodies: {scenario.label}", file=sys.stderr, flush=True)
            slow.low_water()
            result = _measure(scenario, load, tmp, pid)
            held.append(slow.low_water())
            rows.append(_row(f"{args.slow} slow bodies", scenario.label, result))
    finally:
        slow.stop()
    answered = ", ".join(f"{n} {status}" for status, n in slow.answers.most_common())
    return [
        f"tessera serve --workers {args.workers} (SQLite); wrk -t1 -c{args.connections}, {args.duration} s per row"
        f" after a 2 s warm-up; CPU in cores of {os.cpu_count()}: the server's, and other work's (anything but the"
        " server, wrk and this harness)",
        "",
        "| slow clients | request | req/s | p50 ms | p99 ms | max ms | errors | server CPU | other CPU |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"slow bodies: at least {min(held)} of {args.slow} open during each measured window; answered: "
        f"{answered or 'none'}; {len(slow.waits)} answers after {_percentile(slow.waits, 0.5):.1f} s (median), "
        f"{max(slow.waits, default=float('nan')):.1f} s (longest); {slow.connect_errors} failed connects",
    ]


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.slow_bodies", description="Do slow request bodies delay anyone else? See bench/README.md."
    )
    parser.add_argument("--slow", type=int, default=200, help="slow-body connections held open (default 200)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured window (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="tessera serve --workers (default 2)")
    parser.add_argument("--bin-dir", help="where the tessera command is (default: beside this Python)")
    args = parser.parse_args(argv)
    which_wrk()
    # SIGINT too: a shell that starts us in the background ignores it, and a harness must still stop on it
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="tessera-slow-bodies-"))
    started = procs.Started()
    try:
        print("\n".join(run(args, tmp, started)))
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        started.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
