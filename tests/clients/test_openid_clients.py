"""Strict third-party OpenID Connect clients sign a person in against a live server: oauth4webapi (JavaScript)
and Authlib's own client, each checking the ID token's signature against the JWKS, its claims and the nonce; and
sign them out at the end-session endpoint that discovery names (RP-Initiated Logout)."""

import re
import secrets
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.conftest import REDIRECT_URI, LiveServer, csrf_from, pkce_pair, register_client
from tests.node import run_node

SCOPE = "openid profile email"


def _sign_in_and_consent(base_url: str, authorize_url: str) -> str:
    """What a person does in the browser, with httpx: sign in as alice, allow, and the redirect's URL."""
    with httpx.Client(base_url=base_url, follow_redirects=False) as browser:
        return _sign_in_and_consent_in(browser, base_url, authorize_url)


def _sign_in_and_consent_in(browser: httpx.Client, base_url: str, authorize_url: str) -> str:
    """The same in ``browser``, which keeps the session cookie."""
    page = browser.get(authorize_url)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    login_url = urljoin(base_url, page.headers["Location"])
    form = browser.get(login_url)
    next_url = re.search(r'name="next" value="([^"]*)"', form.text)
    assert next_url is not None
    signed_in = browser.post(
        "/login",
        data={"username": "alice", "password": "correct horse", "csrf_token": csrf_from(form.text),
              "next": next_url.group(1).replace("&amp;", "&")},
    )  # fmt: skip
    assert signed_in.status_code == 303, signed_in.text
    consent = browser.get(signed_in.headers["Location"])
    assert consent.status_code == 200, consent.text
    scopes = re.findall(r'name="grant_scope" value="([^"]+)"', consent.text)
    answered = browser.post(
        signed_in.headers["Location"],
        data={"csrf_token": csrf_from(consent.text), "decision": "allow", "grant_scope": scopes},
    )
    assert answered.status_code == 303, answered.text
    location: str = answered.headers["Location"]
    return location


@pytest.fixture
def alice(live_server: LiveServer, user: Any) -> Any:
    return live_server.store.users.update_profile("alice", email="alice@example.com", name="Alice Liddell")


def test_oauth4webapi_signs_alice_in_with_openid_profile_email(live_server: LiveServer, alice: Any) -> None:
    rp = register_client(live_server.store, name="oauth4webapi", scope=SCOPE)
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = httpx.QueryParams(
        response_type="code", client_id=rp.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE, state=state,
        nonce=nonce, code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    callback = _sign_in_and_consent(live_server.base_url, f"/authorize?{query}")
    assert rp.secret is not None
    result = run_node(
        "openid_code_flow.mjs", live_server.base_url, rp.client_id, rp.secret, REDIRECT_URI, callback, verifier,
        state, nonce,
    )  # fmt: skip
    claims, userinfo = result["claims"], result["userinfo"]
    assert claims["iss"] == live_server.base_url and claims["aud"] == rp.client_id
    assert claims["sub"] == alice.subject and claims["nonce"] == nonce
    assert claims["email"] == "alice@example.com" and claims["preferred_username"] == "alice"
    assert userinfo == {
        "sub": alice.subject, "preferred_username": "alice", "name": "Alice Liddell", "email": "alice@example.com",
        "email_verified": False,
    }  # fmt: skip
    assert result["discovery"]["jwks_uri"] == f"{live_server.base_url}/oauth/jwks"


def test_authlibs_client_verifies_the_id_token_against_the_jwks(live_server: LiveServer, alice: Any) -> None:
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.jwk import KeySet

    rp = register_client(live_server.store, name="Authlib", scope=SCOPE)
    discovery = httpx.get(f"{live_server.base_url}/.well-known/openid-configuration").json()
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    with OAuth2Session(
        rp.client_id, rp.secret, scope=SCOPE, redirect_uri=REDIRECT_URI, code_challenge_method="S256"
    ) as session:
        url, state = session.create_authorization_url(
            discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        callback = _sign_in_and_consent(live_server.base_url, url.removeprefix(live_server.base_url))
        token = session.fetch_token(
            discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
        )
        keys = KeySet.import_key_set(session.get(discovery["jwks_uri"]).json())
        decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
        options: Any = {"iss": {"essential": True, "value": discovery["issuer"]}, "aud": {"value": rp.client_id}}
        claims = CodeIDToken(
            decoded.claims, decoded.header, options, {"nonce": nonce, "access_token": token["access_token"]}
        )
        claims.validate()  # iss, aud, exp, iat, nonce, at_hash
        assert claims["iss"] == discovery["issuer"] and claims["aud"] == rp.client_id
        assert claims["sub"] == alice.subject and claims["nonce"] == nonce
        userinfo = session.get(discovery["userinfo_endpoint"]).json()
        assert userinfo["sub"] == alice.subject and userinfo["email"] == "alice@example.com"


def test_authlibs_client_signs_out_at_the_end_session_endpoint(live_server: LiveServer, alice: Any) -> None:
    """Authlib's client has no logout helper: the URL is built from discovery's end_session_endpoint with the ID
    token the client got as id_token_hint, and followed in the browser that signed in."""
    from authlib.integrations.requests_client import OAuth2Session

    signed_out = "http://127.0.0.1:8002/signed-out"
    rp = register_client(live_server.store, name="Authlib", scope=SCOPE, post_logout_redirect_uris=(signed_out,))
    discovery = httpx.get(f"{live_server.base_url}/.well-known/openid-configuration").json()
    assert discovery["end_session_endpoint"] == f"{live_server.base_url}/end-session"
    verifier = secrets.token_urlsafe(48)
    with (
        OAuth2Session(
            rp.client_id, rp.secret, scope=SCOPE, redirect_uri=REDIRECT_URI, code_challenge_method="S256"
        ) as session,
        httpx.Client(base_url=live_server.base_url, follow_redirects=False) as browser,
    ):
        url, state = session.create_authorization_url(
            discovery["authorization_endpoint"], code_verifier=verifier, nonce=secrets.token_urlsafe(16)
        )
        callback = _sign_in_and_consent_in(browser, live_server.base_url, url.removeprefix(live_server.base_url))
        token = session.fetch_token(
            discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
        )
        logout_state = secrets.token_urlsafe(16)
        logout = httpx.URL(
            discovery["end_session_endpoint"],
            params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": signed_out, "state": logout_state},
        )
        page = browser.get(str(logout))
        assert page.status_code == 200 and ">Sign out</button>" in page.text, page.text
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        done = browser.post(action.group(1).replace("&amp;", "&"), data={"csrf_token": csrf_from(page.text)})
        assert done.status_code == 303
        assert done.headers["Location"] == f"{signed_out}?state={logout_state}"
        # signed out at the server: the next authorization request asks for the password
        url, _ = session.create_authorization_url(
            discovery["authorization_endpoint"], code_verifier=verifier, nonce=secrets.token_urlsafe(16)
        )
        again = browser.get(url.removeprefix(live_server.base_url))
        assert again.status_code == 302 and "/login" in again.headers["Location"]
