"""Audiences (RFC 8707): a validator with ``audience=`` accepts only tokens issued for it, from any source, cached
or not; URIs compare exactly, but for an empty path."""

import time
from contextlib import closing
from typing import Any

import httpx
import pytest

from tessera.resource import (
    AccessToken,
    InsufficientScope,
    IntrospectionSource,
    InvalidToken,
    LocalSource,
    MissingToken,
    ServerUnavailable,
    TokenCache,
    TokenValidator,
)
from tessera.resource.flask import ResourceProtector
from tessera.resource.uris import normal_resource
from tessera.store import NewToken, Store
from tessera.tokens import TokenKind, digest, mint, random_id
from tests.conftest import ISSUER, register_client
from tests.resource.conftest import ScriptedSource

API = "https://api.example/mcp"
ELSEWHERE = "The access token was not issued for this resource."


def _refused(validator: TokenValidator, token: str, scopes: tuple[str, ...] = ()) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        validator.validate(f"Bearer {token}", scopes)
    assert not isinstance(caught.value, MissingToken)
    return caught.value


def test_a_token_for_this_resource_is_accepted_among_others(source: ScriptedSource) -> None:
    token, found = source.add(audience=("https://other.example/", API))
    assert TokenValidator(source, audience=API).validate(f"Bearer {token}", ("api",)) == found
    assert found.audience == ("https://other.example/", API)


@pytest.mark.parametrize(
    "audience",
    [
        pytest.param((), id="no-audience"),
        pytest.param(("https://other.example/mcp",), id="another-host"),
        pytest.param(("https://api.example/",), id="the-host-alone"),
        pytest.param(("https://api.example/mcp/",), id="a-trailing-slash-after-a-path"),
        pytest.param(("https://api.example/mcp/tools",), id="a-longer-path"),
        pytest.param(("https://API.example/mcp",), id="another-case"),
        pytest.param(("https://api.example:443/mcp",), id="the-default-port-written"),
        pytest.param(("http://api.example/mcp",), id="http"),
        pytest.param(("https://api.example/%6Dcp",), id="percent-encoded"),
    ],
)
def test_a_token_for_any_other_resource_is_401_invalid_token(source: ScriptedSource, audience: tuple[str, ...]) -> None:
    token, _ = source.add(audience=audience)
    refused = _refused(TokenValidator(source, audience=API), token)
    assert refused.status_code == 401 and refused.error == "invalid_token" and refused.description == ELSEWHERE
    assert refused.www_authenticate() == f'Bearer error="invalid_token", error_description="{ELSEWHERE}"'
    assert token not in refused.detail and API in refused.detail  # the log says which audience was missing


@pytest.mark.parametrize(
    ("configured", "issued"),
    [
        ("https://api.example", "https://api.example/"),
        ("https://api.example/", "https://api.example"),
        ("https://api.example:8443", "https://api.example:8443/"),
    ],
)
def test_an_empty_path_and_a_slash_are_one_resource(source: ScriptedSource, configured: str, issued: str) -> None:
    token, found = source.add(audience=(issued,))
    assert TokenValidator(source, audience=configured).validate(f"Bearer {token}").subject == found.subject
    assert found.audience == ("https://" + issued.split("://")[1].rstrip("/") + "/",)


def test_the_normal_form_changes_nothing_but_an_empty_path() -> None:
    assert normal_resource("https://api.example?x=1") == "https://api.example/?x=1"
    for same in ("https://api.example/", "https://api.example/mcp", "https://api.example/mcp/", "urn:example:api", ""):
        assert normal_resource(same) == same


def test_the_audience_is_checked_before_the_scopes(source: ScriptedSource) -> None:
    token, _ = source.add(scope="read", audience=("https://other.example/",))
    assert _refused(TokenValidator(source, audience=API), token, ("write",)).description == ELSEWHERE
    token, _ = source.add(scope="read", audience=(API,))
    with pytest.raises(InsufficientScope):
        TokenValidator(source, audience=API).validate(f"Bearer {token}", ("write",))


def test_without_an_audience_any_token_is_accepted(source: ScriptedSource) -> None:
    for audience in ((), ("https://other.example/",)):
        token, _ = source.add(audience=audience)
        assert TokenValidator(source).validate(f"Bearer {token}").audience == audience


def test_a_cached_entry_keeps_its_audience_and_every_hit_is_checked(source: ScriptedSource) -> None:
    token, _ = source.add(audience=(API,))
    cache = TokenCache(source, ttl=60)
    here, elsewhere = TokenValidator(cache, audience=API), TokenValidator(cache, audience="https://other.example/")
    header = f"Bearer {token}"
    assert here.validate(header).audience == (API,)
    assert here.validate_cached(header) is not None
    with pytest.raises(InvalidToken, match="not issued for this resource"):
        elsewhere.validate_cached(header)  # on the event loop, from the cache
    with pytest.raises(InvalidToken, match="not issued for this resource"):
        elsewhere.validate(header)
    assert source.calls == 1


@pytest.mark.parametrize(
    "audience", ["api", "", "https://api.example/#section", "https://api example/", "/mcp", 'https://a"b/', 7]
)
def test_an_audience_that_cannot_name_a_resource_is_refused_at_start(source: ScriptedSource, audience: Any) -> None:
    with pytest.raises(ValueError, match="absolute URI"):
        TokenValidator(source, audience=audience)


def test_an_access_token_normalises_and_shares_its_audience() -> None:
    def make(*audience: str) -> AccessToken:
        return AccessToken("1", None, "c", "api", 0, "d" * 64, audience)

    first, second = make("https://" + "api.example", "urn:x"), make("https://api.example", "urn:x")
    assert first.audience == ("https://api.example/", "urn:x") and first.audience is second.audience
    assert AccessToken("1", None, "c", "api", 0, "d").audience == ()  # the positional form of before still works
    assert AccessToken("1", None, "c", "api", 0, "d", API).audience == (API,)  # type: ignore[arg-type]


# the sources


def _introspection(answer: dict[str, Any]) -> IntrospectionSource:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    return IntrospectionSource(
        ISSUER, "c", "s", endpoint=ISSUER + "/introspect", transport=httpx.MockTransport(handler)
    )


_ACTIVE = {"active": True, "exp": 2**40, "client_id": "c", "sub": "c", "scope": "api"}


@pytest.mark.parametrize(
    ("aud", "expected"),
    [
        pytest.param(API, (API,), id="a-string"),
        pytest.param(["https://other.example/", API], ("https://other.example/", API), id="an-array"),
        pytest.param("https://api.example", ("https://api.example/",), id="an-empty-path"),
    ],
)
def test_introspection_reads_aud(aud: Any, expected: tuple[str, ...]) -> None:
    with closing(_introspection({**_ACTIVE, "aud": aud})) as source:
        found = source.lookup("t", "d")
        assert found is not None and found.audience == expected
        accepted = TokenValidator(source, audience=expected[-1]).validate(f"Bearer {mint(TokenKind.ACCESS)}")
        assert accepted.audience == expected


def test_introspection_without_aud_or_with_an_empty_array_is_a_token_without_audience() -> None:
    for answer in (_ACTIVE, {**_ACTIVE, "aud": []}):
        with closing(_introspection(answer)) as source:
            assert _refused(TokenValidator(source, audience=API), mint(TokenKind.ACCESS)).description == ELSEWHERE


@pytest.mark.parametrize(
    "aud",
    [7, None, True, {"uri": API}, [API, 7], [[API]]],
    ids=["number", "null", "boolean", "object", "mixed", "nested"],
)
def test_introspection_with_an_aud_of_any_other_kind_is_malformed_and_503(aud: Any) -> None:
    with closing(_introspection({**_ACTIVE, "aud": aud})) as source, pytest.raises(ServerUnavailable) as caught:
        TokenValidator(source).validate(f"Bearer {mint(TokenKind.ACCESS)}")
    assert caught.value.status_code == 503 and "'aud'" in caught.value.detail


def test_a_local_source_reads_the_audience_stored_with_the_token(db_store: Store) -> None:
    client = register_client(db_store, grant_types=("client_credentials",), redirect_uris=())
    now = int(time.time())
    tokens = {}
    for audience in (None, API, f"https://other.example/mcp {API}", "https://other.example/mcp"):
        token = mint(TokenKind.ACCESS)
        db_store.tokens.insert(
            NewToken(
                digest(token), None, client.client_id, None, "api", random_id(), now, now + 60, None, audience=audience
            )
        )
        tokens[audience] = token
    source = LocalSource(db_store.tokens)
    assert TokenValidator(source).validate(f"Bearer {tokens[None]}").audience == ()
    checked = TokenValidator(source, audience=API)
    assert checked.validate(f"Bearer {tokens[API]}").audience == (API,)
    assert checked.validate(f"Bearer {tokens[f'https://other.example/mcp {API}']}").audience == (
        "https://other.example/mcp",
        API,
    )
    for audience in (None, "https://other.example/mcp"):
        assert _refused(checked, tokens[audience]).description == ELSEWHERE


def test_a_flask_api_answers_a_token_for_another_resource_with_401(source: ScriptedSource) -> None:
    from flask import Flask

    protector = ResourceProtector(TokenValidator(source, realm="mcp", audience=API))
    api = Flask("api")

    @api.get("/mcp")
    @protector("api")
    def mcp() -> str:
        return "ok"

    good, _ = source.add(audience=(API,))
    other, _ = source.add(audience=("https://other.example/mcp",))
    client = api.test_client()
    assert client.get("/mcp", headers={"Authorization": f"Bearer {good}"}).get_data(as_text=True) == "ok"
    response = client.get("/mcp", headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 401
    assert response.json == {"error": "invalid_token", "error_description": ELSEWHERE}
    expected = f'Bearer realm="mcp", error="invalid_token", error_description="{ELSEWHERE}"'
    assert response.headers["WWW-Authenticate"] == expected
