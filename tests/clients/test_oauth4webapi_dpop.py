"""oauth4webapi's DPoP against the server and a toolkit-protected API, both on real loopback ports: the code and
the refresh are bound, the API and the server's userinfo endpoint accept the bound token with the library's proofs,
and the replayed proof, the token sent as Bearer and a refresh without a proof are refused."""

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from joserfc.jwk import ECKey
from werkzeug.serving import make_server

from tessera.resource import LocalSource, TokenCache, TokenValidator
from tessera.resource.flask import ResourceProtector, current_token
from tessera.store import Store
from tests.conftest import INTROSPECT, REDIRECT_URI, app_for, get_code, pkce_pair, register_client, unused_port
from tests.node import run_node


@contextlib.contextmanager
def _served(app: Any) -> Iterator[str]:
    port = unused_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join()


def _api(store: Store) -> Flask:
    api = Flask("api")
    require_token = ResourceProtector(TokenValidator(TokenCache(LocalSource(store.tokens)), realm="api"))

    @api.get("/api/data")
    @require_token("api")
    def data() -> str:
        return f"Protected API data for {current_token.client_id}."

    return api


@pytest.mark.parametrize("nonce", ["off", "on"])
def test_oauth4webapi_dpop_end_to_end(store: Store, sqlite_url: str, user: Any, nonce: str) -> None:
    public = register_client(store, public=True, scope="openid api")
    service = register_client(store, name="RS", redirect_uris=(), grant_types=("client_credentials",), introspect=True)
    port = unused_port()
    issuer = f"http://127.0.0.1:{port}"
    auth = app_for(store, sqlite_url, TESSERA_ISSUER=issuer, TESSERA_DPOP_NONCE=nonce)
    server = make_server("127.0.0.1", port, auth, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        verifier, challenge = pkce_pair()
        code = get_code(auth.test_client(), public, challenge, scope="openid api")
        callback = f"{REDIRECT_URI}?{urlencode({'code': code, 'state': 'xyz', 'iss': issuer})}"
        with _served(_api(store)) as api_base:
            api_url = f"{api_base}/api/data"
            result = run_node("dpop_flow.mjs", issuer, public.client_id, callback, verifier, REDIRECT_URI, api_url)
        introspected = (
            auth.test_client().post(INTROSPECT, data={"token": result["access_token"]}, headers=service.basic).json
        )
    finally:
        server.shutdown()
        thread.join()

    assert result["token_type"].lower() == "dpop" and result["refreshed_token_type"].lower() == "dpop"
    assert introspected is not None
    assert introspected["cnf"] == {"jkt": ECKey.import_key(result["jwk"]).thumbprint()}
    assert result["api_status"] == 200, result
    assert result["api_body"] == f"Protected API data for {public.client_id}."
    assert result["replay_status"] == 401
    assert result["replay_challenge"].startswith('DPoP realm="api", error="invalid_dpop_proof"')
    assert result["downgrade_status"] == 401
    assert result["downgrade_challenge"].startswith('DPoP realm="api", error="invalid_token"')
    assert result["refresh_without_proof"] == "invalid_dpop_proof"
    assert result["userinfo"] == {"sub": user.subject}
    assert result["userinfo_downgrade_status"] == 401
    assert result["userinfo_downgrade_challenge"].startswith('DPoP realm="userinfo", error="invalid_token"')
