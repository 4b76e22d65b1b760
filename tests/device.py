"""What the device grant's tests share: a device client, the device authorization request, a poll, and a person
entering the code and answering on the pages, as a browser would."""

from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.store import Store
from tests.conftest import TOKEN, RegisteredClient, csrf_from, login, register_client

DEVICE_AUTHORIZATION = "/oauth/device_authorization"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_FORM = "application/x-www-form-urlencoded"


def device_client(
    store: Store, *, public: bool = True, refresh: bool = False, scope: str = "api restricted"
) -> RegisteredClient:
    """A client registered for the device grant (public unless told otherwise)."""
    grants = (DEVICE_GRANT, "refresh_token") if refresh else (DEVICE_GRANT,)
    return register_client(
        store, name="Living-room TV", redirect_uris=(), grant_types=grants, scope=scope, public=public
    )


def _auth(registered: RegisteredClient, data: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    if registered.secret:
        return data, registered.basic
    return {**data, "client_id": registered.client_id}, {}


def request_device(client: FlaskClient, registered: RegisteredClient, **data: str) -> TestResponse:
    """The device authorization request (RFC 8628 §3.1)."""
    body, headers = _auth(registered, data)
    return client.post(DEVICE_AUTHORIZATION, data=body, headers=headers, content_type=_FORM)


def start(client: FlaskClient, registered: RegisteredClient, **data: str) -> dict[str, Any]:
    response = request_device(client, registered, **data)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def poll(client: FlaskClient, registered: RegisteredClient, device_code: str) -> TestResponse:
    """The device access token request (RFC 8628 §3.4)."""
    body, headers = _auth(registered, {"grant_type": DEVICE_GRANT, "device_code": device_code})
    return client.post(TOKEN, data=body, headers=headers, content_type=_FORM)


def error_of(response: TestResponse) -> tuple[int, str]:
    return response.status_code, response.get_json().get("error", "ok")


def enter_code(browser: FlaskClient, user_code: str, **environ: str) -> TestResponse:
    """Open the verification page and submit ``user_code``, as typed."""
    page = browser.get("/device", environ_base=environ)
    return browser.post(
        "/device",
        data={"user_code": user_code, "csrf_token": csrf_from(page.get_data(as_text=True))},
        environ_base=environ,
    )


def answer(
    browser: FlaskClient, user_code: str, decision: str = "allow", grant: list[str] | None = None
) -> TestResponse:
    """A person enters ``user_code``, signs in as alice if asked, and answers ``decision`` on the consent page,
    granting ``grant`` (default: every scope asked). The page the browser ends on."""
    response = enter_code(browser, user_code)
    assert response.status_code == 303, response.get_data(as_text=True)
    consent_url = response.headers["Location"]
    response = browser.get(consent_url)
    if response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login":
        login(browser)
        response = browser.get(consent_url)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    scopes = grant if grant is not None else _checked_scopes(html)
    response = browser.post(
        consent_url, data={"csrf_token": csrf_from(html), "decision": decision, "grant_scope": scopes}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return browser.get(response.headers["Location"])


def _checked_scopes(html: str) -> list[str]:
    marker = 'name="grant_scope" value="'
    scopes, start = [], 0
    while (start := html.find(marker, start)) != -1:
        start += len(marker)
        scopes.append(html[start : html.index('"', start)])
    return scopes
