"""One scenario under load: preflight, warm-up, drain, quiet wait, the measured wrk run, and what it cost.

The protocol is the peer harness's (``bench/peers/``), so our rows and theirs can share a table: ``wrk -t2 -c32
--timeout 30s --latency``, a discarded warm-up, then a measured window with the server's CPU read from /proc
around it. Any non-2xx answer, body mismatch or socket error makes the figure invalid.
"""

import base64
import dataclasses
import http.client
import json
import os
import re
import resource
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import procs

__all__ = ["Load", "Scenario", "basic", "http_call", "run_scenario", "run_wrk"]

_LUA = Path(__file__).with_name("scenario.lua")


@dataclasses.dataclass(frozen=True)
class Load:
    """wrk settings shared by every scenario of a run (the peers' defaults)."""

    duration_s: int = 10
    warmup_s: int = 3
    connections: int = 32
    threads: int = 2
    timeout: str = "30s"
    idle_max_s: float = 60.0
    quiet_max_s: float = 120.0


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One request shape. With ``pool``, each body comes from that file (see scenario.lua)."""

    name: str
    label: str
    url: str
    expect: str
    method: str = "GET"
    body: str = ""
    auth: str = ""
    pool: Path | None = None
    warmup_pool: Path | None = None
    pool_mode: str = "once"
    exhausted_body: str = ""
    preflight_body: str | None = None
    #: with ``pool``: the header each line goes into instead of the body (e.g. ``DPoP``)
    pool_header: str = ""
    #: headers of the preflight request besides ``auth`` (e.g. a proof of its own)
    preflight_headers: dict[str, str] = dataclasses.field(default_factory=dict)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def http_call(
    url: str, *, method: str = "GET", body: str = "", auth: str = "", headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """One request on a fresh connection; returns status and body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
    headers = dict(headers or {})
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if auth:
        headers["Authorization"] = auth
    try:
        conn.request(method, parts.path or "/", body=body.encode() if body else None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _matches(expect: str, text: str) -> bool:
    # the expectations are Lua patterns; the only class used is %s
    return re.search(expect.replace("%s", r"\s"), text) is not None


def run_wrk(scenario: Scenario, load: Load, seconds: int, pool: Path | None, out: Path) -> dict[str, Any] | None:
    env = dict(os.environ)
    env.update(
        BENCH_METHOD=scenario.method,
        BENCH_BODY=scenario.body,
        BENCH_AUTH=scenario.auth,
        BENCH_EXPECT=scenario.expect,
        BENCH_POOL=str(pool) if pool else "",
        BENCH_POOL_MODE=scenario.pool_mode,
        BENCH_POOL_EXHAUSTED=scenario.exhausted_body,
        BENCH_POOL_HEADER=scenario.pool_header,
        BENCH_THREADS=str(load.threads),
    )
    argv = [
        "wrk",
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{seconds}s",
        "--timeout",
        load.timeout,
        "--latency",
        "-s",
        str(_LUA),
        scenario.url,
    ]
    with open(out, "wb") as f:
        subprocess.run(argv, env=env, stdout=f, stderr=subprocess.STDOUT, check=False)
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line.split(" ", 1)[1])
            return result
    return None


def _children_cpu() -> float:
    """CPU of this process's reaped children: during the measured window, only wrk is reaped."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_scenario(
    scenario: Scenario, load: Load, *, server_pid: int, db_pid: int | None, raw: Path, tag: str
) -> dict[str, Any]:
    """Measure one scenario; the result always has ``status``: ok, errors, preflight_failed or wrk_failed."""
    status, text = http_call(
        scenario.url,
        method=scenario.method,
        body=scenario.preflight_body if scenario.preflight_body is not None else scenario.body,
        auth=scenario.auth,
        headers=scenario.preflight_headers,
    )
    if not 200 <= status < 300 or not _matches(scenario.expect, text):
        return {"status": "preflight_failed", "http": status, "body": text[:300]}

    roots = [server_pid] + ([db_pid] if db_pid else [])
    if load.warmup_s > 0:
        run_wrk(scenario, load, load.warmup_s, scenario.warmup_pool or scenario.pool, raw / f"{tag}.warmup.txt")
    drained = procs.idle(load.idle_max_s, *roots)
    waited = procs.quiet(load.quiet_max_s, *roots)

    c0, d0, h0 = procs.cpu_seconds(server_pid), procs.cpu_seconds(db_pid) if db_pid else 0.0, procs.host_busy()
    w0, t0 = _children_cpu(), time.monotonic()
    result = run_wrk(scenario, load, load.duration_s, scenario.pool, raw / f"{tag}.wrk.txt")
    w1, wall = _children_cpu(), time.monotonic() - t0
    c1, d1, h1 = procs.cpu_seconds(server_pid), procs.cpu_seconds(db_pid) if db_pid else 0.0, procs.host_busy()
    procs.idle(load.idle_max_s, *roots)
    if result is None:
        return {"status": "wrk_failed"}

    n = max(result["requests"], 1)
    errors = (
        result["non2xx"]
        + result["bad_body"]
        + result["sock_connect"]
        + result["sock_read"]
        + result["sock_write"]
        + result["sock_timeout"]
    )
    result.update(
        status="ok" if errors == 0 else "errors",
        errors=errors,
        server_cpu_ms_per_req=round((c1 - c0) * 1000 / n, 3),
        server_cpu_cores=round((c1 - c0) / result["duration_s"], 2),
        wrk_cpu_cores=round((w1 - w0) / wall, 2),
        # anything but the server, its DB and wrk: other sessions on this shared machine, kernel threads
        other_cpu_cores=round(((h1 - h0) - (c1 - c0) - (d1 - d0) - (w1 - w0)) / wall, 2),
        drain_wait_s=drained,
        quiet_wait_s=waited,
    )
    if db_pid:
        result["db_cpu_ms_per_req"] = round((d1 - d0) * 1000 / n, 3)
    return result
