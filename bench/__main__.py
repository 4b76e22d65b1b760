"""``python -m bench`` (through ``bench/run.sh``): see bench/README.md.

bench/run.sh                      Tessera on SQLite and PostgreSQL, S0-S6, SQL counts, then the peers
bench/run.sh --quick              3 s windows, no peers (about two minutes)
bench/run.sh scale                introspection with 10^3 and 10^6 tokens stored in PostgreSQL (--sizes;
                                  --purge-rows N: and during a purge of N rows)
bench/run.sh profile S2           py-spy flame graph of one scenario under load
bench/run.sh compare REF          the hot scenarios on commit REF and on this checkout, alternately, with ratios
bench/run.sh chart RUN_DIR        a run's side-by-side figures as a PNG (--out bench/results.png for the README)
"""

import argparse
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from bench import chart, compare, inproc, peer_runs, profile, report, scale
from bench.load import Load
from bench.procs import Started
from bench.seed import drop_database
from bench.targets import Run, TesseraTarget, postgres_pid, which_wrk

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/tessera_bench"
SCENARIOS = ("S0", "S1", "S2", "S4", "S5", "S6")


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _versions() -> list[str]:
    import importlib.metadata as md

    def v(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "-"

    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.splitlines()
    cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), "?")
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return [
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}",
        f"- machine: {os.cpu_count()} CPUs, {cpu}, Linux {platform.release()}",
        f"- Python {platform.python_version()}; tessera {v('tessera-oauth')}, Flask {v('flask')},"
        f" Werkzeug {v('werkzeug')}, Authlib {v('authlib')}, SQLAlchemy {v('sqlalchemy')}, psycopg {v('psycopg')},"
        f" gunicorn {v('gunicorn')}, granian {v('granian')}, uvloop {v('uvloop')}",
        f"- {wrk[0] if wrk else 'wrk ?'}; {pg}",
    ]


def _new_run(args: argparse.Namespace) -> Run:
    which_wrk()
    load = Load(
        duration_s=args.duration,
        warmup_s=args.warmup,
        connections=args.connections,
        threads=args.threads,
        quiet_max_s=args.quiet_max,
    )
    out = Path(args.out or f"/tmp/tessera-bench/{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    (out / "raw").mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        print(line, file=sys.stderr, flush=True)
        with open(out / "run.log", "a") as f:
            f.write(line + "\n")

    return Run(out=out, load=load, started=Started(), log=log, pool_rate=args.pool_rate)


def cmd_run(args: argparse.Namespace) -> None:
    run = _new_run(args)
    names = [s for s in args.scenarios.split(",") if s]
    header = [
        f"wrk -t{run.load.threads} -c{run.load.connections} --timeout 30s --latency, warm-up {run.load.warmup_s} s"
        f" (discarded), measured {run.load.duration_s} s, 127.0.0.1; tessera serve --workers {args.workers}",
        "",
        *_versions(),
    ]
    try:
        for db in args.db.split(","):
            _target(run, db, args, args.workers).run(run, names)
        if args.peers != "none":
            peers_dir = peer_runs.find_peers_dir(REPO)
            if peers_dir is None:
                run.log("peers skipped: bench/peers not found (set PEERS_DIR)")
            else:
                wanted = list(peer_runs.DEFAULT_PEERS) if args.peers == "default" else args.peers.split(",")
                peer_runs.run_peers(run, peers_dir, wanted)
    finally:
        run.started.stop_all()
        _drop(run, args)
    text = report.render(run.results, run.targets, header)
    (run.out / "summary.md").write_text(text)
    print(text)
    try:
        run.log(f"chart: {chart.from_run(run.out, run.out / 'chart.png')}")
    except ImportError:
        run.log("chart skipped: matplotlib is not installed (pip install -e '.[bench]')")
    run.log(f"done: {run.out / 'summary.md'}")


def _drop(run: Run, args: argparse.Namespace) -> None:
    """The PostgreSQL database a run made goes when it ends (SQLite files stay with the run's results)."""
    if args.keep_database or "pg" not in getattr(args, "db", "pg").split(","):
        return
    try:
        drop_database(args.pg_url)
        run.log(f"dropped {args.pg_url.rsplit('/', 1)[-1]} (--keep-database keeps it)")
    except Exception as exc:  # the server may be gone: say so, the results are written anyway
        run.log(f"could not drop the benchmark database: {type(exc).__name__}: {exc}")


def _target(run: Run, db: str, args: argparse.Namespace, workers: int) -> TesseraTarget:
    if db == "sqlite":
        return TesseraTarget("tessera-sqlite", f"sqlite:///{run.out / 'tessera-sqlite.db'}", workers)
    if db == "pg":
        return TesseraTarget("tessera-pg", args.pg_url, workers, db_pid=postgres_pid(args.pg_port))
    raise SystemExit(f"unknown database {db!r}: sqlite or pg")


def cmd_scale(args: argparse.Namespace) -> None:
    run = _new_run(args)
    try:
        sizes = tuple(int(x) for x in args.sizes.split(","))
        rows = scale.scale(run, _target(run, "pg", args, args.workers), sizes, args.purge_rows)
    finally:
        run.started.stop_all()
        _drop(run, args)
    text = "\n".join(_versions()) + "\n\n" + scale.render(rows)
    (run.out / "scale.md").write_text(text)
    print(text)


def cmd_profile(args: argparse.Namespace) -> None:
    run = _new_run(args)
    try:
        profile.profile(run, _target(run, args.db, args, 1), args.scenario, args.seconds, svg=args.svg)
    finally:
        run.started.stop_all()
        _drop(run, args)


def cmd_compare(args: argparse.Namespace) -> None:
    run = _new_run(args)
    try:
        dbs = [d for d in args.db.split(",") if d]
        names = [s for s in args.scenarios.split(",") if s]
        text = compare.compare(run, REPO, args.ref, dbs, names, args.rounds, args.pg_url)
    finally:
        run.started.stop_all()
        _drop(run, args)
    text = "\n".join(_versions()) + "\n\n" + text
    (run.out / "compare.md").write_text(text)
    print(text)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _interrupted)
    parser = argparse.ArgumentParser(
        prog="bench/run.sh", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "10")), help="measured s")
    parser.add_argument("--warmup", type=int, default=int(os.environ.get("BENCH_WARMUP", "3")), help="warm-up s")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quiet-max", type=float, default=120.0, help="max s to wait for a quiet machine")
    parser.add_argument("--workers", type=int, default=2, help="tessera serve --workers")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--pg-port", type=int, default=5432, help="to find the DB server's CPU in /proc")
    parser.add_argument("--pool-rate", type=int, default=8000, help="refresh tokens seeded per measured second")
    parser.add_argument("--out", help="results folder (default /tmp/tessera-bench/<time>)")
    parser.add_argument("--quick", action="store_true", help="run: 3 s windows, 1 s warm-up, no peers")
    parser.add_argument("--keep-database", action="store_true", help="keep the PostgreSQL database at the end")
    sub = parser.add_subparsers(dest="command")
    p_run = sub.add_parser("run", help="the benchmark (default)")
    p_run.add_argument("--db", default="sqlite,pg")
    p_run.add_argument("--scenarios", default=",".join(SCENARIOS))
    p_run.add_argument("--peers", default="default", help="'default', 'none', or comma-separated peer targets")
    p_profile = sub.add_parser("profile", help="py-spy profile of one scenario on one worker")
    p_profile.add_argument("scenario", choices=["S0", "S1", "S2", "S4", "S5"])
    p_profile.add_argument("--db", default="sqlite", choices=["sqlite", "pg"])
    p_profile.add_argument("--seconds", type=int, default=15)
    p_profile.add_argument("--svg", action="store_true", help="a flame graph instead of collapsed stacks")
    p_scale = sub.add_parser("scale", help="introspection with 10^3 and 10^6 tokens in PostgreSQL")
    p_scale.add_argument("--sizes", default="1000,1000000")
    p_scale.add_argument(
        "--purge-rows", type=int, default=0, help="expired rows in the last fill, then introspection during a purge"
    )
    p_chart = sub.add_parser("chart", help="draw a run's results as a PNG")
    p_chart.add_argument("run_dir", type=Path)
    p_chart.add_argument("--out", type=Path, help="default: RUN_DIR/chart.png")
    p_compare = sub.add_parser("compare", help="an earlier commit against this checkout, alternately")
    p_compare.add_argument("ref", help="the earlier commit (anything git rev-parse accepts)")
    p_compare.add_argument("--db", default="sqlite,pg")
    p_compare.add_argument("--scenarios", default="S1,S2,S5")
    p_compare.add_argument("--rounds", type=int, default=2)
    p_inproc = sub.add_parser("inproc", help="microseconds per request through the WSGI app, no server")
    p_inproc.add_argument("-n", type=int, default=2000, help="requests per round")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    if args.command is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "run"])
    if args.command == "run":
        if args.quick:
            args.duration, args.warmup, args.peers, args.quiet_max = 3, 1, "none", 5.0
        cmd_run(args)
    elif args.command == "scale":
        cmd_scale(args)
    elif args.command == "inproc":
        # the access line is written as under `tessera serve`, to a sink
        logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))
        print(inproc.measure(n=args.n))
    elif args.command == "profile":
        cmd_profile(args)
    elif args.command == "chart":
        print(chart.from_run(args.run_dir, args.out or args.run_dir / "chart.png"))
    elif args.command == "compare":
        if args.quick:
            args.duration, args.warmup, args.quiet_max = 3, 1, 5.0
        cmd_compare(args)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: every process this run started has been stopped", file=sys.stderr)
        sys.exit(130)
