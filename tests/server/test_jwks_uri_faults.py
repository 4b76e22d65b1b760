"""A ``private_key_jwt`` client whose ``jwks_uri`` answers badly: the token endpoint says 401 ``invalid_client``
and why in one line, never a 500; and the rules a ``jwks_uri`` and a key set must meet, each refusal saying why."""

import threading
from collections.abc import Iterator

import pytest
from flask import Flask, Response, redirect
from flask.testing import FlaskClient
from joserfc.jwk import ECKey
from werkzeug.serving import make_server

from tessera.server.client_keys import MAX_JWKS, JwksError, check_jwks, check_jwks_uri
from tessera.store import Store
from tests.conftest import unused_port
from tests.server.test_private_key_jwt import _assertion, _keyed_client, _refused, _token


@pytest.fixture
def key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "one"})


@pytest.fixture
def faulty(key: ECKey) -> Iterator[str]:
    """A loopback server with one path per way of answering badly; its base URL."""
    app = Flask("faulty-jwks")
    public = key.as_dict(private=False)

    @app.get("/down")
    def down() -> tuple[str, int]:
        return "maintenance", 503

    @app.get("/html")
    def html() -> str:
        return "<html>not keys</html>"

    @app.get("/huge")
    def huge() -> Response:
        return Response(b'{"keys": [' + b" " * (MAX_JWKS + 1) + b"]}", mimetype="application/json")

    @app.get("/private")
    def private() -> dict[str, object]:
        return {"keys": [key.as_dict(private=True)]}

    @app.get("/moved")
    def moved() -> Response:
        return redirect("/good")  # type: ignore[return-value]

    @app.get("/good")
    def good() -> dict[str, object]:
        return {"keys": [public]}

    port = unused_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join()


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/down", "answered HTTP 503"),
        ("/html", "did not answer a usable JWKS"),
        ("/huge", "more than 64 KiB"),
        ("/private", "holds a private key"),
        ("/moved", "answered a redirect (HTTP 302), which is not followed"),
    ],
)
def test_a_jwks_uri_that_answers_badly_is_invalid_client(
    client: FlaskClient, store: Store, key: ECKey, faulty: str, path: str, words: str
) -> None:
    client_id = _keyed_client(store, jwks_uri=faulty + path)
    description = _refused(_token(client, _assertion(key, client_id)))
    assert "The client's keys cannot be fetched" in description and words in description
    assert "\n" not in description


def test_a_good_jwks_uri_on_the_same_server_works(client: FlaskClient, store: Store, key: ECKey, faulty: str) -> None:
    client_id = _keyed_client(store, jwks_uri=faulty + "/good")
    assert _token(client, _assertion(key, client_id)).status_code == 200


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("https://k.example:99999/jwks", "not a URL"),
        ("https://user@k.example/jwks", "without a user or fragment"),
        ("https://k.example/jwks#keys", "without a user or fragment"),
        ("/jwks", "without a user or fragment"),
        ("http://127.0.0.1/jwks", "must be https://"),  # loopback over http only outside production
    ],
)
def test_jwks_uris_refused_in_production(uri: str, words: str) -> None:
    with pytest.raises(JwksError, match=words):
        check_jwks_uri(uri, production=True)


@pytest.mark.parametrize(
    ("jwks", "words"),
    [
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}] * 21}, "at most 20 keys"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "EC or RSA public key"),
        ({"keys": ["not an object"]}, "EC or RSA public key"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}, "cannot be read"),
    ],
)
def test_key_sets_that_cannot_be_used_say_why(jwks: dict[str, object], words: str) -> None:
    with pytest.raises(JwksError, match=words):
        check_jwks(jwks)
