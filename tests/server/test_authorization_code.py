"""Authorization code with PKCE (RFC 6749 §4.1, RFC 7636 S256 only, RFC 9207 iss)."""

from urllib.parse import parse_qs, urlencode, urlsplit

from flask.testing import FlaskClient

from tests.conftest import (
    INTROSPECT,
    ISSUER,
    REDIRECT_URI,
    MovableClock,
    RegisteredClient,
    authorize_params,
    exchange,
    get_code,
    login,
    pkce_pair,
    register_client,
)


def _query(response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["Location"]).query)


def test_full_flow_issues_opaque_tokens_with_iss_and_state(client: FlaskClient, web_client, user) -> None:
    verifier, challenge = pkce_pair()
    url = "/authorize?" + urlencode(authorize_params(web_client, challenge))
    assert "/login" in client.get(url).headers["Location"]
    login(client)
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Test app" in html and 'value="api"' in html and 'value="restricted"' in html
    assert "Allow" in html and "Deny" in html
    from tests.conftest import csrf_from

    response = client.post(url, data={"csrf_token": csrf_from(html), "decision": "allow", "grant_scope": ["api"]})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = _query(response)
    assert query["state"] == ["xyz"] and query["iss"] == [ISSUER]
    code = query["code"][0]
    assert code.startswith("tsr_ac_")

    token = exchange(client, web_client, code, verifier)
    assert token.status_code == 200, token.json
    body = token.json
    assert body["access_token"].startswith("tsr_at_") and body["refresh_token"].startswith("tsr_rt_")
    assert body["scope"] == "api"  # the checked subset
    assert body["expires_in"] == 3600
    assert token.headers["Cache-Control"] == "no-store"


def test_remembered_consent_is_not_asked_again(client: FlaskClient, web_client, user) -> None:
    _, challenge = pkce_pair()
    get_code(client, web_client, challenge)
    # same scope: straight back to the client
    response = client.get("/authorize?" + urlencode(authorize_params(web_client, challenge)))
    assert response.status_code == 302 and "code=" in response.headers["Location"]
    # smaller scope: also not asked
    response = client.get("/authorize?" + urlencode(authorize_params(web_client, challenge, scope="api")))
    assert response.status_code == 302 and "code=" in response.headers["Location"]


def test_wider_scope_asks_again(client: FlaskClient, web_client, user) -> None:
    _, challenge = pkce_pair()
    get_code(client, web_client, challenge, grant=("api",))
    response = client.get("/authorize?" + urlencode(authorize_params(web_client, challenge)))
    assert response.status_code == 200 and "Allow" in response.get_data(as_text=True)


def test_deny_redirects_with_access_denied_and_iss(client: FlaskClient, web_client, user) -> None:
    from tests.conftest import csrf_from

    _, challenge = pkce_pair()
    login(client)
    url = "/authorize?" + urlencode(authorize_params(web_client, challenge))
    html = client.get(url).get_data(as_text=True)
    response = client.post(url, data={"csrf_token": csrf_from(html), "decision": "deny"})
    assert response.status_code in (302, 303)
    query = _query(response)
    assert query["error"] == ["access_denied"] and query["iss"] == [ISSUER] and query["state"] == ["xyz"]


def test_unknown_client_shows_error_page_without_redirect(client: FlaskClient, web_client, user) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(web_client, challenge, client_id="nope")
    response = client.get("/authorize?" + urlencode(params))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "not registered" in response.get_data(as_text=True)


def test_unregistered_redirect_uri_variants_are_refused_without_redirect(
    client: FlaskClient, store, web_client
) -> None:
    _, challenge = pkce_pair()
    # a loopback IP literal may change its port (tests/server/test_loopback_redirect_uris.py), any other URI not
    remote = register_client(store, redirect_uris=("https://app.example:8443/cb",))
    for registered, uri in (
        (web_client, "http://127.0.0.1:8002/Authorize"),
        (web_client, "http://127.0.0.1:8002/authorize/"),
        (web_client, "http://127.0.0.1:8002/authorize?x=1"),
        (web_client, "http://127.0.0.1:8002/authorize#frag"),
        (web_client, "https://127.0.0.1:8002/authorize"),
        (web_client, "http://evil.example/authorize"),
        (remote, "https://app.example:8444/cb"),
        (remote, "https://app.example/cb"),
        (remote, "https://APP.example:8443/cb"),
    ):
        response = client.get("/authorize?" + urlencode(authorize_params(registered, challenge, redirect_uri=uri)))
        assert response.status_code == 400, uri
        assert "Location" not in response.headers, uri


def test_missing_redirect_uri_is_refused(client: FlaskClient, web_client) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(web_client, challenge)
    del params["redirect_uri"]
    response = client.get("/authorize?" + urlencode(params))
    assert response.status_code == 400 and "Location" not in response.headers


def test_error_after_valid_redirect_carries_iss(client: FlaskClient, web_client) -> None:
    _, challenge = pkce_pair()
    response = client.get("/authorize?" + urlencode(authorize_params(web_client, challenge, response_type="token")))
    assert response.status_code == 302
    query = _query(response)
    assert query["error"] == ["unsupported_response_type"] and query["iss"] == [ISSUER]


def test_plain_pkce_is_refused(client: FlaskClient, web_client) -> None:
    params = authorize_params(web_client, None, code_challenge="a" * 43, code_challenge_method="plain")
    query = _query(client.get("/authorize?" + urlencode(params)))
    assert query["error"] == ["invalid_request"] and query["iss"] == [ISSUER]


def test_challenge_without_method_is_refused(client: FlaskClient, web_client) -> None:
    params = authorize_params(web_client, None, code_challenge="a" * 43)
    assert _query(client.get("/authorize?" + urlencode(params)))["error"] == ["invalid_request"]


def test_public_client_must_send_a_challenge_at_authorize(client: FlaskClient, store, user) -> None:
    spa = register_client(store, public=True)
    response = client.get("/authorize?" + urlencode(authorize_params(spa, None)))
    assert response.status_code == 302  # before any sign-in
    assert "/login" not in response.headers["Location"]
    assert _query(response)["error"] == ["invalid_request"]


def test_public_client_flow_with_pkce(client: FlaskClient, store, user) -> None:
    spa = register_client(store, public=True)
    verifier, challenge = pkce_pair()
    code = get_code(client, spa, challenge)
    response = exchange(client, spa, code, verifier)
    assert response.status_code == 200, response.json


def test_wrong_verifier_is_invalid_grant(client: FlaskClient, web_client, user) -> None:
    _, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    other, _ = pkce_pair()
    response = exchange(client, web_client, code, other)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_pkce_downgrade_is_refused(client: FlaskClient, web_client, user) -> None:
    _, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    response = exchange(client, web_client, code, None)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_verifier_for_code_without_challenge_is_refused(client: FlaskClient, web_client, user) -> None:
    code = get_code(client, web_client, None)
    verifier, _ = pkce_pair()
    response = exchange(client, web_client, code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_confidential_client_without_pkce_works(client: FlaskClient, web_client, user) -> None:
    code = get_code(client, web_client, None)
    assert exchange(client, web_client, code, None).status_code == 200


def test_code_works_once_and_replay_revokes_issued_tokens(client: FlaskClient, web_client, user, service) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    first = exchange(client, web_client, code, verifier)
    assert first.status_code == 200
    second = exchange(client, web_client, code, verifier)
    assert second.status_code == 400 and second.json["error"] == "invalid_grant"
    answer = client.post(INTROSPECT, data={"token": first.json["access_token"]}, headers=service.basic)
    assert answer.json == {"active": False}


def test_code_is_bound_to_client(client: FlaskClient, store, web_client, user) -> None:
    other = register_client(store, name="Other")
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    response = exchange(client, other, code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_another_client_with_a_used_code_revokes_nothing(client: FlaskClient, store, web_client, user, service) -> None:
    """Only the owner's replay of a code revokes what the code produced; another client's is just refused."""
    other = register_client(store, name="Other")
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    issued = exchange(client, web_client, code, verifier)
    assert issued.status_code == 200, issued.json
    replayed = exchange(client, other, code, verifier)
    assert replayed.status_code == 400 and replayed.json["error"] == "invalid_grant"
    answer = client.post(INTROSPECT, data={"token": issued.json["access_token"]}, headers=service.basic)
    assert answer.json["active"] is True


def test_code_is_bound_to_redirect_uri(client: FlaskClient, web_client, user) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI + "x",
            "code_verifier": verifier,
        },
        headers=web_client.basic,
    )
    assert response.status_code == 400 and response.json is not None and response.json["error"] == "invalid_grant"


def test_expired_code_is_refused(client: FlaskClient, web_client, user, clock: MovableClock) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    clock.advance(61)
    response = exchange(client, web_client, code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_scope_beyond_registration_is_narrowed(client: FlaskClient, store, user) -> None:
    narrow = register_client(store, scope="api")
    verifier, challenge = pkce_pair()
    code = get_code(client, narrow, challenge, scope="api")
    # asked for more than registered: narrowed to what the client may have
    url = "/authorize?" + urlencode(authorize_params(narrow, challenge, scope="api restricted"))
    response = client.get(url)
    assert response.status_code == 302  # consent for "api" already given, and "restricted" is narrowed away
    assert exchange(client, narrow, code, verifier).json["scope"] == "api"


def test_scope_with_nothing_allowed_is_invalid_scope(client: FlaskClient, web_client, user) -> None:
    _, challenge = pkce_pair()
    response = client.get("/authorize?" + urlencode(authorize_params(web_client, challenge, scope="admin")))
    assert _query(response)["error"] == ["invalid_scope"]


def test_disabled_user_cannot_redeem(client: FlaskClient, store, web_client: RegisteredClient, user) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    store.users.disable("alice")
    response = exchange(client, web_client, code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_an_authorization_request_sent_as_a_form_post_works_as_its_get(
    client: FlaskClient, web_client: RegisteredClient, user
) -> None:
    """OpenID Connect Core §3.1.2.1: the authorization endpoint takes POST too (oidcc-ensure-post-request-succeeds).
    The POST is answered as its GET; the person signs in and consents as for a GET."""
    from tests.conftest import csrf_from

    verifier, challenge = pkce_pair()
    params = authorize_params(web_client, challenge)
    posted = client.post("/authorize", data=params)
    assert posted.status_code == 303
    target = posted.headers["Location"]
    assert urlsplit(target).path == "/authorize" and parse_qs(urlsplit(target).query) == {
        name: [value] for name, value in params.items()
    }
    assert "/login" in client.get(target).headers["Location"]
    login(client)
    page = client.get(target)
    assert page.status_code == 200 and "Test app" in page.get_data(as_text=True)
    answer = {"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": "allow", "grant_scope": ["api"]}
    response = client.post(target, data=answer)
    assert response.status_code == 303 and _query(response)["state"] == ["xyz"]
    assert exchange(client, web_client, _query(response)["code"][0], verifier).status_code == 200
    # consent remembered: a POSTed request now gets its code at once, through the same GET
    verifier, challenge = pkce_pair()
    again = client.post("/authorize", data=authorize_params(web_client, challenge, scope="api"))
    code = client.get(again.headers["Location"])
    assert code.status_code == 302 and code.headers["Location"].startswith(REDIRECT_URI + "?code=")


def test_a_posted_authorization_request_is_never_read_as_consent(
    client: FlaskClient, web_client: RegisteredClient, user
) -> None:
    """A form that another site posts with the request and an "allow" answer (no CSRF token) only asks."""
    _, challenge = pkce_pair()
    login(client)
    forged = {**authorize_params(web_client, challenge), "decision": "allow", "grant_scope": "api"}
    posted = client.post("/authorize", data=forged)
    assert posted.status_code == 303 and urlsplit(posted.headers["Location"]).path == "/authorize"
    page = client.get(posted.headers["Location"])
    assert page.status_code == 200 and "Allow" in page.get_data(as_text=True)  # still asking: nothing was granted
    # and a POST to an unknown client gets the error page, as the GET does
    refused = client.get(
        client.post("/authorize", data={"client_id": "nobody", "response_type": "code"}).headers["Location"]
    )
    assert refused.status_code == 400 and "Location" not in refused.headers
