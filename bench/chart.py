"""The side-by-side table as a picture: ``bench/run.sh chart RUN_DIR`` draws a run's results (Tessera on each
database beside every peer measured in the same run) as one PNG, req/s above and server CPU per request below, per
path. ``bench/run.sh`` draws it at the end of every run, into the run's folder; the README shows the one
committed as ``bench/results.png``.

matplotlib is the ``bench`` extra's; it draws without a screen (the Agg backend).
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["draw"]

#: the paths compared, and what each is called on the chart
PATHS = (
    ("S1", "issuance\n(client credentials)"),
    ("S2", "introspection\n(valid token)"),
    ("S4", "introspection\n(garbage)"),
)
#: the order and colours of the servers; a peer's variants (``S1:nohash``) are shown as its own series
STYLE = {
    "tessera-sqlite": "#1f6f8b",
    "tessera-pg": "#4aa3c2",
    "oidc-provider-1": "#d1495b",
    "dot-sqlite-g2": "#edae49",
    "dot-pg-g2": "#c8883a",
}


def _series(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{series: {path: result}}``: one series per target and scenario variant (``dot-pg-g2 nohash``)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in results:
        scenario = str(row.get("scenario", ""))
        path, _, variant = scenario.partition(":")
        if path not in dict(PATHS) or row.get("status") != "ok":
            continue
        name = str(row["target"]) + (f" ({variant})" if variant else "")
        out.setdefault(name, {})[path] = row
    return out


def draw(results: Sequence[dict[str, Any]], out: Path, *, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = _series(results)
    names = sorted(series, key=lambda n: (list(STYLE).index(n.split(" ")[0]) if n.split(" ")[0] in STYLE else 99, n))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7.5), sharex=True)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        colour = STYLE.get(name.split(" ")[0], "#888888")
        hatch = "//" if "(" in name else None
        xs = [p + (i - (len(names) - 1) / 2) * width for p in range(len(PATHS))]
        rps = [series[name].get(path, {}).get("rps", 0) for path, _ in PATHS]
        cpu = [series[name].get(path, {}).get("server_cpu_ms_per_req", 0) for path, _ in PATHS]
        top.bar(xs, rps, width, label=name, color=colour, hatch=hatch, edgecolor="white")
        bottom.bar(xs, cpu, width, color=colour, hatch=hatch, edgecolor="white")
    top.set_ylabel("requests per second (log)")
    top.set_yscale("log")
    bottom.set_ylabel("server CPU per request, ms (log)")
    bottom.set_yscale("log")
    bottom.set_xticks(range(len(PATHS)), [label for _, label in PATHS])
    top.legend(fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, 1.28))
    top.set_title(title, pad=70, fontsize=10)
    for axis in (top, bottom):
        axis.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def from_run(run_dir: Path, out: Path, title: str | None = None) -> Path:
    """Draw the results a run wrote (``results.jsonl``, and the peers' when they ran) into ``out``."""
    results = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines() if line.strip()]
    peers = run_dir / "peers_run.txt"
    if peers.exists():
        peer_file = Path(peers.read_text().strip()) / "results.jsonl"
        if peer_file.exists():
            results += [json.loads(x) for x in peer_file.read_text().splitlines() if x.strip()]
    return draw(results, out, title=title or f"bench/run.sh, {run_dir.name}: wrk -t2 -c32, 2 cores, one run")
