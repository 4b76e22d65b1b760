"""The production pages' ``form-action`` in Chromium: which origins each form needs, and that Chromium holds them
to it.

Chromium checks ``form-action`` against every redirect that follows a form's POST, not only the form's own
address. So the sign-in form for an ``/authorize`` request, whose POST redirects to ``/authorize`` and from there,
when the person consented before, straight on to the client, needs the client's redirect origin, and so does the
consent form, whose POST redirects to the client; the sign-out form and a sign-in without a client stay on the
server. Each test of a form that leaves the server is paired with the same flow under a policy without the
client's origin, which Chromium stops: the origin is needed, not merely allowed.

The server is Tessera with ``TESSERA_ENV=production`` on a loopback ``http://`` issuer (production allows plain
http on loopback only; Chromium accepts ``Secure`` ``__Host-`` cookies there), served in a thread; the client is
a small server on another port, so another origin.
"""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from werkzeug.serving import BaseWSGIServer, make_server

from tessera.app import create_app
from tessera.passwords import hash_password
from tessera.store import Store
from tests.conftest import RegisteredClient, open_store, pkce_pair, register_client, settings_for
from tests.e2e.conftest import Screenshots

pytestmark = pytest.mark.e2e

StartResponse = Callable[..., Any]
ONLY_SELF = "default-src 'self'; frame-ancestors 'none'; form-action 'self'"


def _serve(app: Callable[..., Any]) -> BaseWSGIServer:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, name=f"e2e-{server.port}", daemon=True).start()
    return server


@dataclass
class Callback:
    """The client's redirect URI: says it was reached, and remembers the query of each visit (not the browser's
    asking for a favicon)."""

    url: str = ""
    visits: list[dict[str, list[str]]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ["PATH_INFO"] == "/cb":
            self.visits.append(parse_qs(environ.get("QUERY_STRING", "")))
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [b"<!doctype html><title>Billing</title><h1>Back at Billing</h1>"]


@dataclass
class Server:
    """Tessera in production mode; ``policies`` replaces the CSP of GET responses at the given paths."""

    url: str = ""
    flask: Flask | None = None
    policies: dict[str, str] = field(default_factory=dict)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        assert self.flask is not None
        policy = self.policies.get(environ["PATH_INFO"]) if environ["REQUEST_METHOD"] == "GET" else None

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if policy is not None:
                headers = [(k, policy if k.lower() == "content-security-policy" else v) for k, v in headers]
            return start_response(status, headers, exc_info)

        return self.flask(environ, start)


@dataclass
class World:
    server: Server
    callback: Callback
    store: Store
    client: RegisteredClient

    def authorize_url(self) -> str:
        _, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": self.callback.url + "/cb",
            "scope": "api",
            "state": "s-123",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.server.url}/authorize?{urlencode(params)}"

    def consent_given_before(self) -> None:
        alice = self.store.users.by_name("alice")
        assert alice is not None
        self.store.consents.save(alice.id, self.client.client_id, ["api"])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    callback = Callback()
    callback_server = _serve(callback)
    callback.url = f"http://127.0.0.1:{callback_server.port}"
    server = Server()
    tessera_server = _serve(server)
    server.url = f"http://127.0.0.1:{tessera_server.port}"
    database_url = f"sqlite:///{tmp_path / 'tessera.db'}"
    try:
        with open_store(database_url) as store:
            settings = settings_for(database_url, TESSERA_ENV="production", TESSERA_ISSUER=server.url)
            server.flask = create_app(settings, store=store)
            store.users.create("alice", hash_password("correct horse"))
            registered = register_client(store, name="Billing", redirect_uris=(callback.url + "/cb",), scope="api")
            yield World(server, callback, store, registered)
    finally:
        tessera_server.shutdown()
        callback_server.shutdown()


def _sign_in_page(page: Page, world: World) -> str:
    """Open the client's authorization request, which shows the sign-in page; its CSP as Chromium got it."""
    with page.expect_response(lambda r: urlsplit(r.url).path == "/login") as sign_in:
        page.goto(world.authorize_url())
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    policy: str = sign_in.value.headers["content-security-policy"]
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse")
    return policy


def _assert_back_at_the_client_with_a_code(page: Page, world: World) -> None:
    expect(page.get_by_role("heading", name="Back at Billing")).to_be_visible()
    assert page.url.startswith(world.callback.url + "/cb?")
    (visit,) = world.callback.visits
    assert visit["state"] == ["s-123"] and visit["iss"] == [world.server.url] and len(visit["code"][0]) > 20


def _assert_stopped_by_form_action(page: Page, world: World, click: Callable[[], None]) -> None:
    with page.expect_console_message(lambda m: "form-action" in m.text) as message:
        click()
    assert "violates the following Content Security Policy directive" in message.value.text
    assert world.callback.visits == []


def test_the_sign_in_form_goes_on_to_the_client_when_consent_was_given_before(
    page: Page, world: World, shots: Screenshots
) -> None:
    world.consent_given_before()
    policy = _sign_in_page(page, world)
    assert policy == f"{ONLY_SELF} {world.callback.url}"
    shots.take(page, "sign-in")
    page.get_by_role("button", name="Sign in").click()  # POST /login -> 303 /authorize -> 302 the client
    _assert_back_at_the_client_with_a_code(page, world)
    shots.take(page, "back-at-the-client")


def test_without_the_clients_origin_chromium_stops_the_sign_in_form(
    page: Page, world: World, shots: Screenshots
) -> None:
    world.consent_given_before()
    world.server.policies["/login"] = ONLY_SELF
    assert _sign_in_page(page, world) == ONLY_SELF
    _assert_stopped_by_form_action(page, world, page.get_by_role("button", name="Sign in").click)
    shots.take(page, "stopped")


def test_the_consent_form_goes_to_the_client(page: Page, world: World, shots: Screenshots) -> None:
    _sign_in_page(page, world)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/authorize" and r.status == 200) as consent:
        page.get_by_role("button", name="Sign in").click()  # POST /login -> 303 /authorize: the consent page
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    assert consent.value.headers["content-security-policy"] == f"{ONLY_SELF} {world.callback.url}"
    shots.take(page, "consent")
    page.get_by_role("button", name="Allow").click()  # POST /authorize -> 303 the client
    _assert_back_at_the_client_with_a_code(page, world)


def test_without_the_clients_origin_chromium_stops_the_consent_form(
    page: Page, world: World, shots: Screenshots
) -> None:
    world.server.policies["/authorize"] = ONLY_SELF
    _sign_in_page(page, world)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    _assert_stopped_by_form_action(page, world, page.get_by_role("button", name="Allow").click)
    shots.take(page, "stopped")


def test_forms_that_stay_on_the_server_need_only_self(page: Page, world: World, shots: Screenshots) -> None:
    with page.expect_response(lambda r: urlsplit(r.url).path == "/login") as sign_in:
        page.goto(world.server.url + "/login")
    assert sign_in.value.headers["content-security-policy"] == ONLY_SELF
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("You are signed in to Tessera as alice")).to_be_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["__Host-tessera_session"]["secure"] and cookies["__Host-tessera_session"]["path"] == "/"
    page.get_by_role("link", name="Sign out").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    shots.take(page, "signed-out")
    assert world.callback.visits == []
