"""What the consent page says of each scope: the description the operator declared, read once per page."""

import dataclasses
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient

from tessera.app import build
from tessera.config import Settings
from tessera.server.scopes import create_scope, update_scope
from tessera.store import Store
from tests.conftest import authorize_params, login, pkce_pair, register_client
from tests.web.test_pages import parse

_SCOPES = "api billing:read restricted"


def _url(client_id_holder: Any, scope: str) -> str:
    _, challenge = pkce_pair()
    return "/authorize?" + urlencode(authorize_params(client_id_holder, challenge, scope=scope))


def test_the_consent_page_describes_each_scope_as_declared(client: FlaskClient, store: Store, user: Any) -> None:
    create_scope(store.scopes, "billing:read", "Read your invoices & <receipts>")
    registered = register_client(store, name="Books", scope=_SCOPES)  # "restricted" held, never declared
    login(client)
    response = client.get(_url(registered, _SCOPES))
    assert response.status_code == 200
    page = parse(response)
    labels = {label.attrs.get("for"): " ".join(label.text.split()) for label in page.find("label")}
    described = {box.attrs.get("value"): labels[box.attrs.get("id")] for box in page.find("input", type="checkbox")}
    assert described == {
        "api": "apiUse the API on your behalf",  # the description a new database gives it
        "billing:read": "billing:readRead your invoices & <receipts>",
        "restricted": "restricted",  # not declared: its name alone
    }
    html = response.get_data(as_text=True)
    assert "&lt;receipts&gt;" in html and "<receipts>" not in html
    # read on every page: a change made by the CLI shows on the next one
    update_scope(store.scopes, "billing:read", description="Read and download your invoices")
    assert "Read and download your invoices" in client.get(_url(registered, _SCOPES)).get_data(as_text=True)


def test_the_descriptions_cost_one_read_however_many_scopes_are_asked_for(
    settings: Settings, store: Store, user: Any
) -> None:
    create_scope(store.scopes, "billing:read", "Read your invoices")
    create_scope(store.scopes, "restricted", "Reach restricted parts of the API")
    registered = register_client(store, name="Books", scope=_SCOPES)
    built = build(dataclasses.replace(settings, count_sql=True))
    counter = built.counter
    assert counter is not None
    client = built.flask.test_client()
    try:
        login(client)
        assert client.get(_url(registered, "api")).status_code == 200  # the client is cached from here on

        def statements(scope: str, shown: str) -> int:
            before = counter.count
            response = client.get(_url(registered, scope))
            assert response.status_code == 200 and shown in response.get_data(as_text=True)
            return counter.count - before

        one = statements("api", "Use the API on your behalf")
        three = statements(_SCOPES, "Reach restricted parts of the API")
        assert one == three
    finally:
        built.store.close()
