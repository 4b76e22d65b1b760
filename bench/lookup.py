"""``python -m bench.lookup --large URL``: the introspection lookup itself, at 10^3 tokens and at the size of
the database ``URL``, alternately in one process. ``python -m bench.lookup --during-purge URL``: the same lookup
with and without a purge running beside it, alternately.

``bench/run.sh scale`` measures introspection over HTTP under wrk, where on a shared machine one 20 s window's p99
moves by more than the effect of the table's size. This measures only what the size can change: the one indexed
read introspection makes (:meth:`TokenTable.active`, on the driver's cursor, as the server runs it), one call at a
time, in rounds that alternate between a database of 1,000 tokens (made here, dropped at the end) and the large
one, so that whatever else the machine does falls on both alike. The large database's tokens are 1,000 live ones
drawn at random from the whole table, so the lookups touch index pages all over it.

``--during-purge URL`` makes that database afresh with ``--dead`` expired rows (the oldest ids) and ``--live``
live ones, starts ``tessera tokens purge`` on it in a process of its own, and alternates rounds of lookups while
the purge runs and while it is stopped (SIGSTOP between two rounds, SIGCONT after), so the two sets of lookups
share whatever else the machine does. The purge must still be running after the last round (it is said).
"""

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.seed import fresh_database
from tessera.store import NewToken, Store, make_engine, upgrade
from tessera.tokens import random_id


def _small(url: str) -> tuple[Store, list[str]]:
    fresh_database(url)
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    now = int(time.time())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO clients (client_id, name, redirect_uris, grant_types, scope, public, may_introspect, "
                "created_at) VALUES ('bench', 'bench', '[]', '[]', 'api', true, true, 0)"
            )
        )
    digests = [random_id(32) for _ in range(1000)]
    for d in digests:
        store.tokens.insert(NewToken(d, None, "bench", None, "api", random_id(), now, now + 86_400, None))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE tokens"))
    return store, digests


def _large(url: str) -> tuple[Store, list[str], int]:
    store = Store(make_engine(url))
    with store.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM tokens")).scalar_one()
        digests = list(
            conn.execute(
                text(
                    "SELECT access_digest FROM tokens TABLESAMPLE SYSTEM (:percent) WHERE expires_at > :now LIMIT 1000"
                ),
                {"now": int(time.time()), "percent": min(100.0, 100 * 20_000 / max(count, 1))},
            ).scalars()
        )
    return store, digests, count


def _round(store: Store, digests: list[str], calls: int, out: list[float]) -> None:
    for i in range(calls):
        t0 = time.perf_counter_ns()
        found = store.tokens.active(digests[i % len(digests)])
        out.append((time.perf_counter_ns() - t0) / 1e6)
        if found is None:
            raise RuntimeError("a live token was not found")


def _q(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=1000)[int(p * 10) - 1]


def _table(rows: list[tuple[str, list[float]]]) -> None:
    print("| | lookups | p50 ms | p90 ms | p99 ms | p50 ratio | p99 ratio |")
    print("|---|---|---|---|---|---|---|")
    base50, base99 = _q(rows[0][1], 50), _q(rows[0][1], 99)
    for name, xs in rows:
        print(
            f"| {name} | {len(xs):,} | {_q(xs, 50):.3f} | {_q(xs, 90):.3f} | {_q(xs, 99):.3f} "
            f"| {_q(xs, 50) / base50:.2f}× | {_q(xs, 99) / base99:.2f}× |"
        )


def during_purge(url: str, dead: int, live: int, rounds: int, calls: int, purge_args: list[str]) -> None:
    from bench.scale import _fill

    fresh_database(url)
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO clients (client_id, name, redirect_uris, grant_types, scope, public, may_introspect, "
                "created_at) VALUES ('bench', 'bench', '[]', '[]', 'api', true, true, 0)"
            )
        )
    engine.dispose()
    print(f"filled {dead + live:,} rows ({dead:,} expired) in {_fill(url, 'bench', dead + live, dead):.0f} s")
    store, digests, _ = _large(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | {"TESSERA_DATABASE_URL": url}
    purge = subprocess.Popen(
        [str(Path(sys.executable).with_name("tessera")), "tokens", "purge", *purge_args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    times: dict[str, list[float]] = {"without": [], "during": []}
    loads = []
    t0 = time.monotonic()
    try:
        time.sleep(3)  # started, and deleting
        for n in range(rounds):
            for name in ("without", "during") if n % 2 == 0 else ("during", "without"):
                if name == "without":
                    purge.send_signal(signal.SIGSTOP)
                _round(store, digests, calls, times[name])
                if name == "without":
                    purge.send_signal(signal.SIGCONT)
            loads.append(os.getloadavg()[0])
        covered = purge.poll() is None
        out, _ = purge.communicate(timeout=3600)
        seconds = time.monotonic() - t0
    finally:
        if purge.poll() is None:
            purge.send_signal(signal.SIGCONT)
            purge.kill()
        store.close()
    print(f"tessera tokens purge {' '.join(purge_args)}: {rounds} alternating rounds x {calls} lookups; "
          f"load (1 min) {min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
    _table([("without a purge", times["without"]), ("during the purge", times["during"])])
    print(f"purge: {out.strip().splitlines()[-1]} in {seconds:.0f} s (of which stopped during the 'without' rounds); "
          f"still running after the last round: {'yes' if covered else 'NO'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", help="a database filled by bench/run.sh scale --keep-database")
    parser.add_argument("--during-purge", metavar="URL", help="a database to make afresh (dropped at the end)")
    parser.add_argument("--dead", type=int, default=2_000_000)
    parser.add_argument("--live", type=int, default=1_000_000)
    parser.add_argument("--purge-args", default="", help="options for tessera tokens purge, e.g. '--pause 0.05'")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2000, help="lookups per round and database")
    args = parser.parse_args()
    if args.during_purge:
        try:
            during_purge(args.during_purge, args.dead, args.live, args.rounds, args.calls, args.purge_args.split())
        finally:
            _drop(args.during_purge)
        return
    if not args.large:
        parser.error("give --large or --during-purge")
    large_url = make_url(args.large)
    small_url = large_url.set(database=f"{large_url.database}_small").render_as_string(hide_password=False)
    small, small_digests = _small(small_url)
    large, large_digests, count = _large(args.large)
    random.shuffle(large_digests)
    times: dict[str, list[float]] = {"small": [], "large": []}
    loads = []
    try:
        for n in range(args.rounds):
            order = [("small", small, small_digests), ("large", large, large_digests)]
            for name, store, digests in order if n % 2 == 0 else order[::-1]:
                _round(store, digests, args.calls, times[name])
            loads.append(os.getloadavg()[0])
    finally:
        small.close()
        large.close()
        _drop(small_url)

    print(f"lookups: {args.rounds} alternating rounds x {args.calls} per database; load (1 min) "
          f"{min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
    _table([("1,000 tokens stored", times["small"]), (f"{count:,} tokens stored", times["large"])])


def _drop(url: str) -> None:
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    main()
