"""oauth4webapi, a strict JavaScript OAuth client, reads and validates the server's metadata."""

from tests.conftest import LiveServer
from tests.node import run_node


def test_oauth4webapi_accepts_the_metadata(live_server: LiveServer) -> None:
    metadata = run_node("discovery.mjs", live_server.base_url)

    assert metadata["issuer"] == live_server.base_url
    assert metadata["token_endpoint"] == f"{live_server.base_url}/oauth/token"
