"""What the database holds: digests of tokens, codes and secrets, never the values; argon2id password hashes;
and a SQLite engine set up for Tessera (WAL, foreign keys)."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from tessera.app import create_app
from tessera.config import Settings
from tessera.passwords import hash_password
from tessera.store import Store, make_engine, upgrade
from tessera.tokens import TokenKind, digest, mint, parse, random_id
from tests.conftest import (
    TOKEN,
    RegisteredClient,
    exchange,
    get_code,
    open_store,
    pkce_pair,
    register_client,
    reset_postgres,
    settings_for,
)
from tests.device import device_client, start
from tests.session_cookie import session_secret

PASSWORD = "correct horse"


@dataclass
class Issued:
    """Every raw secret value handed out while exercising the server."""

    values: dict[str, str] = field(default_factory=dict)
    #: the secret in the sign-in session's cookie (not a token: checked apart)
    session: str = ""
    #: a device grant's user code, as shown (``BCDF-GHJK``)
    user_code: str = ""

    def add(self, label: str, value: str | None) -> None:
        assert value, label
        self.values[label] = value


def _issue_everything(client: FlaskClient, store: Store) -> Issued:
    """Client secrets, client_credentials tokens, codes (redeemed and not), access and refresh tokens, a rotation,
    a device code and its user code."""
    issued = Issued()
    service = register_client(
        store, name="Service", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )
    web = register_client(store)
    issued.add("service secret", service.secret)
    issued.add("web secret", web.secret)
    store.users.create("alice", hash_password(PASSWORD))

    for n in range(2):
        response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
        assert response.status_code == 200, response.json
        issued.add(f"client_credentials access {n}", response.json["access_token"])

    verifier, challenge = pkce_pair()
    code = get_code(client, web, challenge)
    issued.add("redeemed code", code)
    issued.session = session_secret(client)
    tokens = exchange(client, web, code, verifier).json
    issued.add("access", tokens["access_token"])
    issued.add("refresh", tokens["refresh_token"])

    rotated = _refresh(client, web, tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.json
    issued.add("rotated access", rotated.json["access_token"])
    issued.add("rotated refresh", rotated.json["refresh_token"])

    _, challenge = pkce_pair()
    issued.add("unredeemed code", get_code(client, web, challenge, scope="api"))

    device = start(client, device_client(store))
    issued.add("device code", device["device_code"])
    issued.user_code = device["user_code"]
    for label, value in issued.values.items():
        parse(value)  # all real tokens: the test would prove nothing about made-up strings
        assert len(value) > 40, label
    return issued


def _refresh(client: FlaskClient, registered: RegisteredClient, refresh_token: str) -> Any:
    return client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh_token}, headers=registered.basic
    )


def _assert_only_digests(haystack: bytes, issued: Issued) -> None:
    for label, value in issued.values.items():
        assert value.encode() not in haystack, f"the raw {label} is stored"
        # the body alone would do as well as the whole token to an attacker
        assert value[len("tsr_at_") : -6].encode() not in haystack, f"the raw {label} body is stored"
        assert digest(value).encode() in haystack, f"the digest of the {label} is not stored"
    assert PASSWORD.encode() not in haystack
    assert issued.session.encode() not in haystack, "the raw session secret is stored"
    assert digest(issued.session).encode() in haystack, "the digest of the session secret is not stored"
    for shown in (issued.user_code, issued.user_code.replace("-", "")):
        assert shown.encode() not in haystack, "the raw user code is stored"


# SQLite


def _sqlite_bytes(settings: Settings) -> bytes:
    path = Path(make_url(settings.database_url).database or "")
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def test_sqlite_file_holds_digests_never_tokens_codes_or_secrets(
    client: FlaskClient, store: Store, settings: Settings
) -> None:
    issued = _issue_everything(client, store)
    wal = Path(make_url(settings.database_url).database or "").with_name("tessera.db-wal")
    assert wal.exists()  # the recent writes are in the WAL: read both
    _assert_only_digests(_sqlite_bytes(settings), issued)
    # and the same once everything is checkpointed into the main file
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    _assert_only_digests(_sqlite_bytes(settings), issued)


def test_passwords_are_stored_as_argon2id(store: Store, user: Any) -> None:
    stored = store.users.by_name("alice")
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert "correct horse" not in stored.password_hash
    # salted: the same password never hashes the same way twice
    assert store.users.create("bob", hash_password("correct horse")).password_hash != stored.password_hash


def test_sqlite_engine_uses_wal_and_foreign_keys(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() > 0


def test_sqlite_enforces_foreign_keys(store: Store) -> None:
    now = int(time.time())
    orphan = {"a": digest(mint(TokenKind.ACCESS)), "c": "no-such-client", "g": random_id(), "now": now}
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tokens (access_digest, client_id, scope, grant_id, issued_at, expires_at) "
                "VALUES (:a, :c, 'api', :g, :now, :now + 60)"
            ),
            orphan,
        )
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tokens")).scalar_one() == 0


def test_every_connection_of_the_pool_is_configured(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        engine.dispose()


# PostgreSQL


@pytest.fixture
def pg_settings(postgres_url: str) -> Settings:
    reset_postgres(postgres_url)
    return settings_for(postgres_url)


@pytest.fixture
def pg_store(pg_settings: Settings) -> Iterator[Store]:
    with open_store(pg_settings.database_url) as store:
        yield store


def _pg_dump(database_url: str) -> bytes:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is not on PATH")
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = [pg_dump, "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    result = subprocess.run([*args, url.database or ""], env=env, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


@pytest.mark.postgres
def test_postgres_dump_holds_digests_never_tokens_codes_or_secrets(pg_settings: Settings, pg_store: Store) -> None:
    app = create_app(pg_settings, store=pg_store)
    app.config["TESTING"] = True
    issued = _issue_everything(app.test_client(), pg_store)
    dump = _pg_dump(pg_settings.database_url)
    assert b"COPY public.tokens" in dump  # the data is in the dump, not only the schema
    _assert_only_digests(dump, issued)


@pytest.mark.postgres
def test_postgres_passwords_are_stored_as_argon2id(pg_store: Store) -> None:
    pg_store.users.create("alice", hash_password(PASSWORD))
    stored = pg_store.users.by_name("alice")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
