"""``python -m bench.lookup --large URL``: the introspection lookup itself, at 10^3 tokens and at the size of
the database ``URL``, alternately in one process.

``bench/run.sh scale`` measures introspection over HTTP under wrk, where on a shared machine one 20 s window's p99
moves by more than the effect of the table's size. This measures only what the size can change: the one indexed
read introspection makes (:meth:`TokenTable.active`, on the driver's cursor, as the server runs it), one call at a
time, in rounds that alternate between a database of 1,000 tokens (made here, dropped at the end) and the large
one, so that whatever else the machine does falls on both alike. The large database's tokens are 1,000 live ones
drawn at random from the whole table, so the lookups touch index pages all over it.
"""

import argparse
import os
import random
import statistics
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", required=True, help="a database filled by bench/run.sh scale --keep-database")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2000, help="lookups per round and database")
    args = parser.parse_args()
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
        admin = make_engine(str(make_url(small_url).set(database="postgres")))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(small_url).database}" WITH (FORCE)'))
        admin.dispose()

    def q(xs: list[float], p: float) -> float:
        return statistics.quantiles(xs, n=1000)[int(p * 10) - 1]

    print(f"lookups: {args.rounds} alternating rounds x {args.calls} per database; load (1 min) "
          f"{min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
    print("| tokens stored | lookups | p50 ms | p90 ms | p99 ms | p50 vs 10^3 | p99 vs 10^3 |")
    print("|---|---|---|---|---|---|---|")
    base50, base99 = q(times["small"], 50), q(times["small"], 99)
    for name, stored in (("small", 1000), ("large", count)):
        xs = times[name]
        print(
            f"| {stored:,} | {len(xs):,} | {q(xs, 50):.3f} | {q(xs, 90):.3f} | {q(xs, 99):.3f} "
            f"| {q(xs, 50) / base50:.2f}× | {q(xs, 99) / base99:.2f}× |"
        )


if __name__ == "__main__":
    main()
