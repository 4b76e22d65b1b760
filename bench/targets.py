"""Tessera as a benchmark target: a fresh database, ``tessera serve`` started and stopped by PID, the scenarios
S0-S5 measured under load, and a separate pass that counts SQL statements per operation.

The SQL pass runs one worker with ``TESSERA_BENCH_COUNT_SQL=1`` and sends each scenario's request a fixed
number of times, one at a time (after one unmeasured request that warms the client cache), reading the worker's
statement counter (``/_bench/sql-count``) before and after: exact, and the counter never runs while throughput
is measured.
"""

import dataclasses
import json
import os
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import procs
from bench.load import Load, Scenario, basic, http_call, run_scenario
from bench.seed import Seeded, bulk_refresh_pool, fresh_database, seed

__all__ = ["Run", "TesseraTarget", "free_port", "postgres_pid", "wait_healthy"]

SQL_SAMPLES = 50


def wait_healthy(started: procs.Started, pid: int, base: str, log: Path, seconds: float = 30) -> None:
    """Return once the server ``pid`` (started by ``started``, logging to ``log``) answers ``base/healthz`` with 200;
    a ``RuntimeError`` naming the log if it exits or does not answer within ``seconds`` (then it is stopped)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not started.alive(pid):
            raise RuntimeError(f"tessera serve exited: {log.read_text()[-2000:]}")
        try:
            if http_call(base + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    started.stop(pid)
    raise RuntimeError(f"tessera serve did not answer /healthz within {seconds:g} s: see {log}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_pid(port: int) -> int | None:
    """The postmaster listening on ``port`` (read from /proc; only used to report the DB's CPU)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{name}/fd"):
                link = os.readlink(f"/proc/{name}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(name)
        except OSError:
            continue
    return None


@dataclasses.dataclass
class Run:
    """What every target of one run shares."""

    out: Path
    load: Load
    started: procs.Started
    log: Callable[[str], None]
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    targets: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    pool_rate: int = 8000

    def record(self, target: str, scenario: str, label: str, result: dict[str, Any]) -> None:
        result = dict(result, target=target, scenario=scenario, label=label)
        self.results.append(result)
        with open(self.out / "results.jsonl", "a") as f:
            f.write(json.dumps(result) + "\n")


@dataclasses.dataclass
class TesseraTarget:
    name: str
    database_url: str
    workers: int = 2
    db_pid: int | None = None
    bin_dir: Path = dataclasses.field(default_factory=lambda: Path(sys.executable).parent)

    def env(self, port: int, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        env.update(
            TESSERA_DATABASE_URL=self.database_url,
            TESSERA_ISSUER=f"http://127.0.0.1:{port}",
            TESSERA_SECRET_KEY="bench-only-secret-key-0123456789abcdef",
            TESSERA_ENV="development",
            **extra,
        )
        return env

    def start(self, run: Run, port: int, workers: int, **extra: str) -> int:
        log = run.out / "logs" / f"{self.name}.server.log"
        argv = [str(self.bin_dir / "tessera"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        pid = run.started.start([*argv, "--workers", str(workers)], env=self.env(port, **extra), log=log)
        wait_healthy(run.started, pid, f"http://127.0.0.1:{port}", log)
        return pid

    def run(self, run: Run, names: list[str], *, count_sql: bool = True) -> None:
        run.log(f"=== {self.name}: tessera serve --workers {self.workers}, {self.database_url.split(':', 1)[0]}")
        fresh_database(self.database_url)
        port = free_port()
        seeded = seed(self.bin_dir, self.env(port), self.database_url)
        pools = run.out / "pools" / self.name
        pools.mkdir(parents=True, exist_ok=True)
        if "S5" in names:
            self._refresh_pools(run, seeded, pools)

        pid = self.start(run, port, self.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            for name in names:
                if name == "S6":
                    continue
                scenario = self.scenario(name, base, seeded, pools)
                run.log(f"  {name} {scenario.label}")
                result = run_scenario(
                    scenario,
                    run.load,
                    server_pid=pid,
                    db_pid=self.db_pid,
                    raw=run.out / "raw",
                    tag=f"{self.name}.{name}",
                )
                run.record(self.name, name, scenario.label, result)
                run.log("    " + _brief(result))
            if "S6" in names:
                from bench import s6

                s6.run(run, self, base, seeded, server_pid=pid)
            memory = procs.memory(pid)
        finally:
            run.started.stop(pid)
        run.targets.append({"target": self.name, "workers": self.workers, "memory": memory})
        run.log(f"  memory: {memory}")
        if count_sql:
            self.count_sql(run, seeded, pools, [n for n in names if n != "S6"])

    def _refresh_pools(self, run: Run, seeded: Seeded, pools: Path) -> None:
        load = run.load
        for part, seconds in (("warmup", load.warmup_s), ("measured", load.duration_s)):
            count = max(run.pool_rate * seconds, 100)
            bulk_refresh_pool(self.database_url, seeded, count, pools / f"refresh-{part}.txt")
        bulk_refresh_pool(self.database_url, seeded, SQL_SAMPLES + 1, pools / "refresh-sql.txt")
        bulk_refresh_pool(self.database_url, seeded, 1, pools / "refresh-preflight.txt")

    def scenario(self, name: str, base: str, seeded: Seeded, pools: Path) -> Scenario:
        cc = basic(seeded.cc_id, seeded.cc_secret)
        if name == "S0":
            label = "trivial endpoint, /healthz (the server's ceiling)"
            return Scenario("S0", label, base + "/healthz", '"status":%s*"ok"')
        if name == "S1":
            return Scenario(
                "S1", "client_credentials issuance", base + "/oauth/token", '"access_token"', "POST",
                "grant_type=client_credentials", cc,
            )  # fmt: skip
        if name == "S2":
            token = _fetch_token(base, cc)
            return Scenario(
                "S2", "introspect valid token", base + "/oauth/introspect", '"active":%s*true', "POST",
                f"token={token}", cc,
            )  # fmt: skip
        if name == "S4":
            garbage = secrets.token_urlsafe(32)  # the peers' garbage: 43 random characters
            return Scenario(
                "S4", "introspect garbage token", base + "/oauth/introspect", '"active":%s*false', "POST",
                f"token={garbage}", cc,
            )  # fmt: skip
        if name == "S5":
            return Scenario(
                "S5", "refresh-token rotation", base + "/oauth/token", '"refresh_token"', "POST",
                auth=basic(seeded.web_id, seeded.web_secret),
                pool=pools / "refresh-measured.txt", warmup_pool=pools / "refresh-warmup.txt",
                exhausted_body="grant_type=refresh_token&refresh_token=pool-exhausted",
                preflight_body=(pools / "refresh-preflight.txt").read_text().strip(),
            )  # fmt: skip
        raise SystemExit(f"unknown scenario {name}")

    def count_sql(self, run: Run, seeded: Seeded, pools: Path, names: list[str]) -> None:
        """Statements per operation, one worker with the bench-only counter on, requests one at a time."""
        port = free_port()
        pid = self.start(run, port, 1, TESSERA_BENCH_COUNT_SQL="1")
        base = f"http://127.0.0.1:{port}"
        try:
            refresh = (pools / "refresh-sql.txt").read_text().split() if "S5" in names else []
            for name in names:
                scenario = self.scenario(name, base, seeded, pools)
                bodies = refresh[: SQL_SAMPLES + 1] if name == "S5" else [scenario.body] * (SQL_SAMPLES + 1)
                # one request first, unmeasured, so that the client cache is warm: the steady state is counted
                http_call(scenario.url, method=scenario.method, body=bodies.pop(0), auth=scenario.auth)
                before = _sql_count(base)
                for body in bodies:
                    status, text = http_call(scenario.url, method=scenario.method, body=body, auth=scenario.auth)
                    if not 200 <= status < 300:
                        raise RuntimeError(f"{self.name} {name}: HTTP {status} in the SQL pass: {text[:200]}")
                per_op = (_sql_count(base) - before) / len(bodies)
                for r in run.results:
                    if r["target"] == self.name and r["scenario"] == name:
                        r["sql_per_op"] = per_op
                run.log(f"  {name}: {per_op:g} SQL statements per operation")
        finally:
            run.started.stop(pid)


def _sql_count(base: str) -> int:
    status, text = http_call(base + "/_bench/sql-count")
    if status != 200:
        raise RuntimeError(f"/_bench/sql-count answered {status}")
    return int(json.loads(text)["statements"])


def _fetch_token(base: str, auth: str) -> str:
    status, text = http_call(base + "/oauth/token", method="POST", body="grant_type=client_credentials", auth=auth)
    if status != 200:
        raise RuntimeError(f"token request failed: HTTP {status} {text[:200]}")
    return str(json.loads(text)["access_token"])


def _brief(d: dict[str, Any]) -> str:
    if d["status"] not in ("ok", "errors"):
        return f"{d['status']}: {d.get('http', '')} {d.get('body', '')}"
    return (
        f"{d['status']} {d['rps']:.0f} req/s p50 {d['p50_ms']:.2f} ms p99 {d['p99_ms']:.2f} ms errors {d['errors']}"
        f" cpu {d['server_cpu_ms_per_req']:.2f} ms/req"
        f" (wrk {d['wrk_cpu_cores']:.2f}, other {d['other_cpu_cores']:.2f} cores)"
    )


def which_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian package)")
    return found
