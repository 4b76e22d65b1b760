"""``python -m bench.ops_instructions``: instructions per issuance and per introspection with metrics and the audit
trail on and off, counted by ``valgrind --tool=callgrind``: a figure the machine's load does not move.

It re-runs itself under callgrind (valgrind must be installed), builds both apps in one process on SQLite as
``bench/ops_inproc.py`` does, and runs ``--n`` requests per window in the order off, on, off, on for each scenario.
The writer threads' interval is set to an hour, so each window's events and counts are written in one batch by
``front.close()`` at its end (as under load, where a 0.2 s batch holds hundreds) and their whole cost is inside the
window. ``callgrind_control --dump`` after each window gives its instructions; the table is per request.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["main"]

_CHILD = "TESSERA_BENCH_UNDER_CALLGRIND"


def _windows(n: int) -> None:
    import logging

    from prometheus_client import CollectorRegistry

    from bench.inproc import _client, _environ
    from tessera.app import build, new_metrics
    from tessera.config import Settings
    from tessera.logs import configure
    from tessera.server import periodic
    from tessera.store import Store, make_engine, upgrade

    start = periodic.Periodic.start
    periodic.Periodic.start = lambda self, interval: start(self, 3600)  # type: ignore[method-assign]
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'ops.db'}"
    engine = make_engine(url)
    upgrade(engine)
    _, cc = _client(Store(engine), ("client_credentials",), True)
    engine.dispose()
    configure("INFO", "text")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream((tmp / "server.log").open("a", encoding="utf-8"))
    apps = {}
    for mode in ("off", "on"):
        settings = Settings.from_env(
            {"TESSERA_DATABASE_URL": url, "TESSERA_SECRET_KEY": "x" * 40, "TESSERA_AUDIT": mode}
        )
        apps[mode] = build(settings, metrics=new_metrics(CollectorRegistry()) if mode == "on" else None)

    def call(mode: str, path: str, body: str) -> bytes:
        status: list[str] = []

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(line)

        out = b"".join(apps[mode].flask.wsgi_app(_environ(path, body, cc), start_response))
        if not status[0].startswith("2"):
            raise RuntimeError(f"{path}: {status[0]}")
        return out

    tokens = {m: call(m, "/oauth/token", "grant_type=client_credentials").split(b'"access_token":"')[1].split(b'"')[0]
              for m in apps}  # fmt: skip
    for case in ("S1 issuance", "S2 introspection"):
        for mode in ("off", "on", "off", "on"):
            path, body = (
                ("/oauth/token", "grant_type=client_credentials")
                if case.startswith("S1")
                else ("/oauth/introspect", f"token={tokens[mode].decode()}")
            )
            for label, count in (
                ("warm", 20),
                (f"{case.split()[0]}-{mode}", n),
            ):  # callgrind_control keeps [A-Za-z0-9-]
                apps[mode].front.start()
                for _ in range(count):
                    call(mode, path, body)
                apps[mode].front.close()
                subprocess.run(["callgrind_control", "-d", label, str(os.getpid())], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ops_instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="requests per window")
    args = parser.parse_args()
    if os.environ.get(_CHILD):
        _windows(args.n)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, "-m", "bench.ops_instructions", "--n", str(args.n)],
            env=dict(os.environ, **{_CHILD: "1"}), check=True, capture_output=True,
        )  # fmt: skip
        found: dict[str, dict[str, list[int]]] = {}
        for dump in Path(tmp).glob("callgrind.out.*"):
            text = dump.read_text(errors="replace")
            label = re.search(r"^desc: Trigger: .*?dump (.+)$", text, re.M)
            total = re.search(r"^totals: (\d+)", text, re.M)
            if label and total and "-" in label.group(1):
                case, mode = label.group(1).split("-")
                found.setdefault(case, {}).setdefault(mode, []).append(int(total.group(1)) // args.n)
    print("| scenario | off: instructions/request | on: instructions/request | on / off - 1 |")
    print("|---|---|---|---|")
    names = {"S1": "S1 issuance", "S2": "S2 introspection"}
    for case, modes in sorted(found.items()):
        off, on = min(modes["off"]), min(modes["on"])
        shown = {m: " / ".join(f"{v:,}" for v in modes[m]) for m in ("off", "on")}
        print(f"| {names[case]} | {shown['off']} | {shown['on']} | {on / off - 1:+.1%} |")


if __name__ == "__main__":
    main()
