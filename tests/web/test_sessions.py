"""Sign-in sessions end: on sign-out, when the user is disabled or their password changes, after the idle timeout
and after the absolute lifetime. A copy of the cookie taken while signed in (another browser, a stolen cookie
file) is refused from then on, by every page and by ``/authorize``, which asks to sign in again and issues no
code. The server's clock (``clock``) is moved instead of waiting.
"""

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.app import create_app
from tessera.config import Settings
from tessera.store import Store
from tessera.tokens import digest
from tests.conftest import (
    MovableClock,
    RegisteredClient,
    authorize_params,
    csrf_from,
    get_code,
    login,
    pkce_pair,
    settings_for,
)
from tests.session_cookie import COOKIE, cookie_value, session_secret

IDLE, MAX_AGE = 1800, 43200  # the defaults


class StoppedClock(MovableClock):
    """The server's clock, stopped: it moves only when a test moves it, so a test can stand exactly one second
    before a session's end and then on it (real time would tick past a second's boundary now and then)."""

    def __init__(self) -> None:
        super().__init__()
        self.start = float(int(time.time()))

    def __call__(self) -> float:
        return self.start + self.offset


@pytest.fixture
def clock() -> StoppedClock:
    """The ``clock`` of ``tests/conftest.py`` that the ``app`` fixture builds the server with, stopped."""
    return StoppedClock()


def _copy(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, cookie_value(client))
    return other


def _home(client: FlaskClient) -> TestResponse:
    return client.get("/")


def _assert_signed_in(client: FlaskClient) -> None:
    response = _home(client)
    assert response.status_code == 200, response.headers
    assert "You are signed in to Tessera as <strong>alice</strong>" in response.get_data(as_text=True)


def _assert_refused(client: FlaskClient) -> None:
    """The home page sends the holder to sign in, and the browser is told to forget the cookie."""
    response = _home(client)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    cleared = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=;")]
    assert cleared and "Expires=Thu, 01 Jan 1970" in cleared[0], response.headers.getlist("Set-Cookie")
    assert client.get_cookie(COOKIE) is None


def _logout(client: FlaskClient) -> TestResponse:
    page = client.get("/logout").get_data(as_text=True)
    return client.post("/logout", data={"csrf_token": csrf_from(page)})


def _session_record(app: Flask, store: Store, client: FlaskClient) -> Any:
    found = store.sessions.find(digest(session_secret(client)))
    assert found is not None
    return found[0]


def test_a_copied_cookie_is_refused_after_sign_out(app: Flask, client: FlaskClient, user: Any) -> None:
    login(client)
    copy = _copy(app, client)
    _assert_signed_in(copy)
    response = _logout(client)
    assert response.status_code == 303 and response.headers["Location"] == "/logged-out"
    assert client.get_cookie(COOKIE) is None
    _assert_refused(copy)
    logout_page = copy.get("/logout")
    assert "You are signed out of Tessera." in logout_page.get_data(as_text=True)


def test_authorize_with_an_ended_session_asks_to_sign_in_and_issues_no_code(
    app: Flask, client: FlaskClient, web_client: RegisteredClient, user: Any
) -> None:
    _, challenge = pkce_pair()
    get_code(client, web_client, challenge)  # signed in, and the consent is remembered from now on
    url = "/authorize?" + urlencode(authorize_params(web_client, challenge))
    copy = _copy(app, client)
    assert copy.get(url).status_code == 302  # signed in, so the code would go straight to the client
    csrf = csrf_from(copy.get("/logout").get_data(as_text=True))  # the copy's session holds the same CSRF token
    _logout(client)

    again = copy.get(url)
    assert again.status_code == 302, again.headers
    location = urlsplit(again.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": [url]}  # and no code

    posted = copy.post(url, data={"csrf_token": csrf, "decision": "allow", "grant_scope": ["api", "restricted"]})
    location = urlsplit(posted.headers["Location"])
    assert posted.status_code in (302, 303) and location.path == "/login" and "code" not in parse_qs(location.query)


def test_signing_in_again_ends_the_previous_session(app: Flask, client: FlaskClient, user: Any) -> None:
    login(client)
    copy = _copy(app, client)
    login(client)
    _assert_signed_in(client)
    _assert_refused(copy)


def test_disabling_the_user_ends_the_session(app: Flask, client: FlaskClient, store: Store, user: Any) -> None:
    login(client)
    copy = _copy(app, client)
    store.users.disable("alice")
    assert _session_record(app, store, client).ended_at is not None
    _assert_refused(copy)


def test_a_password_change_ends_the_session(app: Flask, client: FlaskClient, store: Store, user: Any) -> None:
    from tessera.server.accounts import set_password

    login(client)
    copy = _copy(app, client)
    set_password(store.users, "alice", "a new secret")
    _assert_refused(copy)
    _assert_refused(client)
    login(client, password="a new secret")
    _assert_signed_in(client)


def test_the_idle_timeout_ends_a_session_nobody_uses(
    app: Flask, client: FlaskClient, clock: StoppedClock, user: Any
) -> None:
    login(client)
    copy = _copy(app, client)
    clock.advance(IDLE - 1)
    _assert_signed_in(client)  # used: the idle timeout starts again from here
    clock.advance(IDLE - 1)
    _assert_signed_in(copy)  # the same session
    clock.advance(IDLE)
    _assert_refused(copy)
    _assert_refused(client)


def test_the_absolute_lifetime_ends_a_session_in_use(
    app: Flask, client: FlaskClient, clock: StoppedClock, user: Any
) -> None:
    login(client)
    copy = _copy(app, client)
    step = IDLE - 100
    for _ in range(MAX_AGE // step):
        clock.advance(step)
        _assert_signed_in(client)
    clock.advance(MAX_AGE % step - 1)
    _assert_signed_in(copy)  # one second left
    clock.advance(1)
    _assert_refused(copy)
    _assert_refused(client)


def test_shorter_configured_lifetimes_apply(store: Store, settings: Settings, clock: StoppedClock, user: Any) -> None:
    app = create_app(
        settings_for(settings.database_url, TESSERA_SESSION_IDLE_TIMEOUT="120", TESSERA_SESSION_MAX_AGE="300"),
        store=store,
        clock=clock,
    )
    client = app.test_client()
    login(client)
    clock.advance(119)
    _assert_signed_in(client)
    clock.advance(119)
    _assert_signed_in(client)
    clock.advance(61)
    _assert_signed_in(client)
    clock.advance(1)  # 300 s after signing in, though used a second ago
    _assert_refused(client)
    login(client)
    clock.advance(120)
    _assert_refused(client)


def test_last_seen_is_written_at_most_once_a_minute(
    app: Flask, client: FlaskClient, store: Store, clock: StoppedClock, user: Any
) -> None:
    login(client)
    signed_in = _session_record(app, store, client)
    assert signed_in.last_seen == signed_in.created_at == signed_in.auth_time
    clock.advance(30)
    _assert_signed_in(client)
    assert _session_record(app, store, client).last_seen == signed_in.last_seen
    clock.advance(30)
    _assert_signed_in(client)
    seen = _session_record(app, store, client)
    assert seen.last_seen == signed_in.last_seen + 60
    assert (seen.created_at, seen.auth_time, seen.sid) == (signed_in.created_at, signed_in.auth_time, signed_in.sid)


def _expires(response: TestResponse) -> datetime:
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]
    attributes = dict(a.strip().split("=", 1) for a in cookie.split(";")[1:] if "=" in a)
    return parsedate_to_datetime(attributes["Expires"])


def test_the_cookie_never_outlives_the_absolute_lifetime(client: FlaskClient, clock: StoppedClock, user: Any) -> None:
    page = client.get("/login").get_data(as_text=True)
    signed_in_at = clock.start
    response = client.post(
        "/login", data={"username": "alice", "password": "correct horse", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303
    end = datetime.fromtimestamp(signed_in_at + MAX_AGE, UTC)
    assert _expires(response) == end
    clock.advance(IDLE - 1)
    rewritten = client.get(
        "/logout"
    )  # the sign-out form puts a new CSRF token in the session: the cookie is sent again
    assert rewritten.status_code == 200
    assert _expires(rewritten) == end


@pytest.mark.parametrize("when", ["sign-out", "disable"])
def test_sign_out_deletes_the_record_and_disabling_marks_it_ended(
    app: Flask, client: FlaskClient, store: Store, user: Any, when: str
) -> None:
    """The record itself: sign-out deletes it; disabling marks it ended (and the page refuses it)."""
    login(client)
    secret = session_secret(client)
    assert len(secret) >= 43  # 256 bits, URL-safe base64
    if when == "sign-out":
        _logout(client)
        assert store.sessions.find(digest(secret)) is None
    else:
        store.users.disable("alice")
        found = store.sessions.find(digest(secret))
        assert found is not None and found[0].ended_at is not None and found[1].disabled
