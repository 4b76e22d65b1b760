"""Every authorization response that reaches the client, success or error, by GET or POST, carries ``iss``
(RFC 9207 §2, RFC 9700 §4.4.2) and echoes ``state`` unchanged (RFC 6749 §4.1.2, §4.1.2.1)."""

from urllib.parse import parse_qs, urlencode, urlsplit

from flask.testing import FlaskClient

from tessera.store import Store
from tests.conftest import (
    ISSUER,
    REDIRECT_URI,
    RegisteredClient,
    authorize_params,
    csrf_from,
    login,
    pkce_pair,
    register_client,
)

STATE = "s-1 ü/?&="  # characters that must survive the round trip


def _url(registered: RegisteredClient, challenge: str | None, **extra: str) -> str:
    return "/authorize?" + urlencode(authorize_params(registered, challenge, state=STATE, **extra))


def _decide(client: FlaskClient, url: str, **form: str | list[str]) -> tuple[int, str]:
    html = client.get(url).get_data(as_text=True)
    response = client.post(url, data={"csrf_token": csrf_from(html), **form})
    return response.status_code, response.headers.get("Location", "")


def test_iss_and_state_on_every_response_to_the_client(client: FlaskClient, store: Store, user: object) -> None:
    web = register_client(store)
    spa = register_client(store, name="SPA", public=True)
    _, challenge = pkce_pair()
    login(client)
    answers: dict[str, tuple[int, str]] = {
        "deny": _decide(client, _url(web, challenge), decision="deny"),
        "allow nothing": _decide(client, _url(web, challenge), decision="allow"),
        "allow": _decide(client, _url(web, challenge), decision="allow", grant_scope=["api", "restricted"]),
    }
    for name, url in {
        "remembered consent": _url(web, challenge),
        "implicit refused": _url(web, challenge, response_type="token"),
        "scope not allowed": _url(web, challenge, scope="admin"),
        "plain PKCE refused": _url(web, None, code_challenge="x" * 43, code_challenge_method="plain"),
        "public client without PKCE": _url(spa, None),
    }.items():
        response = client.get(url)
        answers[name] = (response.status_code, response.headers.get("Location", ""))

    expected_error = {
        "deny": "access_denied",
        "allow nothing": "access_denied",
        "implicit refused": "unsupported_response_type",
        "scope not allowed": "invalid_scope",
        "plain PKCE refused": "invalid_request",
        "public client without PKCE": "invalid_request",
    }
    for name, (status, location) in answers.items():
        assert status in (302, 303), (name, status)
        assert location.startswith(REDIRECT_URI + "?"), (name, location)
        query = parse_qs(urlsplit(location).query)
        assert query["iss"] == [ISSUER], name
        assert query["state"] == [STATE], name
        if name in expected_error:
            assert query["error"] == [expected_error[name]] and "code" not in query, (name, query)
        else:
            assert query["code"][0].startswith("tsr_ac_"), (name, query)
