"""oauth4webapi, a strict JavaScript OAuth client, runs the device grant (RFC 8628) as a command-line tool would:
it asks for the codes and polls, while Debian's Chromium enters the code, signs in and answers; and it is told
``expired_token`` when nobody does in time. The server runs on a real loopback port, its clock movable."""

import json
import subprocess
import threading
from collections.abc import Iterator
from typing import IO, Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tessera.app import create_app
from tessera.store import Store
from tessera.tokens import digest
from tests.conftest import LiveServer, MovableClock, RegisteredClient, settings_for, unused_port
from tests.device import device_client
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Screenshots
from tests.node import JS_DIR, node_available

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 760})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(ARTIFACTS / request.node.name)


@pytest.fixture
def live(store: Store, sqlite_url: str, clock: MovableClock) -> Iterator[LiveServer]:
    """The server on a loopback port, its issuer its own URL, on the clock the test moves."""
    from werkzeug.serving import make_server

    port = unused_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(settings_for(sqlite_url, TESSERA_ISSUER=base_url), store=store, clock=clock)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(base_url, store, app)
    finally:
        server.shutdown()
        thread.join()


class DeviceTool:
    """tests/js/device_flow.mjs running: what it printed, line by line."""

    def __init__(self, issuer: str, client: RegisteredClient, scope: str = "api restricted") -> None:
        if not node_available():
            pytest.skip("Node.js or oauth4webapi is missing (npm ci --prefix tests/js)")
        self.process = subprocess.Popen(
            ["node", str(JS_DIR / "device_flow.mjs"), issuer, client.client_id, scope],
            cwd=JS_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []

    def next_line(self, timeout: float = 30) -> dict[str, Any]:
        """The next line it prints, read in a thread so that a silent script fails the test instead of hanging."""
        out: list[str] = []
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        reader = threading.Thread(target=lambda: out.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not out or not out[0]:
            self.process.kill()
            pytest.fail(f"device_flow.mjs printed nothing more:\n{self.process.stderr.read()}")  # type: ignore[union-attr]
        self.lines.append(json.loads(out[0]))
        return self.lines[-1]

    def outcome(self) -> dict[str, Any]:
        """Read its lines until the last one."""
        while "outcome" not in (line := self.next_line()):
            assert line["poll"] == "authorization_pending", line
        assert self.process.wait(timeout=10) == 0, self.process.stderr.read()  # type: ignore[union-attr]
        return line

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def tool(live: LiveServer, store: Store) -> Iterator[DeviceTool]:
    tool = DeviceTool(live.base_url, device_client(store))
    yield tool
    tool.stop()


def _enter_code_and_sign_in(page: Page, started: dict[str, Any], shots: Screenshots) -> None:
    page.goto(started["verification_uri_complete"])
    expect(page.get_by_label("Code")).to_have_value(started["user_code"])
    shots.take(page, "code")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse")
    shots.take(page, "sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Authorize Living-room TV")).to_be_visible()
    shots.take(page, "consent")


def test_oauth4webapi_polls_while_chromium_enters_the_code_and_allows(
    tool: DeviceTool, live: LiveServer, page: Page, shots: Screenshots, user: Any
) -> None:
    started = tool.next_line()
    assert started["verification_uri"] == f"{live.base_url}/device"
    assert tool.next_line(timeout=15) == {"poll": "authorization_pending"}  # it polls while nobody has answered
    _enter_code_and_sign_in(page, started, shots)
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="Device connected")).to_be_visible()
    shots.take(page, "connected")
    token = tool.outcome()
    assert token["outcome"] == "token" and token["token_type"] == "bearer"  # oauth4webapi lower-cases it
    assert token["scope"] == "api restricted" and token["access_token"].startswith("tsr_at_")
    assert live.store.tokens.active(digest(token["access_token"])) is not None


def test_oauth4webapi_is_told_access_denied_after_deny(
    tool: DeviceTool, page: Page, shots: Screenshots, user: Any
) -> None:
    started = tool.next_line()
    _enter_code_and_sign_in(page, started, shots)
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("heading", name="Device denied")).to_be_visible()
    shots.take(page, "denied")
    assert tool.outcome() == {"outcome": "error", "error": "access_denied", "status": 400}


def test_oauth4webapi_is_told_expired_token_once_the_code_has_expired(
    tool: DeviceTool, page: Page, shots: Screenshots, clock: MovableClock, user: Any
) -> None:
    started = tool.next_line()
    clock.advance(started["expires_in"])
    assert tool.outcome() == {"outcome": "error", "error": "expired_token", "status": 400}
    page.goto(started["verification_uri_complete"])  # and the page no longer takes the code
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid or has expired")
    shots.take(page, "expired")
