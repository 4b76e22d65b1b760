"""``bench/run.sh profile S2``: one worker under wrk load, sampled by py-spy.

Writes a flame graph (``profile-<S>.svg``) and the collapsed stacks (``profile-<S>.txt``) to the run folder,
and prints the functions with the most samples, inclusive and self, as a share of the worker's busy time.
"""

import collections
import dataclasses
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import procs
from bench.load import run_wrk as _wrk
from bench.seed import bulk_refresh_pool, fresh_database, seed
from bench.targets import Run, TesseraTarget, free_port

__all__ = ["profile", "summarize"]


def summarize(collapsed: Path, top: int = 25) -> str:
    """Inclusive and self sample shares per function from py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    out = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        out.append(f"--- {title}")
        for frame, n in counter.most_common(top):
            out.append(f"{100 * n / max(total, 1):5.1f}%  {frame}")
    return "\n".join(out)


def profile(run: Run, target: TesseraTarget, name: str, seconds: int, *, svg: bool = False) -> None:
    """Profile scenario ``name`` on one worker for ``seconds`` under the run's wrk settings."""
    fresh_database(target.database_url)
    port = free_port()
    seeded = seed(target.bin_dir, target.env(port), target.database_url)
    pools = run.out / "pools" / target.name
    pools.mkdir(parents=True, exist_ok=True)
    if name == "S5":
        bulk_refresh_pool(target.database_url, seeded, run.pool_rate * (seconds + 4), pools / "refresh-measured.txt")
        bulk_refresh_pool(target.database_url, seeded, 1, pools / "refresh-preflight.txt")
    pid = target.start(run, port, 1)
    try:
        worker = next(p for p in procs.tree(pid) if p != pid)
        scenario = target.scenario(name, f"http://127.0.0.1:{port}", seeded, pools)
        out = run.out / (f"profile-{name}.svg" if svg else f"profile-{name}.txt")
        spy = [
            str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(worker), "--duration", str(seconds),
            "--rate", "500", "--nonblocking", "--gil", "--format", "flamegraph" if svg else "raw", "-o", str(out),
        ]  # fmt: skip
        load = dataclasses.replace(run.load, duration_s=seconds + 3)
        wrk = threading.Thread(target=_wrk, args=(scenario, load, seconds + 3, scenario.pool, run.out / "raw" / name))
        wrk.start()
        time.sleep(1)
        subprocess.run(spy, check=True, capture_output=True)
        wrk.join()
        if not svg:
            print(summarize(out))
        run.log(f"profile of {name} on {target.name}: {out}")
    finally:
        run.started.stop(pid)
