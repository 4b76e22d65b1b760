"""Slow and idle clients against a real ``tessera serve`` (two workers, ``TESSERA_BODY_TIMEOUT=2``).

A client that declares a body and sends it a byte at a time, or not at all, that sends its headers slowly, or
that connects and sends nothing must not hold anything another request needs. While dozens of them are open,
``/healthz``, the token endpoint, introspection and the sign-in page answer as promptly as ever; each slow body
is answered 408 ``invalid_request`` after the body timeout and its connection closed; slow or absent headers
are cut off by the header timeout. A body that ends before it is complete is refused, never handled as if it
were whole.

The slow clients are raw sockets, so that they send exactly what they like when they like, all driven by one
thread; the probes are httpx, each on a new connection, so that both workers are probed.
"""

import base64
import json
import os
import secrets
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tessera.app.serve import HEADER_TIMEOUT
from tessera.cli import main
from tests.conftest import INTROSPECT, TOKEN, unused_port

pytestmark = pytest.mark.slow

TESSERA = Path(sys.executable).with_name("tessera")
#: TESSERA_BODY_TIMEOUT for the server under test, seconds
BODY_TIMEOUT = 2
#: the body deadlines are checked once a second, so a slow body is answered up to a second after its deadline
SWEEP = 1.0
#: how long any probe may take while the slow clients are open: generous, it is a shared machine
PROMPT = 2.0
#: what a busy machine may add to a deadline before the test calls it missed
SLACK = 3.0
#: the body the slow clients declare (under the 64 KiB limit, so it is not refused at once)
DECLARED = 60_000
FORM = "application/x-www-form-urlencoded"
TIMED_OUT = {"error": "invalid_request", "error_description": "The request body did not arrive in time."}
CUT_OFF = {"error": "invalid_request", "error_description": "The request body ended before it was complete."}


@dataclass
class Server:
    host: str
    port: int
    process: "subprocess.Popen[bytes]"
    log_path: Path
    client_id: str
    client_secret: str
    token: str = ""

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def access_lines(self, status: int) -> list[str]:
        return [line for line in self.log().splitlines() if " tessera.access " in line and f" status={status} " in line]


def _cli(args: list[str], env: dict[str, str]) -> str:
    unset: dict[str, str | None] = {name: None for name in os.environ if name.startswith("TESSERA_")}
    result = CliRunner().invoke(main, args, env={**unset, **env})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether ``condition`` became true within ``seconds`` (checked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _workers(pid: int) -> int:
    """How many processes ``pid`` has started (Linux /proc): the workers, once they are up."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            count += int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid
        except (OSError, IndexError, ValueError):  # the process ended while we looked
            continue
    return count


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("slow-clients")
    port = unused_port()
    settings = {
        "TESSERA_DATABASE_URL": f"sqlite:///{tmp / 'serve.db'}",
        "TESSERA_ISSUER": f"http://127.0.0.1:{port}",
        "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
        "TESSERA_BODY_TIMEOUT": str(BODY_TIMEOUT),
    }
    _cli(["db", "upgrade"], settings)
    service = json.loads(_cli(["clients", "create", "--name", "Service", "--introspect", "--json"], settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | settings
    log_path = tmp / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(TESSERA), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Server("127.0.0.1", port, process, log_path, service["client_id"], service["client_secret"])
    try:

        def up() -> bool:
            if process.poll() is not None:
                pytest.fail(f"tessera serve exited with {process.returncode}:\n{running.log()}")
            try:
                return httpx.get(f"{running.base_url}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        assert _until(up, 30), f"tessera serve did not answer /healthz within 30 s:\n{running.log()}"
        assert _until(lambda: _workers(process.pid) == 2, 15), "the second worker did not start"
        with _probe_client(running) as http:
            issued = http.post(TOKEN, data={"grant_type": "client_credentials"})
            assert issued.status_code == 200, issued.text
            running.token = issued.json()["access_token"]
            for _ in range(4):  # every worker has answered each kind of request once before anything is timed
                _probe_once(http, running)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _probe_client(server: Server) -> httpx.Client:
    # no keep-alive: every probe is a new connection, which either worker may accept
    return httpx.Client(
        base_url=server.base_url,
        auth=(server.client_id, server.client_secret),
        timeout=PROMPT,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def _probe_once(http: httpx.Client, server: Server) -> list[tuple[str, float, str]]:
    """``/healthz``, introspection, the sign-in page and a token: (what, seconds, what went wrong or "")."""
    checks: list[tuple[str, Callable[[], httpx.Response], Callable[[httpx.Response], bool]]] = [
        ("GET /healthz", lambda: http.get("/healthz"), lambda r: r.json() == {"status": "ok"}),
        (
            "POST /oauth/introspect",
            lambda: http.post(INTROSPECT, data={"token": server.token}),
            lambda r: r.json()["active"] is True and r.json()["client_id"] == server.client_id,
        ),
        ("GET /login", lambda: http.get("/login"), lambda r: "<h1>Sign in</h1>" in r.text),
        (
            "POST /oauth/token",
            lambda: http.post(TOKEN, data={"grant_type": "client_credentials"}),
            lambda r: r.json()["access_token"].startswith("tsr_at_"),
        ),
    ]
    results = []
    for name, send, right in checks:
        started = time.monotonic()
        try:
            response = send()
        except httpx.TimeoutException:
            results.append((name, time.monotonic() - started, f"no answer within {PROMPT} s"))
            continue
        elapsed = time.monotonic() - started
        try:
            as_expected = response.status_code == 200 and right(response)
        except (ValueError, KeyError, AttributeError):  # not the JSON it should be
            as_expected = False
        results.append((name, elapsed, "" if as_expected else f"{response.status_code} {response.text[:200]}"))
    return results


@dataclass
class Slow:
    """One raw connection: what it still has to send, and what came back when."""

    sock: socket.socket
    opened: float
    to_send: bytes = b""
    send_failed: bool = False
    received: bytearray = field(default_factory=bytearray)
    first_byte_at: float | None = None
    closed_at: float | None = None

    def trickle(self) -> None:
        if not self.to_send or self.send_failed:
            return
        try:
            self.sock.send(self.to_send[:1])
            self.to_send = self.to_send[1:]
        except OSError:  # the server closed: what it answered is still to be read
            self.send_failed = True

    def response(self) -> tuple[int, dict[str, str], bytes]:
        head, _, body = bytes(self.received).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (x.partition(":") for x in lines[1:])}
        return int(lines[0].split(" ", 2)[1]), headers, body


def _connect(server: Server, first: bytes = b"", then: bytes = b"") -> Slow:
    """A connection that sends ``first`` at once and then ``then`` one byte per tick."""
    sock = socket.create_connection((server.host, server.port), timeout=5)
    opened = time.monotonic()
    sock.sendall(first)
    sock.setblocking(False)
    return Slow(sock, opened, then)


def _slow_body(server: Server, path: str, *, trickled: bool = True) -> Slow:
    head = f"POST {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nContent-Type: {FORM}\r\n"
    head += f"Content-Length: {DECLARED}\r\n\r\n"
    return _connect(server, head.encode(), b"x" * DECLARED if trickled else b"")


def _hold(slow: list[Slow], tick: float, seconds: float) -> None:
    """Send one byte on each connection every ``tick`` seconds and read what comes back, until the server has
    closed every connection or ``seconds`` have passed."""
    selector = selectors.DefaultSelector()
    for conn in slow:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    deadline = time.monotonic() + seconds
    next_tick = time.monotonic()
    try:
        while any(conn.closed_at is None for conn in slow) and time.monotonic() < deadline:
            if time.monotonic() >= next_tick:
                for conn in slow:
                    if conn.closed_at is None:
                        conn.trickle()
                next_tick += tick
            for key, _ in selector.select(timeout=max(0.0, min(next_tick, deadline) - time.monotonic())):
                conn = key.data
                try:
                    data = conn.sock.recv(65536)
                except ConnectionResetError:  # closed with bytes of ours unread: a reset instead of a FIN
                    data = b""
                except BlockingIOError:
                    continue
                now = time.monotonic()
                if data:
                    conn.received += data
                    conn.first_byte_at = conn.first_byte_at or now
                else:
                    conn.closed_at = now
                    selector.unregister(conn.sock)
    finally:
        selector.close()
        for conn in slow:
            conn.sock.close()


def _probe_while_held(server: Server, slow: list[Slow], *, tick: float, seconds: float) -> list[tuple[str, float]]:
    """Hold ``slow`` open (see :func:`_hold`) and probe the server all the while; fails if any probe was slow or
    wrong, else returns every probe's timing."""
    holder = threading.Thread(target=_hold, args=(slow, tick, seconds), daemon=True)
    holder.start()
    timings: list[tuple[str, float]] = []
    problems: list[str] = []
    with _probe_client(server) as http:
        while holder.is_alive():
            for name, elapsed, wrong in _probe_once(http, server):
                timings.append((name, elapsed))
                if wrong or elapsed >= PROMPT:
                    problems.append(f"{name}: {elapsed:.2f} s {wrong}")
            holder.join(0.1)  # a round of probes ten times a second is plenty, and spares the shared machine
    holder.join()
    assert not problems, f"{len(problems)} of {len(timings)} probes were slow or wrong: {problems[:8]}"
    assert timings, "the slow clients were gone before any probe ran"
    slowest = max(elapsed for _, elapsed in timings)
    print(f"{len(timings)} probes beside {len(slow)} slow connections, the slowest {slowest * 1000:.0f} ms")
    return timings


def _assert_timed_out(slow: list[Slow]) -> None:
    """Each connection was answered 408 ``invalid_request`` after the body timeout, then closed."""
    for conn in slow:
        assert conn.first_byte_at is not None, f"no answer after {time.monotonic() - conn.opened:.1f} s"
        status, headers, body = conn.response()
        assert (status, headers.get("connection"), json.loads(body)) == (408, "close", TIMED_OUT)
        waited = conn.first_byte_at - conn.opened
        assert BODY_TIMEOUT - 0.1 <= waited <= BODY_TIMEOUT + SWEEP + SLACK, waited
        assert conn.closed_at is not None and conn.closed_at - conn.first_byte_at < 1.0


def test_slow_bodies_hold_nothing_and_are_answered_408_after_the_body_timeout(server: Server) -> None:
    # a byte every half second to the token endpoint, introspection and the sign-in form
    slow = [_slow_body(server, path) for path in (TOKEN, INTROSPECT, "/login") for _ in range(14)]
    _probe_while_held(server, slow, tick=0.5, seconds=BODY_TIMEOUT + SWEEP + SLACK + 2)
    _assert_timed_out(slow)
    assert _until(lambda: len(server.access_lines(408)) >= len(slow), 5), server.access_lines(408)
    assert "Traceback" not in server.log()


def test_a_declared_body_that_never_comes_is_408_after_the_body_timeout(server: Server) -> None:
    before = len(server.access_lines(408))
    silent = [_slow_body(server, path, trickled=False) for path in (TOKEN, INTROSPECT, "/login") for _ in range(7)]
    _probe_while_held(server, silent, tick=0.5, seconds=BODY_TIMEOUT + SWEEP + SLACK + 2)
    _assert_timed_out(silent)
    assert _until(lambda: len(server.access_lines(408)) >= before + len(silent), 5)


def test_slow_headers_are_cut_off_by_the_header_timeout_and_hold_nothing(server: Server) -> None:
    request = f"POST {TOKEN} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nContent-Type: {FORM}\r\n"
    request += "Content-Length: 29\r\n\r\ngrant_type=client_credentials"
    slow = [_connect(server, then=request.encode()) for _ in range(40)]  # 20 bytes in 10 s: never complete
    _probe_while_held(server, slow, tick=0.5, seconds=HEADER_TIMEOUT + SLACK + 2)
    for conn in slow:
        assert conn.closed_at is not None, "still open"
        assert HEADER_TIMEOUT - 0.1 <= conn.closed_at - conn.opened <= HEADER_TIMEOUT + SLACK
        assert conn.to_send, "the whole request went out: the test did not test a slow request"
        assert not conn.received or conn.received.startswith(b"HTTP/1.1 408 "), bytes(conn.received)


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(server: Server) -> None:
    """Each worker serves a bounded number of connections at once (granian's backpressure), so connections that
    never send a byte, held for ever, would in the end keep every other client out."""
    idle = [_connect(server) for _ in range(20)]
    _probe_while_held(server, idle, tick=0.5, seconds=HEADER_TIMEOUT + SLACK + 2)
    for conn in idle:
        assert conn.closed_at is not None, "still open"
        assert HEADER_TIMEOUT - 0.1 <= conn.closed_at - conn.opened <= HEADER_TIMEOUT + SLACK
        assert not conn.received, bytes(conn.received)


def test_http2_without_tls_is_not_spoken(server: Server) -> None:
    """Cleartext HTTP/2 (prior knowledge) is refused: its requests may carry a body without a Content-Length,
    which was then never read (the request answered as if it had no body), and the header timeout covers only
    HTTP/1."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")  # and an empty SETTINGS
    conn = _connect(server, preface)
    _hold([conn], tick=0.5, seconds=5)
    assert conn.closed_at is not None, f"still open after 5 s, having sent {bytes(conn.received)!r}"
    assert not conn.received or conn.received.startswith(b"HTTP/1.1 4"), bytes(conn.received)


def _half_closed(server: Server, head: str, sent: bytes) -> Slow:
    """A request whose body stops after ``sent``: the client closes its sending side and waits for the answer."""
    conn = _connect(server, head.encode() + sent)
    conn.sock.shutdown(socket.SHUT_WR)
    _hold([conn], tick=0.5, seconds=5)
    return conn


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_that_ends_before_it_is_complete_is_400_and_never_handled(server: Server, framing: str) -> None:
    form = b"grant_type=client_credentials"  # a whole request by itself, were it taken as the whole body
    credentials = base64.b64encode(f"{server.client_id}:{server.client_secret}".encode()).decode()
    head = f"POST {TOKEN} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nContent-Type: {FORM}\r\n"
    head += f"Authorization: Basic {credentials}\r\n"
    if framing == "content-length":
        conn = _half_closed(server, head + f"Content-Length: {len(form) + 20}\r\n\r\n", form)
    else:  # one chunk, and never the last (empty) one
        conn = _half_closed(server, head + "Transfer-Encoding: chunked\r\n\r\n", b"%x\r\n%s\r\n" % (len(form), form))
    assert conn.closed_at is not None
    status, _, body = conn.response()
    assert (status, json.loads(body or b"null")) == (400, CUT_OFF)
    assert "Traceback" not in server.log()
