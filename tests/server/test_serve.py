"""``tessera serve`` for real: a server process with two workers that answers, logs access lines and stops on
SIGTERM with no worker left behind."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                out.append(int(name))
    return out


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_serve_answers_with_workers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(os.environ)
    env.update(
        TESSERA_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        TESSERA_ISSUER=f"http://127.0.0.1:{port}",
        TESSERA_SECRET_KEY="s" * 40,
    )
    tessera = str(Path(sys.executable).parent / "tessera")
    subprocess.run([tessera, "db", "upgrade"], env=env, check=True, capture_output=True)
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [tessera, "serve", "--port", str(port), "--workers", "2"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        body = b""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = response.read()
                break
            except OSError:
                time.sleep(0.1)
        assert body == b'{"status":"ok"}\n'
        workers = _children(proc.pid)
        assert len(workers) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
    assert code == 0
    assert [pid for pid in workers if _running(pid)] == []
    assert "path=/healthz status=200" in log.read_text()
