"""oauth4webapi's ``PrivateKeyJwt`` against the server on a real loopback port: a token and an introspection with
assertions signed by the registered key; a key the server does not know is refused."""

import json
import time

from joserfc.jwk import ECKey

from tessera.store import ClientRecord
from tessera.tokens import random_id
from tests.conftest import LiveServer
from tests.node import run_node


def test_oauth4webapi_private_key_jwt(live_server: LiveServer) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    stranger = ECKey.generate_key("P-256", parameters={"kid": "k1"})  # the same kid, another key
    client_id = random_id()
    live_server.store.clients.create(
        ClientRecord(
            client_id, None, "Keyed", (), ("client_credentials",), "api", False, True, int(time.time()),
            auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]},
        )
    )  # fmt: skip
    private = json.dumps(key.as_dict(private=True))
    result = run_node(
        "private_key_jwt.mjs", live_server.base_url, client_id, private, json.dumps(stranger.as_dict(private=True))
    )

    assert result["token_type"].lower() == "bearer" and result["access_token"].startswith("tsr_at_")
    assert result["active"] is True and result["client_id"] == client_id
    assert result["stranger"] == {"error": "invalid_client", "status": 401}
