"""Control characters at every boundary, on SQLite and PostgreSQL (which cannot store a NUL in text, and used to
answer one with a 500 and a traceback in the log).

The machine endpoints refuse a control character in any form parameter with 400 ``invalid_request``, and in
Basic credentials with 401 ``invalid_client``; the pages refuse one in the query string or a form field with a
400 page; and a value the database refuses anyway is a 400, never a 500. What is refused where, and why, is in
:mod:`tessera.server.characters`.
"""

import base64
import logging
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.errors import ValueRefused
from tessera.passwords import hash_password
from tessera.server.errors import failure
from tessera.store import Store
from tessera.tokens import TokenKind, mint
from tests.conftest import (
    INTROSPECT,
    REVOKE,
    TOKEN,
    RegisteredClient,
    app_for,
    authorize_params,
    csrf_from,
    open_store,
    pkce_pair,
    register_client,
    reset_postgres,
)

ENDPOINTS = [TOKEN, INTROSPECT, REVOKE]
#: C0 controls (NUL, TAB, LF, CR and ESC among them) and DEL
CONTROLS = ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f"]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def db_client(database_url: str, db_store: Store) -> Iterator[FlaskClient]:
    """The server on each database ``database_url`` stands for, with alice signed up."""
    db_store.users.create("alice", hash_password("correct horse"))
    yield app_for(db_store, database_url).test_client()


@pytest.fixture
def db_service(db_store: Store) -> RegisteredClient:
    return register_client(
        db_store, name="Service", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )


@pytest.fixture
def no_error_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing at ERROR or above in the log: an unexpected exception is logged with its traceback."""
    with caplog.at_level(logging.WARNING):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def _body(endpoint: str, **encoded: str) -> str:
    """A form for ``endpoint``, with the parameters in ``encoded`` (already percent-encoded) set or added."""
    if endpoint == TOKEN:
        form = {"grant_type": "refresh_token", "refresh_token": mint(TokenKind.REFRESH)}
    else:
        form = {"token": mint(TokenKind.ACCESS)}
    return "&".join(f"{name}={value}" for name, value in {**form, **encoded}.items())


def _assert_refused(response: TestResponse, status: int, error: str, words: str) -> None:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    assert response.get_json() == {"error": error, "error_description": words}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.usefixtures("no_error_logged")
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_control_character_in_any_form_parameter_is_invalid_request(db_client: FlaskClient, endpoint: str) -> None:
    for control in map(quote, CONTROLS):  # percent-encoded, as a form carries them
        for name in ("client_id", "client_secret", "grant_type", "token", "scope", "anything"):
            for value in (control, f"x{control}y"):
                _assert_refused(
                    db_client.post(endpoint, data=_body(endpoint, **{name: value}), headers=FORM),
                    400,
                    "invalid_request",
                    f"Parameter '{name}' holds a control character.",
                )
        _assert_refused(
            db_client.post(endpoint, data=_body(endpoint, **{f"x{control}": "1"}), headers=FORM),
            400,
            "invalid_request",
            "A parameter's name holds a control character.",
        )


@pytest.mark.usefixtures("no_error_logged")
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_control_character_in_basic_credentials_is_invalid_client(
    db_client: FlaskClient, db_service: RegisteredClient, endpoint: str
) -> None:
    assert db_service.secret is not None
    for control in CONTROLS:
        for client_id, secret in (
            (quote(control), db_service.secret),  # form-encoded, as RFC 6749 §2.3.1 asks (and Authlib decodes)
            (db_service.client_id + quote(control), db_service.secret),
            (db_service.client_id, db_service.secret + quote(control)),
            (control, db_service.secret),  # the character itself
            (db_service.client_id, control + db_service.secret),
        ):
            raw = f"{client_id}:{secret}".encode()
            headers = {**FORM, "Authorization": "Basic " + base64.b64encode(raw).decode()}
            response = db_client.post(endpoint, data=_body(endpoint), headers=headers)
            _assert_refused(
                response, 401, "invalid_client", "The Authorization header does not hold valid Basic credentials."
            )
            assert response.headers["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.usefixtures("no_error_logged")
def test_a_control_character_in_the_authorization_query_is_a_400_page(db_client: FlaskClient, db_store: Store) -> None:
    registered = register_client(db_store)
    _, challenge = pkce_pair()
    for control in CONTROLS:
        for name in ("client_id", "response_type", "redirect_uri", "scope", "state", "code_challenge", "x"):
            params = {**authorize_params(registered, challenge), name: f"x{control}"}
            _assert_page_refused(db_client.get("/authorize?" + urlencode(params)))
        _assert_page_refused(db_client.get("/authorize?" + urlencode({"response_type": "code", "client_id": control})))


def _assert_page_refused(response: TestResponse) -> None:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "text/html" and "Location" not in response.headers
    html = response.get_data(as_text=True)
    assert "The request holds a control character, which no page of this server sends." in html, html


@pytest.mark.usefixtures("no_error_logged")
def test_a_control_character_at_sign_in_is_a_400_page(db_client: FlaskClient) -> None:
    for control in CONTROLS:
        if control == "\t":
            continue  # a tab may be part of what a person types: see the next test
        for field in ("username", "password", "next", "csrf_token"):
            csrf = csrf_from(db_client.get("/login").get_data(as_text=True))
            data = {"username": "alice", "password": "correct horse", "next": "/", "csrf_token": csrf}
            data[field] = data[field] + control
            _assert_page_refused(db_client.post("/login", data=data))
    # nobody signed in on the way
    assert db_client.get("/").status_code == 302


@pytest.mark.usefixtures("no_error_logged")
def test_a_tab_in_a_typed_field_is_only_a_wrong_password(db_client: FlaskClient) -> None:
    """RFC 6749 Appendix A lets a person's username and password hold a tab (UNICODECHARNOCRLF); it is not
    refused as a control character, and simply does not match."""
    csrf = csrf_from(db_client.get("/login").get_data(as_text=True))
    data = {"username": "alice", "password": "correct\thorse", "next": "/", "csrf_token": csrf}
    response = db_client.post("/login", data=data)
    assert response.status_code == 200
    assert "That username and password do not match." in response.get_data(as_text=True)


@pytest.mark.usefixtures("no_error_logged")
def test_a_next_that_names_a_client_with_a_control_character_is_harmless(db_client: FlaskClient) -> None:
    """``next`` holds ``%00`` as text; the sign-in page decodes it to look up the client it names."""
    for control in CONTROLS:
        next_url = "/authorize?" + urlencode({"client_id": control})  # the page sees "%00" in next, as text
        page = db_client.get("/login?next=" + quote(next_url, safe=""))
        assert page.status_code == 200, page.get_data(as_text=True)
        assert "to continue to" not in page.get_data(as_text=True)


@pytest.mark.postgres
def test_a_value_postgresql_cannot_store_is_refused_as_a_value(postgres_url: str) -> None:
    """Whatever gets past the boundaries: the database's refusal is a :class:`ValueRefused`, answered 400."""
    reset_postgres(postgres_url)
    with open_store(postgres_url) as store:
        with pytest.raises(ValueRefused):
            store.users.by_name("alice\x00")
        with pytest.raises(ValueRefused):
            store.users.create("alice\x00", hash_password("correct horse"))
        assert store.users.all() == []
    answer = failure(ValueRefused("a NUL character"), "POST", "/login")
    assert (answer.status, answer.error) == (400, "invalid_request")
    assert answer.description == "The request holds a value the server cannot store."
