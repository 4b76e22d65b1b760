"""``python -m bench.dpop_instructions [--n 300]``: instructions per API request, unprotected, with a cached Bearer
token and with a cached DPoP-bound token and a fresh proof, counted by ``valgrind --tool=callgrind``: a figure the
machine's load does not move.

It re-runs itself under callgrind and builds the API of ``bench/dpop.py`` (Flask, ``tessera.resource.flask``, a
``TokenCache`` every request hits). Each window is ``--n`` requests after 20 to warm up, and is dumped on its own
(``callgrind_control --dump``). The DPoP case is run twice more: with the replay cache already holding
``--held`` proofs (what a worker keeps at thousands of proofs a second over the ``iat`` window), and with its
signature check (``cryptography``'s ``verify``, which releases the GIL and runs in OpenSSL) counted apart, from
callgrind's inclusive cost of that call, so that what is left is the Python around it.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["main"]

_CHILD = "TESSERA_BENCH_UNDER_CALLGRIND"
_CASES = {"open": "api: unprotected", "bearer": "api: cached Bearer", "dpop": "api: cached DPoP"}
# the frame of cryptography's ECPublicKey.verify, as callgrind names it
_VERIFY = "ECPublicKey>::__pymethod_verify__"


def _windows(n: int, held: int) -> None:
    import hashlib

    from bench.dpop import cases

    with tempfile.TemporaryDirectory() as tmp:
        found, validator, close = cases(Path(tmp), 4 * (n + 20))
        for label in ("open", "bearer", "dpop", "open", "bearer", "dpop"):
            case = found[_CASES[label]]
            _window(label, case, n)
        replay = validator.replay
        first_use_of = getattr(replay, "first_use_of")  # noqa: B009 (the LocalReplayCache of TokenValidator)
        for i in range(held):
            first_use_of(hashlib.sha256(i.to_bytes(8)).hexdigest())
        _window("dpop-held", found[_CASES["dpop"]], n)
        close()


def _window(label: str, case: Callable[[], object], n: int) -> None:
    """``n`` calls of ``case`` after 20 to warm up, counted alone: the counters are zeroed before and dumped after."""
    for _ in range(20):
        case()
    subprocess.run(["callgrind_control", "-z", str(os.getpid())], check=True, capture_output=True)
    for _ in range(n):
        case()
    subprocess.run(["callgrind_control", "-d", label, str(os.getpid())], check=True, capture_output=True)


def _inclusive(dump: Path, function: str) -> int:
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    for line in out.splitlines():
        if function in line:
            return int(line.split()[0].replace(",", ""))
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dpop_instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="requests per window")
    parser.add_argument("--held", type=int, default=300_000, help="proofs in the replay cache for the last window")
    args = parser.parse_args()
    if os.environ.get(_CHILD):
        _windows(args.n, args.held)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, "-m", "bench.dpop_instructions", "--n", str(args.n), "--held", str(args.held)],
            env=dict(os.environ, **{_CHILD: "1"}), check=True, capture_output=True,
        )  # fmt: skip
        found: dict[str, list[tuple[int, int]]] = {}
        for dump in sorted(Path(tmp).glob("callgrind.out.*")):
            text = dump.read_text(errors="replace")
            dumped = re.search(r"^desc: Trigger: .*?dump (.+)$", text, re.M)
            summary = re.search(r"^summary: (\d+)", text, re.M)
            if dumped and summary:
                verify = _inclusive(dump, _VERIFY) if "dpop" in dumped.group(1) else 0
                found.setdefault(dumped.group(1), []).append((int(summary.group(1)) // args.n, verify // args.n))
    if not found.get("open"):
        raise SystemExit("no windows were dumped")
    base = min(total for total, _ in found["open"])
    print("| case | instructions/request | of which the signature check | × unprotected (throughput) |")
    print("|---|---|---|---|")
    names = {**_CASES, "dpop-held": f"api: cached DPoP, replay cache holding {args.held:,} proofs"}
    for case, name in names.items():
        total, verify = min(found.get(case, [(0, 0)]))
        signature = f"{verify:,}" if verify else ""
        print(f"| {name} | {total:,} | {signature} | {base / total:.2f} |" if total else f"| {name} | - | | |")


if __name__ == "__main__":
    main()
