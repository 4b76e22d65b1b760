"""``bench/run.sh scale``: introspection latency with 10^3 and then 10^6 (or ``--sizes``) tokens stored in
PostgreSQL, and during a purge of millions of rows.

The same 1,000 valid tokens are introspected at every size, wrk cycling through them (so the lookups touch
different index pages, not one hot row). At 10^3 they are the whole table; then the rows up to the next size are
generated inside PostgreSQL (``generate_series``, in transactions of a million rows, each in digest order; a
benchmark, not a test), the table is analysed, and the same server is measured again. p50 and p99 should stay
within 20 %.

With ``--purge-rows N`` the last fill begins with N expired rows (the oldest ids, as in a table that was never
purged), so the largest size counts them. After its measurement, ``tessera tokens purge`` runs while wrk measures
introspection again for the same duration (the purge started a second before); the purge is then let finish and
its rows per second are recorded. Introspection p99 during the purge should be within 2x of the one before it.
"""

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from bench.load import Scenario, basic, run_scenario, run_wrk
from bench.seed import fresh_database, seed
from bench.targets import Run, TesseraTarget, free_port
from tessera.store.models import tokens as _tokens
from tessera.tokens import TokenKind, digest, mint, random_id

__all__ = ["scale"]

KNOWN = 1000


def _known_tokens(url: str, client_id: str, out: Path) -> None:
    now = int(time.time())
    rows, bodies = [], []
    for _ in range(KNOWN):
        token = mint(TokenKind.ACCESS)
        rows.append(
            {
                "access_digest": digest(token),
                "refresh_digest": None,
                "client_id": client_id,
                "user_id": None,
                "scope": "api",
                "grant_id": random_id(),
                "issued_at": now,
                "expires_at": now + 86_400,
                "refresh_expires_at": None,
            }
        )
        bodies.append(f"token={token}")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(_tokens), rows)
    engine.dispose()
    out.write_text("\n".join(bodies) + "\n")


def _fill(url: str, client_id: str, rows: int, dead: int = 0) -> float:
    """Generate ``rows`` more tokens inside PostgreSQL, the first ``dead`` of them expired an hour ago; returns
    the seconds it took."""
    t0 = time.monotonic()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    now = int(time.time())
    with engine.connect() as conn:
        first = conn.execute(text("SELECT coalesce(max(id), 0) FROM tokens")).scalar_one() + 1
        for start in range(first, first + rows, _CHUNK):
            stop = min(start + _CHUNK, first + rows) - 1
            # each chunk in digest order: the unique index on the digest (and the family's, derived from it) fills
            # page by page instead of at random, which made 10^7 rows take over 20 minutes on this machine
            conn.execute(
                text(
                    "INSERT INTO tokens (access_digest, client_id, scope, grant_id, issued_at, expires_at) "
                    "SELECT d, :client, 'api', left(d, 32), :now, CASE WHEN g < :dead_end THEN :expired ELSE :exp END "
                    "FROM (SELECT g, encode(sha256(('filler-' || g)::bytea), 'hex') AS d "
                    "FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) AS g) AS f ORDER BY d"
                ),
                {
                    "client": client_id,
                    "now": now,
                    "exp": now + 86_400,
                    "expired": now - 3600,
                    "dead_end": first + dead,
                    "start": start,
                    "stop": stop,
                },
            )
        conn.execute(text("VACUUM ANALYZE tokens"))
        conn.execute(text("CHECKPOINT"))
        count = conn.execute(text("SELECT count(*) FROM tokens")).scalar_one()
    engine.dispose()
    if count < rows:
        raise RuntimeError(f"expected at least {rows} rows, found {count}")
    return time.monotonic() - t0


_CHUNK = 1_000_000


def scale(
    run: Run, target: TesseraTarget, sizes: tuple[int, ...] = (1_000, 1_000_000), purge_rows: int = 0
) -> list[dict[str, Any]]:
    fresh_database(target.database_url)
    port = free_port()
    seeded = seed(target.bin_dir, target.env(port), target.database_url)
    pool = run.out / "pools" / "scale-introspect.txt"
    pool.parent.mkdir(parents=True, exist_ok=True)
    _known_tokens(target.database_url, seeded.cc_id, pool)
    stored = KNOWN
    pid = target.start(run, port, target.workers)
    rows: list[dict[str, Any]] = []
    try:
        base = f"http://127.0.0.1:{port}"
        first = pool.read_text().split("\n", 1)[0]
        scenario = Scenario(
            "S2", "introspect one of 1,000 valid tokens", base + "/oauth/introspect", '"active":%s*true', "POST",
            auth=basic(seeded.cc_id, seeded.cc_secret), pool=pool, pool_mode="cycle", preflight_body=first,
        )  # fmt: skip
        for size in sizes:
            if size > stored:
                dead = purge_rows if size == sizes[-1] else 0
                run.log(f"  filling tokens up to {size:,} rows ({dead:,} of them expired)")
                run.log(f"  filled in {_fill(target.database_url, seeded.cc_id, size - stored, dead):.0f} s")
                stored = size
            run.log(f"  S2 with {size:,} tokens stored")
            result = run_scenario(
                scenario, run.load, server_pid=pid, db_pid=target.db_pid, raw=run.out / "raw", tag=f"scale-{size}"
            )
            result.update(tokens_stored=size, load_1m=round(os.getloadavg()[0], 1))
            run.record(target.name, f"S2@{size:,}", scenario.label, result)
            rows.append(result)
        if purge_rows:
            rows.append(_during_purge(run, target, scenario, port, stored))
    finally:
        run.started.stop(pid)
    return rows


def _during_purge(run: Run, target: TesseraTarget, scenario: Scenario, port: int, stored: int) -> dict[str, Any]:
    """S2 measured while ``tessera tokens purge`` runs (started a second before), then the purge's own figures."""
    log = run.out / "logs" / "scale-purge.log"
    argv = [str(target.bin_dir / "tessera"), "tokens", "purge"]
    run.log(f"  S2 during {' '.join(argv[1:])}")
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    with open(log, "wb") as out:
        purge = subprocess.Popen(argv, env=target.env(port), stdout=out, stderr=subprocess.STDOUT)
    time.sleep(1)
    result = run_wrk(scenario, run.load, run.load.duration_s, scenario.pool, run.out / "raw" / "scale-purge.wrk.txt")
    covered = purge.poll() is None
    purge.wait()
    seconds = time.monotonic() - t0
    text_out = log.read_text()
    found = re.search(r"^tokens: (\d+)$", text_out, re.M)
    deleted = int(found.group(1)) if found else 0
    row: dict[str, Any] = dict(result or {"status": "wrk_failed"})
    row.update(
        status="ok" if result else "wrk_failed",
        errors=(result or {}).get("non2xx", 0) + (result or {}).get("bad_body", 0),
        tokens_stored=stored,
        during_purge=True,
        purge_covered_window=covered,
        purge_exit=purge.returncode,
        purge_deleted=deleted,
        purge_seconds=round(seconds, 1),
        purge_rows_per_s=round(deleted / seconds) if seconds else 0,
        load_1m=round(max(load_before, os.getloadavg()[0]), 1),
    )
    run.log(f"  purge: {deleted:,} rows in {seconds:.0f} s (window covered: {covered}); {text_out.strip()!r}")
    run.record(target.name, f"S2@{stored:,}+purge", scenario.label + " during a purge", row)
    return row


def render(rows: list[dict[str, Any]]) -> str:
    sized = [r for r in rows if not r.get("during_purge")]
    out = [
        "| tokens stored | load (1 min) | req/s | p50 ms | p99 ms | errors | server CPU ms/req (+DB) | p50 vs 10^3 "
        "| p99 vs 10^3 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = sized[0] if sized and sized[0].get("status") == "ok" else None
    for r in sized:
        if r.get("status") not in ("ok", "errors"):
            out.append(f"| {r['tokens_stored']:,} | - | {r['status']} | - | - | - | - | - | - |")
            continue
        rel50 = f"{r['p50_ms'] / base['p50_ms']:.2f}×" if base else "-"
        rel99 = f"{r['p99_ms'] / base['p99_ms']:.2f}×" if base else "-"
        rps = f"{r['rps']:.0f}" if r["status"] == "ok" else f"INVALID ({r['rps']:.0f})"
        cpu = f"{r['server_cpu_ms_per_req']:.2f} +{r.get('db_cpu_ms_per_req', 0):.2f}"
        out.append(
            f"| {r['tokens_stored']:,} | {r.get('load_1m', '-')} | {rps} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['errors']} | {cpu} | {rel50} | {rel99} |"
        )
    if base and len(sized) > 1 and sized[-1].get("status") == "ok":
        last = sized[-1]
        flat = max(last["p50_ms"] / base["p50_ms"], last["p99_ms"] / base["p99_ms"]) <= 1.2
        out.append("")
        out.append(f"Flat within 20 % (p50 and p99): {'yes' if flat else 'NO'}")
    purged = [r for r in rows if r.get("during_purge")]
    if purged and sized and sized[-1].get("status") == "ok":
        before, during = sized[-1], purged[0]
        out += [
            "",
            "| introspection | load (1 min) | req/s | p50 ms | p99 ms | errors | p50 vs before | p99 vs before |",
            "|---|---|---|---|---|---|---|---|",
            f"| before the purge | {before.get('load_1m', '-')} | {before['rps']:.0f} | {before['p50_ms']:.2f} "
            f"| {before['p99_ms']:.2f} | {before['errors']} | 1.00× | 1.00× |",
        ]
        if during.get("status") == "ok":
            out.append(
                f"| during the purge | {during['load_1m']} | {during['rps']:.0f} | {during['p50_ms']:.2f} "
                f"| {during['p99_ms']:.2f} | {during['errors']} | {during['p50_ms'] / before['p50_ms']:.2f}× "
                f"| {during['p99_ms'] / before['p99_ms']:.2f}× |"
            )
        out += [
            "",
            f"Purge: {during['purge_deleted']:,} rows deleted in {during['purge_seconds']} s "
            f"({during['purge_rows_per_s']:,} rows/s, exit {during['purge_exit']}); it ran for the whole measured "
            f"window: {'yes' if during['purge_covered_window'] else 'NO'}.",
        ]
    return "\n".join(out) + "\n"
