"""``python -m bench.ops_inproc``: CPU microseconds per issuance and per introspection, with metrics and the audit
trail on (as ``tessera serve --metrics-port`` runs them: queued, applied by their threads) and off, in one process.

A wrk run (``python -m bench.ops``) measures throughput, which on a machine shared with other work swings by more
than the 5 % this is about. This counts the process's CPU time instead (every thread: the requests, the metrics'
flusher, the audit writer, the log lines) through the app's WSGI face with no server and no network, the two
settings alternating round after round; each round ends with the queued metrics and audit events applied and
written, so their whole cost is inside the figure. The audit log lines are formatted and written to a file, as a
server's stderr would be. The cost ratio is CPU on / CPU off; throughput scales as its inverse. Two figures of it:
the ratio of the best rounds, and the median of each round's own ratio (its "on" window beside its "off" window,
a fraction of a second apart), which a machine whose speed drifts over seconds disturbs less.

Then the parts, each alone, best of many short rounds (steadier on a busy machine than the whole requests): the
metrics per request (the facts queued, then the flush into multiprocess files), and per audit event the emit in
the request, its log line and its row.
"""

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from bench.inproc import _client, _environ
from tessera.app import build, new_metrics
from tessera.config import Settings
from tessera.logs import configure
from tessera.store import Store, make_engine, upgrade

__all__ = ["measure"]


def measure(n: int = 2000, rounds: int = 7, database_url: str | None = None) -> dict[str, dict[str, float]]:
    """Per case: ``off`` and ``on`` (best CPU µs per request) and ``ratio`` (median of the rounds' on / off)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'ops.db'}"
        engine = make_engine(url)
        upgrade(engine)
        store = Store(engine)
        _, cc = _client(store, ("client_credentials",), True)
        engine.dispose()
        # the log lines go to a file, as a server's stderr would; INFO, as in production
        log_file = Path(tmp) / "server.log"
        configure("INFO", "text")
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(log_file.open("a", encoding="utf-8"))

        apps = {}
        for mode in ("off", "on"):
            settings = Settings.from_env(
                {"TESSERA_DATABASE_URL": url, "TESSERA_SECRET_KEY": "x" * 40, "TESSERA_AUDIT": mode}
            )
            metrics = new_metrics(CollectorRegistry()) if mode == "on" else None
            built = build(settings, metrics=metrics)
            apps[mode] = built

        def call(app: Any, path: str, body: str) -> bytes:
            status: list[str] = []

            def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                status.append(line)

            out = b"".join(app(_environ(path, body, cc), start_response))
            if not status[0].startswith("2"):
                raise RuntimeError(f"{path}: {status[0]} {out[:200]!r}")
            return out

        tokens = {
            mode: call(b.flask.wsgi_app, "/oauth/token", "grant_type=client_credentials")
            .split(b'"access_token":')[1]
            .split(b'"')[1]
            .decode()
            for mode, b in apps.items()
        }
        cases: dict[str, Callable[[str], None]] = {
            "S1 issuance": lambda mode: _run(
                apps[mode].flask.wsgi_app, call, "/oauth/token", "grant_type=client_credentials", n
            ),  # fmt: skip
            "S2 introspection": lambda mode: _run(
                apps[mode].flask.wsgi_app, call, "/oauth/introspect", f"token={tokens[mode]}", n
            ),  # fmt: skip
        }
        best: dict[str, dict[str, float]] = {name: {"off": float("inf"), "on": float("inf")} for name in cases}
        ratios: dict[str, list[float]] = {name: [] for name in cases}
        for round_no in range(rounds):
            order = ("off", "on") if round_no % 2 == 0 else ("on", "off")
            for name, case in cases.items():
                spent: dict[str, float] = {}
                for mode in order:
                    built = apps[mode]
                    built.front.start()  # queued, as under tessera serve: the metrics' and audit's threads run
                    t0 = time.process_time()
                    case(mode)
                    built.front.close()  # flushes what is queued: its cost counts
                    spent[mode] = (time.process_time() - t0) / n * 1e6
                    best[name][mode] = min(best[name][mode], spent[mode])
                ratios[name].append(spent["on"] / spent["off"])
        for built in apps.values():
            built.store.close()
        for name in cases:
            best[name]["ratio"] = statistics.median(ratios[name])
        return best


def parts(rounds: int = 25, n: int = 300) -> dict[str, float]:
    """Microseconds of CPU per request or event for each part, best of ``rounds``."""
    import os

    from tessera.server.audit import AuditTrail, Event

    out: dict[str, float] = {}
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        raise SystemExit("run the parts in a process of their own, with PROMETHEUS_MULTIPROC_DIR set (main does)")
    with tempfile.TemporaryDirectory() as tmp:
        metrics = new_metrics()  # multiprocess mode, as in a worker of tessera serve
        queued = best_write = float("inf")
        for _ in range(rounds):
            metrics.start(interval=3600)
            t0 = time.process_time()
            for _ in range(n):
                metrics.request("/oauth/introspect", 200, 0.0003)
                metrics.introspected(True)
            t1 = time.process_time()
            metrics.close()
            queued = min(queued, (t1 - t0) / n * 1e6)
            best_write = min(best_write, (time.process_time() - t1) / n * 1e6)
        out["metrics: facts queued in the request"] = queued
        out["metrics: flushed to the multiprocess files"] = best_write

        engine = make_engine(f"sqlite:///{Path(tmp) / 'parts.db'}")
        upgrade(engine)
        store = Store(engine)
        audit_log = logging.getLogger("tessera.audit")
        for label, trail, level in (
            ("audit: the log line", AuditTrail(None), logging.INFO),
            ("audit: the row (SQLite)", AuditTrail(store.audit), logging.WARNING),
        ):
            audit_log.setLevel(level)
            emit = write = float("inf")
            for _ in range(rounds):
                trail.start()
                t0 = time.process_time()
                for _ in range(n):
                    trail.emit(Event.TOKEN_ISSUED, client_id="0" * 32, detail={"grant_type": "client_credentials",
                                                                              "scope": "api"})  # fmt: skip
                t1 = time.process_time()
                trail.close()
                emit = min(emit, (t1 - t0) / n * 1e6)
                write = min(write, (time.process_time() - t1) / n * 1e6)
            out["audit: emit in the request"] = emit
            out[label] = write
        audit_log.setLevel(logging.NOTSET)
        engine.dispose()
    return out


def _run(app: Any, call: Callable[[Any, str, str], bytes], path: str, body: str, n: int) -> None:
    for _ in range(n):
        call(app, path, body)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ops_inproc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="requests per round and case")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pg-url", help="a PostgreSQL database (its tables are created; use one of its own)")
    parser.add_argument("--parts-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parts_only:
        for name, value in parts().items():
            print(f"| {name} | {value:.1f} |")
        return
    results = measure(args.n, args.rounds, args.pg_url)
    print("| scenario | off: CPU µs/request | on: CPU µs/request | cost, best rounds | cost, median of rounds |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['off']:.1f} | {r['on']:.1f} | {r['on'] / r['off'] - 1:+.1%} | {r['ratio'] - 1:+.1%} |")
    print()
    print("| part | CPU µs |")
    print("|---|---|", flush=True)
    import os
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as multiproc:
        env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=multiproc)
        subprocess.run([sys.executable, "-m", "bench.ops_inproc", "--parts-only"], env=env, check=True)


if __name__ == "__main__":
    main()
