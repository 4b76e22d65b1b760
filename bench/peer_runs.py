"""The peers (django-oauth-toolkit, node-oidc-provider, a Flask hello ceiling), measured by the peer harness in
``bench/peers/`` in the same run, so that their rows join ours in one table.

The harness is shell and runs on its own too (``bench/peers/README.md``): it is called as it is (its
``setup.sh`` installs the peers once under ``PEERS_HOME``), and its ``results.jsonl`` and ``targets.jsonl`` are
read back.
"""

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.targets import Run

__all__ = ["DEFAULT_PEERS", "find_peers_dir", "run_peers"]

DEFAULT_PEERS = ("flask-hello-g2", "oidc-provider-1", "dot-sqlite-g2", "dot-pg-g2")
SCENARIOS = "S0 S1 S2 S4"  # S1/S2/S4 also select the peers' variants such as S1:nohash


def find_peers_dir(repo: Path) -> Path | None:
    env = os.environ.get("PEERS_DIR")
    for candidate in ([Path(env)] if env else []) + [repo / "bench" / "peers"]:
        if (candidate / "run.sh").is_file():
            return candidate
    return None


def run_peers(run: "Run", peers_dir: Path, targets: list[str]) -> None:
    home = Path(os.environ.get("PEERS_HOME", "/tmp/peers"))
    if not (home / "venv" / "bin" / "gunicorn").exists():
        run.log(f"peers skipped: no peer environment under {home} (run {peers_dir}/setup.sh once)")
        return
    run_id = "tessera-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    env = dict(os.environ)
    env.update(
        PEERS_HOME=str(home),
        RUN_ID=run_id,
        ONLY_SCENARIOS=SCENARIOS,
        BENCH_DURATION=f"{run.load.duration_s}s",
        BENCH_WARMUP=f"{run.load.warmup_s}s",
        BENCH_CONNECTIONS=str(run.load.connections),
        BENCH_THREADS=str(run.load.threads),
        BENCH_QUIET_MAX=str(int(run.load.quiet_max_s)),
    )
    run.log(f"=== peers: {' '.join(targets)} ({peers_dir}/run.sh, results in {home}/results/{run_id})")
    pid = run.started.start(["bash", str(peers_dir / "run.sh"), *targets], env=env, log=run.out / "logs" / "peers.log")
    while run.started.alive(pid):
        time.sleep(1)
    run.started.stop(pid)
    out = home / "results" / run_id
    for line in _lines(out / "results.jsonl"):
        d: dict[str, Any] = json.loads(line)
        d["label"] = d.get("client", "")
        d["peer"] = True
        run.results.append(d)
    for line in _lines(out / "targets.jsonl"):
        t = json.loads(line)
        per = t["mem"].get("per_proc_peak_rss_mib", [])
        memory = {
            "processes": t["mem"]["procs"],
            "master_peak_mib": per[0] if per else None,
            "worker_peak_mib": max(per[1:], default=per[0] if per else None),
            "total_peak_mib": t["mem"]["peak_rss_mib"],
        }
        run.targets.append({"target": t["target"], "memory": memory, "peer": True})
    (run.out / "peers_run.txt").write_text(str(out) + "\n")


def _lines(path: Path) -> list[str]:
    return [x for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
