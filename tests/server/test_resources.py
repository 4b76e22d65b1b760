"""Resources and audiences (RFC 8707): ``resource`` at the authorization endpoint (repeatable) and at the token
endpoint for every grant, ``aud`` in introspection, ``invalid_target``, the scope narrowed to what a resource
takes, and the consent page naming the resources."""

import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient

from tessera.resource import LocalSource, TokenValidator
from tessera.resource.errors import InvalidToken
from tessera.store import ResourceRecord, Store
from tessera.tokens import digest
from tests.conftest import REDIRECT_URI, TOKEN, RegisteredClient, csrf_from, login, pkce_pair
from tests.server.conftest import introspect

MCP = "https://mcp.example/mcp"
API = "https://api.example/"
ELSEWHERE = "https://unrelated.example/api"


@pytest.fixture(autouse=True)
def resources(store: Store) -> None:
    now = int(time.time())
    store.resources.create(ResourceRecord(MCP, "Notes MCP server", None, now))
    store.resources.create(ResourceRecord(API, "Billing API", "api", now))


def _authorize(
    client: FlaskClient, registered: RegisteredClient, *resources: str, scope: str = "api restricted"
) -> Any:
    verifier, challenge = pkce_pair()
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", registered.client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", scope),
        ("state", "xyz"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        *(("resource", r) for r in resources),
    ]
    return "/authorize?" + urlencode(params), verifier


def _consent(client: FlaskClient, url: str) -> Any:
    """The consent page for ``url`` (signing in first), and its answer once allowed."""
    page = client.get(url)
    if page.status_code == 302 and "/login" in page.headers["Location"]:
        login(client)
        page = client.get(url)
    return page


def _allow(client: FlaskClient, url: str, page: Any, scopes: list[str]) -> str:
    html = page.get_data(as_text=True)
    answer = client.post(url, data={"csrf_token": csrf_from(html), "decision": "allow", "grant_scope": scopes})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def _code_for(client: FlaskClient, registered: RegisteredClient, *resources: str, scope: str = "api restricted") -> Any:
    url, verifier = _authorize(client, registered, *resources, scope=scope)
    page = _consent(client, url)
    assert page.status_code == 200, page.get_data(as_text=True)
    return _allow(client, url, page, scope.split()), verifier


def _exchange(client: FlaskClient, registered: RegisteredClient, code: str, verifier: str, **extra: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    return client.post(TOKEN, data={**data, **extra}, headers=registered.basic)


def _refresh(client: FlaskClient, registered: RegisteredClient, refresh_token: str, **extra: str) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return client.post(TOKEN, data=data, headers=registered.basic)


def test_a_token_for_a_resource_carries_it_as_aud(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    code, verifier = _code_for(client, web_client, MCP)
    tokens = _exchange(client, web_client, code, verifier, resource=MCP)
    assert tokens.status_code == 200, tokens.json
    assert tokens.json["scope"] == "api restricted"
    answer = introspect(client, service, tokens.json["access_token"])
    assert answer["active"] is True and answer["aud"] == MCP


def test_without_resource_the_token_has_no_aud_as_before(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    code, verifier = _code_for(client, web_client)
    tokens = _exchange(client, web_client, code, verifier)
    answer = introspect(client, service, tokens.json["access_token"])
    assert answer["active"] is True and "aud" not in answer
    cc = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    assert "aud" not in introspect(client, service, cc.json["access_token"])


def test_several_resources_at_the_authorization_endpoint_make_an_array_aud(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    code, verifier = _code_for(client, web_client, MCP, API)
    tokens = _exchange(client, web_client, code, verifier)
    assert tokens.status_code == 200, tokens.json
    assert introspect(client, service, tokens.json["access_token"])["aud"] == [MCP, API]


def test_the_token_endpoint_narrows_to_one_of_the_granted_resources_and_its_scopes(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    code, verifier = _code_for(client, web_client, MCP, API)
    tokens = _exchange(client, web_client, code, verifier, resource=API)
    assert tokens.status_code == 200, tokens.json
    assert tokens.json["scope"] == "api"  # the API was registered with --scope api
    assert introspect(client, service, tokens.json["access_token"])["aud"] == API
    # the refresh token keeps the whole grant: the MCP server, with both scopes, on the next refresh
    again = _refresh(client, web_client, tokens.json["refresh_token"], resource=MCP)
    assert again.status_code == 200, again.json
    assert again.json["scope"] == "api restricted"
    assert introspect(client, service, again.json["access_token"])["aud"] == MCP
    both = _refresh(client, web_client, again.json["refresh_token"])
    assert introspect(client, service, both.json["access_token"])["aud"] == [MCP, API]


def test_a_resource_not_covered_by_the_grant_is_invalid_target(
    client: FlaskClient, web_client: RegisteredClient, user: Any
) -> None:
    code, verifier = _code_for(client, web_client, MCP)
    refused = _exchange(client, web_client, code, verifier, resource=API)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_target"
    # the code was not spent by the refusal
    tokens = _exchange(client, web_client, code, verifier)
    assert tokens.status_code == 200
    refused = _refresh(client, web_client, tokens.json["refresh_token"], resource=ELSEWHERE)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_target"
    assert _refresh(client, web_client, tokens.json["refresh_token"]).status_code == 200


def test_a_grant_without_resources_covers_none(client: FlaskClient, web_client: RegisteredClient, user: Any) -> None:
    code, verifier = _code_for(client, web_client)
    refused = _exchange(client, web_client, code, verifier, resource=MCP)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_target"


def test_an_unknown_resource_at_the_authorization_endpoint_goes_back_as_invalid_target(
    client: FlaskClient, web_client: RegisteredClient, user: Any
) -> None:
    login(client)
    for resource in (ELSEWHERE, "", "not a uri", MCP + "#fragment"):
        url, _ = _authorize(client, web_client, MCP, resource)
        answer = client.get(url)
        assert answer.status_code == 302, (resource, answer.get_data(as_text=True))
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert answer.headers["Location"].startswith(REDIRECT_URI)
        assert query["error"] == ["invalid_target"] and query["state"] == ["xyz"]
        assert query["iss"] == ["http://127.0.0.1:8000"]


def test_the_consent_page_names_the_resources(client: FlaskClient, web_client: RegisteredClient, user: Any) -> None:
    url, _ = _authorize(client, web_client, MCP, API)
    html = _consent(client, url).get_data(as_text=True)
    assert "Notes MCP server" in html and MCP in html and "Billing API" in html and API in html


def test_a_remembered_consent_does_not_cover_a_new_resource(
    client: FlaskClient, web_client: RegisteredClient, user: Any
) -> None:
    _code_for(client, web_client, MCP)
    url, _ = _authorize(client, web_client, MCP)
    assert client.get(url).status_code == 302  # remembered: straight back to the client
    url, _ = _authorize(client, web_client, MCP, API)
    page = client.get(url)
    assert page.status_code == 200 and "Billing API" in page.get_data(as_text=True)


def test_the_scope_is_narrowed_to_the_resources_scopes_on_the_consent_page(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    url, verifier = _authorize(client, web_client, API)
    page = _consent(client, url)
    html = page.get_data(as_text=True)
    assert 'value="api"' in html and 'value="restricted"' not in html
    code = _allow(client, url, page, ["api", "restricted"])
    tokens = _exchange(client, web_client, code, verifier)
    assert tokens.json["scope"] == "api"
    assert introspect(client, service, tokens.json["access_token"])["aud"] == API


def test_a_request_for_no_scope_the_resource_takes_is_invalid_scope(
    client: FlaskClient, web_client: RegisteredClient, user: Any
) -> None:
    login(client)
    url, _ = _authorize(client, web_client, API, scope="restricted")
    query = parse_qs(urlsplit(client.get(url).headers["Location"]).query)
    assert query["error"] == ["invalid_scope"]


def test_client_credentials_with_a_resource(client: FlaskClient, service: RegisteredClient) -> None:
    answer = client.post(TOKEN, data={"grant_type": "client_credentials", "resource": API}, headers=service.basic)
    assert answer.status_code == 200, answer.json
    assert introspect(client, service, answer.json["access_token"])["aud"] == API
    # an empty path and "/" are one resource
    answer = client.post(
        TOKEN, data={"grant_type": "client_credentials", "resource": "https://api.example"}, headers=service.basic
    )
    assert introspect(client, service, answer.json["access_token"])["aud"] == API
    for resource in (ELSEWHERE, "", "https://api.example/other"):
        refused = client.post(
            TOKEN, data={"grant_type": "client_credentials", "resource": resource}, headers=service.basic
        )
        assert refused.status_code == 400 and refused.json["error"] == "invalid_target", resource
        assert "access_token" not in refused.json


def test_a_deleted_resource_is_no_longer_issued(client: FlaskClient, service: RegisteredClient, store: Store) -> None:
    store.resources.delete(API)
    refused = client.post(TOKEN, data={"grant_type": "client_credentials", "resource": API}, headers=service.basic)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_target"


def test_a_validator_with_an_audience_refuses_tokens_for_another_resource(
    client: FlaskClient, service: RegisteredClient, store: Store
) -> None:
    """Audience confusion (RFC 9700 §2.3): a token issued for one API is refused by another, read locally."""
    validator = TokenValidator(LocalSource(store.tokens), audience=MCP)
    for_mcp = client.post(TOKEN, data={"grant_type": "client_credentials", "resource": MCP}, headers=service.basic)
    for_api = client.post(TOKEN, data={"grant_type": "client_credentials", "resource": API}, headers=service.basic)
    unbound = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    assert validator.validate("Bearer " + for_mcp.json["access_token"], ()).audience == (MCP,)
    for token in (for_api.json["access_token"], unbound.json["access_token"]):
        with pytest.raises(InvalidToken):
            validator.validate("Bearer " + token, ())
    assert store.tokens.active(digest(for_api.json["access_token"])) is not None


def test_more_than_ten_resources_at_once_are_refused(
    client: FlaskClient, web_client: RegisteredClient, user: Any
) -> None:
    login(client)
    url, _ = _authorize(client, web_client, *(f"https://api{i}.example/" for i in range(11)))
    query = parse_qs(urlsplit(client.get(url).headers["Location"]).query)
    assert query["error"] == ["invalid_target"] and "At most 10" in query["error_description"][0]
