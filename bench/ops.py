"""``python -m bench.ops``: what metrics and the audit trail cost issuance and introspection.

Starts ``tessera serve --workers 2`` on one database seeded through the ``tessera`` command (SQLite in a temporary
directory, or ``--pg-url``), in two ways, alternately: **off** (``TESSERA_AUDIT=off``, no ``--metrics-port``) and
**on** (``TESSERA_AUDIT=on`` and ``--metrics-port``: every request counted, every issuance an audit event written
to the log and the table). Each round starts each server afresh and measures, with wrk, S1 (``client_credentials``
at the token endpoint) and S2 (introspection of a valid token): a warm-up window, then the measured one. The order
of the two modes flips every round, so a slow drift of a shared machine weighs on both. Prints each round's req/s
and the ratio of the medians (on / off) per scenario, then checks the "on" server counted what wrk sent: the
metrics' sums and the audit rows.

Everything it starts is stopped by PID, and the temporary directory removed, when it ends, on an error, on
Ctrl-C and on SIGTERM. All traffic is on 127.0.0.1.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from bench import procs
from bench.load import Load, Scenario, basic, http_call, run_wrk
from bench.seed import Seeded, drop_database, fresh_database, seed
from bench.targets import free_port, wait_healthy, which_wrk

__all__ = ["main"]

MODES = ("off", "on")


def _scenarios(base: str, seeded: Seeded) -> list[Scenario]:
    auth = basic(seeded.cc_id, seeded.cc_secret)
    status, text = http_call(base + "/oauth/token", method="POST", body="grant_type=client_credentials", auth=auth)
    if status != 200:
        raise RuntimeError(f"no token: HTTP {status} {text[:200]}")
    token = json.loads(text)["access_token"]
    return [
        Scenario(
            "S1",
            "issuance (client_credentials)",
            base + "/oauth/token",
            '"access_token"',
            method="POST",
            body="grant_type=client_credentials",
            auth=auth,
        ),
        Scenario(
            "S2",
            "introspection",
            base + "/oauth/introspect",
            '"active":%s*true',
            method="POST",
            body=f"token={token}",
            auth=auth,
        ),
    ]


def _metric(url: str, name: str) -> float:
    status, text = http_call(url)
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def run(args: argparse.Namespace, tmp: Path, started: procs.Started) -> list[str]:
    bin_dir = Path(sys.executable).parent
    port, metrics_port = free_port(), free_port()
    url = args.pg_url or f"sqlite:///{tmp / 'tessera.db'}"
    fresh_database(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "PROMETHEUS_"))}
    env.update(
        TESSERA_DATABASE_URL=url,
        TESSERA_ISSUER=f"http://127.0.0.1:{port}",
        TESSERA_SECRET_KEY="bench-only-secret-key-0123456789abcdef",
        # INFO, as in production: both modes write an access line per request; "on" writes the audit lines too
        TESSERA_LOG_LEVEL="WARNING" if args.quiet_logs else "INFO",
    )
    seeded = seed(bin_dir, env, url)
    load = Load(duration_s=args.duration, warmup_s=args.warmup, connections=args.connections, threads=2)
    rps: dict[tuple[str, str], list[float]] = {}
    last_on: dict[str, Any] = {}
    for round_no in range(args.rounds):
        order = MODES if round_no % 2 == 0 else MODES[::-1]
        for mode in order:
            argv = [str(bin_dir / "tessera"), "serve", "--port", str(port), "--workers", str(args.workers)]
            mode_env = dict(env, TESSERA_AUDIT=args.audit if mode == "on" else "off")
            if mode == "on":
                argv += ["--metrics-port", str(metrics_port)]
            log = tmp / f"server-{round_no}-{mode}.log"
            pid = started.start(argv, env=mode_env, log=log, cwd=tmp)
            base = f"http://127.0.0.1:{port}"
            try:
                wait_healthy(started, pid, base, log)
                for scenario in _scenarios(base, seeded):
                    print(f"  round {round_no + 1}, {mode}: {scenario.label}", file=sys.stderr, flush=True)
                    run_wrk(scenario, load, load.warmup_s, None, tmp / "warmup.txt")
                    result = run_wrk(scenario, load, load.duration_s, None, tmp / f"{scenario.name}.txt")
                    if result is None or result.get("non2xx") or result.get("bad_body"):
                        raise RuntimeError(f"{scenario.name} {mode}: wrk failed or saw errors: {result}")
                    rps.setdefault((scenario.name, mode), []).append(float(result["rps"]))
                    if mode == "on":
                        last_on[scenario.name] = result
                if mode == "on":
                    time.sleep(0.5)  # the workers flush their counts every 0.2 s
                    last_on["issued"] = _metric(
                        f"http://127.0.0.1:{metrics_port}/metrics", "tessera_tokens_issued_total"
                    )
                    last_on["introspected"] = _metric(
                        f"http://127.0.0.1:{metrics_port}/metrics", "tessera_introspections_total"
                    )
            finally:
                started.stop(pid)
    rows = [
        "| scenario | off: req/s per round | on: req/s per round | on / off (medians) |",
        "|---|---|---|---|",
    ]
    for name, label in (("S1", "issuance (client_credentials)"), ("S2", "introspection")):
        off, on = rps[(name, "off")], rps[(name, "on")]
        ratio = statistics.median(on) / statistics.median(off)
        rows.append(
            f"| {name} {label} | {' / '.join(f'{v:.0f}' for v in off)} | {' / '.join(f'{v:.0f}' for v in on)} "
            f"| {ratio:.3f} |"
        )
    from tessera.store import Store, make_engine

    store = Store(make_engine(url))
    audited = len(store.audit.list(limit=10_000_000))
    store.close()
    rows.append("")
    rows.append(
        f"Last 'on' server: the metrics counted {last_on.get('issued', 0):.0f} issuances and "
        f"{last_on.get('introspected', 0):.0f} introspections; the table holds {audited} audit rows from all "
        f"'on' rounds (every issuance of those rounds, warm-ups included)."
    )
    if args.pg_url:
        drop_database(url)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="measured seconds per window")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-url", help="PostgreSQL database to use (dropped and made afresh), e.g. .../tessera_bench")
    parser.add_argument("--audit", choices=("on", "log", "off"), default="on", help="TESSERA_AUDIT when 'on'")
    parser.add_argument("--quiet-logs", action="store_true", help="TESSERA_LOG_LEVEL=WARNING: write no log lines")
    args = parser.parse_args(argv)
    which_wrk()
    started = procs.Started()
    tmp = Path(tempfile.mkdtemp(prefix="tessera-bench-ops-"))

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        rows = run(args, tmp, started)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        started.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
