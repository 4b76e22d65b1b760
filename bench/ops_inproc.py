"""``python -m bench.ops_inproc``: CPU microseconds per issuance and per introspection, with metrics and the audit
trail on (as ``tessera serve --metrics-port`` runs them: queued, applied by their threads) and off, in one process.

A wrk run (``python -m bench.ops``) measures throughput, which on a machine shared with other work swings by more
than the 5 % this is about. This counts the process's CPU time instead (every thread: the requests, the metrics'
flusher, the audit writer, the log lines) through the app's WSGI face with no server and no network, the two
settings alternating round after round; each round ends with the queued metrics and audit events applied and
written, so their whole cost is inside the figure. The audit log lines are formatted and written to a file, as a
server's stderr would be. The cost ratio is CPU on / CPU off, best of the rounds; throughput scales as its inverse.
"""

import argparse
import logging
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
        for round_no in range(rounds):
            order = ("off", "on") if round_no % 2 == 0 else ("on", "off")
            for name, case in cases.items():
                for mode in order:
                    built = apps[mode]
                    built.front.start()  # queued, as under tessera serve: the metrics' and audit's threads run
                    t0 = time.process_time()
                    case(mode)
                    built.front.close()  # flushes what is queued: its cost counts
                    spent = (time.process_time() - t0) / n * 1e6
                    best[name][mode] = min(best[name][mode], spent)
        for built in apps.values():
            built.store.close()
        return best


def _run(app: Any, call: Callable[[Any, str, str], bytes], path: str, body: str, n: int) -> None:
    for _ in range(n):
        call(app, path, body)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ops_inproc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="requests per round and case")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pg-url", help="a PostgreSQL database (its tables are created; use one of its own)")
    args = parser.parse_args()
    results = measure(args.n, args.rounds, args.pg_url)
    print("| scenario | off: CPU µs/request | on: CPU µs/request | cost (on / off - 1) |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['off']:.1f} | {r['on']:.1f} | {r['on'] / r['off'] - 1:+.1%} |")


if __name__ == "__main__":
    main()
