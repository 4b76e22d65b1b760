"""The machine endpoints' request as Authlib sees it: the same attributes as Authlib's own, and its rule on the
transport (https, a loopback address, or ``AUTHLIB_INSECURE_TRANSPORT``) kept although it is no longer applied by
Authlib's constructor."""

import pytest
from authlib.oauth2 import OAuth2Request
from flask.testing import FlaskClient

from tessera.server.request import MachineRequest
from tessera.store import Store
from tests.conftest import TOKEN, RegisteredClient, app_for


def test_the_request_has_every_attribute_authlibs_has() -> None:
    form = {"grant_type": "client_credentials"}
    ours = MachineRequest("POST", "https://as.example/oauth/token", {"Authorization": "Basic eDp5"}, form)
    authlibs = OAuth2Request("POST", "https://as.example/oauth/token", headers={"Authorization": "Basic eDp5"})
    assert set(vars(authlibs)) <= set(vars(ours))
    assert {name: getattr(ours, name) for name in vars(authlibs) if name != "payload"} == {
        name: value for name, value in vars(authlibs).items() if name != "payload"
    }
    assert ours.payload.data == form and ours.form == form and ours.args == {}


@pytest.mark.parametrize(
    ("issuer", "answered"),
    [
        ("https://as.example", 200),
        ("http://127.0.0.1:8000", 200),
        ("http://localhost:8000", 200),
        ("http://[::1]:8000", 200),
        ("http://as.example", 400),  # plain http to another host: Authlib's insecure_transport
    ],
)
def test_token_endpoint_follows_authlibs_transport_rule(
    store: Store,
    sqlite_url: str,
    service: RegisteredClient,
    monkeypatch: pytest.MonkeyPatch,
    issuer: str,
    answered: int,
) -> None:
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    client: FlaskClient = app_for(store, sqlite_url, TESSERA_ISSUER=issuer).test_client()
    for _ in range(2):  # the second request too: the verdict is kept per URL
        response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
        assert response.status_code == answered
        if answered == 400:
            assert response.get_json()["error"] == "insecure_transport"
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # read on every request, as Authlib reads it
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    assert response.status_code == 200
