"""``bench/run.sh compare REF``: the hot scenarios on an earlier commit and on this checkout, alternately, in one
session, with the ratio of each figure to the earlier one.

A machine shared with other work drifts by more than the changes worth measuring, so figures from two runs an
hour apart prove little. Here both versions run under the same load settings, each on a fresh database, in the
order A B B A A B ... (every round reverses the order, so a slow trend weighs on both), and the table gives each
side's figures per round and the ratio of their medians. A change that costs nothing shows ratios within a few
percent of 1.00 on every scenario.

REF is anything ``git`` accepts (a commit, a branch, ``HEAD~3``). It is checked out in a temporary worktree and
installed into a virtual environment of its own, both removed at the end.
"""

import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.targets import Run, TesseraTarget

__all__ = ["compare", "render"]


def _checkout(repo: Path, ref: str, into: Path) -> Path:
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{ref}^{{commit}}"], capture_output=True, text=True
    )
    if commit.returncode != 0:
        raise SystemExit(f"compare: {ref!r} is not a commit of this repository")
    tree = into / "ref"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), commit.stdout.strip()],
                   check=True, capture_output=True)  # fmt: skip
    venv = into / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-e", str(tree)],
                   check=True)  # fmt: skip
    return venv / "bin"


def compare(run: Run, repo: Path, ref: str, dbs: list[str], names: list[str], rounds: int, pg_url: str) -> str:
    """Measure ``names`` on ``ref`` and on this checkout, ``rounds`` times each, and return the table."""
    work = Path(tempfile.mkdtemp(prefix="tessera-compare-"))
    try:
        ref_bin = _checkout(repo, ref, work)
        here_bin = Path(sys.executable).parent
        for round_ in range(rounds):
            order = [("ref", ref_bin), ("this", here_bin)]
            if round_ % 2:
                order.reverse()
            for db in dbs:
                for side, bin_dir in order:
                    url = f"sqlite:///{run.out / f'{side}.db'}" if db == "sqlite" else pg_url
                    target = TesseraTarget(f"{side}-{db}", url, bin_dir=bin_dir)
                    run.log(f"round {round_ + 1}/{rounds}: {side} ({ref if side == 'ref' else 'this checkout'})")
                    target.run(run, names, count_sql=False)
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(work / "ref")],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    return render(run.results, ref, dbs, names)


def render(results: list[dict[str, Any]], ref: str, dbs: list[str], names: list[str]) -> str:
    out = [
        f"| database | scenario | {ref} req/s | this req/s | ratio of medians |",
        "|---|---|---|---|---|",
    ]
    for db in dbs:
        for name in names:
            before, after = _figures(results, f"ref-{db}", name), _figures(results, f"this-{db}", name)
            ratio = f"{statistics.median(after) / statistics.median(before):.2f}" if before and after else "-"
            shown = " / ".join(f"{x:.0f}" for x in before) or "INVALID", " / ".join(f"{x:.0f}" for x in after)
            out.append(f"| {db} | {name} | {shown[0]} | {shown[1] or 'INVALID'} | {ratio} |")
    return "\n".join(out)


def _figures(results: list[dict[str, Any]], target: str, scenario: str) -> list[float]:
    rows = [r for r in results if r["target"] == target and r["scenario"] == scenario]
    return [float(r["rps"]) for r in rows if r.get("status") == "ok"]
