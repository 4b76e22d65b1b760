"""``tessera demo`` as people run it: a real process, stopped by a signal."""

import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from tessera.demo.provision import DATABASE_FILE
from tests.demo.process import DemoProcess, free_ports, tessera_command

pytestmark = pytest.mark.slow


def _answers(url: str) -> int:
    return requests.get(url, timeout=5, allow_redirects=False).status_code


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_runs_prints_where_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    demo = DemoProcess(None, tmp_path, sigint_default=True)
    try:
        demo.wait_ready()
        out = demo.stdout()
        for url in (demo.app_url + "/", demo.auth_url + "/", demo.api_url + "/api/data"):
            assert url in out
        assert "'demo'" in out and "password" in out
        assert _answers(demo.auth_url + "/.well-known/oauth-authorization-server") == 200
        assert _answers(demo.api_url + "/api/data") == 401
        assert _answers(demo.app_url + "/") == 200
        database = Path(next(line for line in out.splitlines() if "Database:" in line).split()[1])
        assert database.name == DATABASE_FILE and database.exists()
    finally:
        code = demo.stop(sig)
    assert code == 0
    assert demo.stdout().rstrip().endswith("Stopped.")
    assert "Traceback" not in demo.stderr()
    assert not database.parent.exists()  # the temporary directory went with it
    for port in (demo.auth_port, demo.api_port, demo.app_port):
        with pytest.raises(requests.ConnectionError):
            _answers(f"http://127.0.0.1:{port}/")


def test_keeps_its_database_in_data_dir_and_ignores_tessera_database_url(tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-this.db"
    demo = DemoProcess(tmp_path / "data", tmp_path, env={"TESSERA_DATABASE_URL": f"sqlite:///{elsewhere}"})
    try:
        demo.wait_ready()
    finally:
        assert demo.stop() == 0
    assert (tmp_path / "data" / DATABASE_FILE).is_file()
    assert not elsewhere.exists()


def test_its_database_files_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = DemoProcess(data, tmp_path, umask=0)
    try:
        demo.wait_ready()
        files = {path.name: oct(path.stat().st_mode & 0o777) for path in data.iterdir()}
    finally:
        assert demo.stop() == 0
    suffixes = ("", "-wal", "-shm")
    assert files == {DATABASE_FILE + suffix: "0o600" for suffix in suffixes}


def _run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tessera_command(), "demo", *args], capture_output=True, text=True, timeout=30)


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    auth, api, app = free_ports()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", api))
        holder.listen()
        result = _run_demo("--auth-port", str(auth), "--api-port", str(api), "--app-port", str(app))
    assert result.returncode == 1
    assert result.stderr == f"Error: port {api} is already in use (the API: try --api-port)\n"
    assert result.stdout == ""


def test_the_ports_must_differ() -> None:
    result = _run_demo("--auth-port", "18000", "--api-port", "18000")
    assert result.returncode == 1
    assert result.stderr == "Error: the three ports must differ\n"
