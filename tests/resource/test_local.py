"""LocalSource: the authorization server's database read directly, on SQLite and PostgreSQL."""

import logging
import time
from contextlib import closing
from pathlib import Path

import pytest

from tessera.passwords import hash_password
from tessera.resource import LocalSource, ServerUnavailable, TokenValidator
from tessera.store import NewToken, Store
from tessera.tokens import TokenKind, digest, mint, random_id
from tests.conftest import register_client


def _issue(store: Store, client_id: str, user_id: int | None, *, scope: str = "api", expires_in: int = 3600) -> str:
    token = mint(TokenKind.ACCESS)
    now = int(time.time())
    store.tokens.insert(
        NewToken(digest(token), None, client_id, user_id, scope, random_id(), now, now + expires_in, None)
    )
    return token


def test_a_users_token(db_store: Store) -> None:
    client = register_client(db_store)
    alice = db_store.users.create("alice", hash_password("pw"))
    token = _issue(db_store, client.client_id, alice.id, scope="api restricted")
    found = LocalSource(db_store.tokens).lookup(token, digest(token))
    assert found is not None
    assert (found.subject, found.username, found.client_id) == (alice.subject, "alice", client.client_id)
    assert len(alice.subject) == 22 and alice.subject != str(alice.id)
    assert found.scopes == {"api", "restricted"} and found.digest == digest(token)
    assert found.expires_at > time.time()


def test_a_client_credentials_token_has_the_client_as_subject(db_store: Store) -> None:
    client = register_client(db_store, grant_types=("client_credentials",), redirect_uris=())
    token = _issue(db_store, client.client_id, None)
    found = LocalSource(db_store.tokens).lookup(token, digest(token))
    assert found is not None and found.subject == client.client_id and found.username is None


def test_unknown_revoked_and_expired_tokens_are_not_active(db_store: Store) -> None:
    client = register_client(db_store)
    source = LocalSource(db_store.tokens)
    unknown = mint(TokenKind.ACCESS)
    assert source.lookup(unknown, digest(unknown)) is None
    expired = _issue(db_store, client.client_id, None, expires_in=-1)
    assert source.lookup(expired, digest(expired)) is None
    revoked = _issue(db_store, client.client_id, None)
    assert digest(revoked) in db_store.tokens.revoke_for_client(client.client_id)
    assert source.lookup(revoked, digest(revoked)) is None


def test_through_the_validator_from_a_url(sqlite_url: str, store: Store) -> None:
    client = register_client(store)
    token = _issue(store, client.client_id, None)
    source = LocalSource.from_url(sqlite_url)
    with closing(source):
        assert TokenValidator(source).validate(f"Bearer {token}", ["api"]).client_id == client.client_id


def test_a_database_that_cannot_be_reached_is_503_said_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = LocalSource.from_url(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'tessera.db'}")
    token = mint(TokenKind.ACCESS)
    with closing(source), caplog.at_level(logging.WARNING, logger="tessera.resource"):
        for _ in range(3):
            with pytest.raises(ServerUnavailable) as caught:
                source.lookup(token, digest(token))
    assert caught.value.status_code == 503
    assert caplog.text.count("local token source") == 1
    assert token not in caplog.text and digest(token)[:8] not in caplog.text


def test_a_database_without_the_schema_is_503_too(sqlite_url: str) -> None:
    source = LocalSource.from_url(sqlite_url)
    token = mint(TokenKind.ACCESS)
    with closing(source), pytest.raises(ServerUnavailable, match="reach"):
        source.lookup(token, digest(token))


@pytest.mark.parametrize("prepared", [True, False])
def test_prepared_statements_can_be_turned_off_for_a_pooler(postgres_url: str, prepared: bool) -> None:
    """Behind a pooler in transaction mode a prepared statement is lost between transactions: the source can be
    told never to prepare, as the server can."""
    from tessera.store import upgrade

    source = LocalSource.from_url(postgres_url, prepared_statements=prepared)
    assert source._owned is not None
    engine = source._owned.engine
    upgrade(engine)
    for _ in range(10):
        assert source.lookup("no-such-token", "no-such-digest") is None
    with engine.connect() as conn:  # the one connection the lookups ran on, one after another
        statements = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars().all()
    assert any("FROM tokens" in s for s in statements) is prepared, statements
    source.close()
