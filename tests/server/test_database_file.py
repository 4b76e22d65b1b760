"""A SQLite file deleted under a running server: SQLite would make a new, empty one, and the pooled connections
would go on with the deleted one. Every request is 503 instead, ``/readyz`` says not ready, nothing makes the file
again, and the server is back as soon as ``tessera db upgrade`` has made it."""

from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from tessera.config import Settings
from tessera.store import make_engine, upgrade
from tests.conftest import INTROSPECT, TOKEN, RegisteredClient, client_credentials_token, csrf_from, register_client


def _unavailable(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json() == {
        "error": "temporarily_unavailable",
        "error_description": "The server cannot reach its database; try again shortly.",
    }
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Retry-After"] == "1"


def _delete(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)


def test_a_deleted_file_is_503_everywhere_until_db_upgrade_makes_it_again(
    client: FlaskClient, settings: Settings, service: RegisteredClient
) -> None:
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    token = client_credentials_token(client, service)
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.get("/readyz").get_json() == {"status": "ok"}  # the pool holds open connections now

    _delete(database)

    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json() == {"status": "unavailable", "detail": "database unreachable"}
    assert client.get("/healthz").status_code == 200
    _unavailable(client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic))
    _unavailable(client.post(INTROSPECT, data={"token": token}, headers=service.basic))
    login = client.post("/login", data={"username": "alice", "password": "x", "csrf_token": csrf})
    assert login.status_code == 503 and "Temporarily unavailable" in login.get_data(as_text=True)
    assert not database.exists()  # no request made an empty one

    engine = make_engine(settings.database_url)  # what `tessera db upgrade` does
    upgrade(engine)
    engine.dispose()
    assert client.get("/readyz").get_json() == {"status": "ok"}
    assert client.get("/login").status_code == 200


def test_a_replaced_file_is_used_at_once(client: FlaskClient, settings: Settings, store: Any) -> None:
    """A file put back from a backup, or made again, is the database: no pooled connection stays on the old one."""
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    first = register_client(store, name="First", redirect_uris=(), grant_types=("client_credentials",), scope="api")
    assert client.get("/readyz").status_code == 200
    _delete(database)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    second = register_client(store, name="Second", redirect_uris=(), grant_types=("client_credentials",), scope="api")
    issued = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=second.basic)
    assert issued.status_code == 200, issued.get_json()
    assert store.clients.get(first.client_id) is None
