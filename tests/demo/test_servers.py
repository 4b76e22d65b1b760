import socket
from typing import Any

import pytest
import requests

from tessera.demo.servers import PortInUse, Servers, Site
from tests.demo.process import free_ports


def _hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode()]


def _can_bind(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_serves_every_site_until_stopped() -> None:
    ports = free_ports(2)
    servers = Servers([Site("a", ports[0], _hello), Site("b", ports[1], _hello)])
    with servers:
        for port in ports:
            assert requests.get(f"http://127.0.0.1:{port}/x", timeout=5).text == "/x"
    assert all(_can_bind(port) for port in ports)
    servers.stop()  # twice is fine


def test_a_port_in_use_fails_at_once_and_leaves_nothing_running() -> None:
    first, taken = free_ports(2)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        servers = Servers([Site("a", first, _hello), Site("b", taken, _hello, " (b: try another)")])
        with pytest.raises(PortInUse) as raised:
            servers.start()
    assert str(raised.value) == f"port {taken} is already in use (b: try another)"
    assert "\n" not in str(raised.value)
    assert _can_bind(first)


def test_requests_are_logged_without_their_query(caplog: pytest.LogCaptureFixture) -> None:
    (port,) = free_ports(1)
    with caplog.at_level("INFO", logger="tessera.demo"), Servers([Site("app", port, _hello)]):
        requests.get(f"http://127.0.0.1:{port}/authorize?code=tsr_ac_secret&state=s", timeout=5)
    assert any(r.getMessage() == "app  GET /authorize 200" for r in caplog.records)
    assert "tsr_ac_secret" not in caplog.text
