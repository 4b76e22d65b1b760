"""Fixtures that build the world: settings on a fresh database, the app, its test client, users and clients.

PostgreSQL tests run where ``TESSERA_TEST_POSTGRES_URL`` is set (CI sets it) and are skipped elsewhere; each
test session works in a throwaway database of its own.
"""

import base64
import contextlib
import hashlib
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tessera.app import create_app
from tessera.config import Settings
from tessera.passwords import hash_password
from tessera.store import ClientRecord, Store, make_engine, upgrade
from tessera.tokens import TokenKind, digest, mint, random_id

ISSUER = "http://127.0.0.1:8000"
REDIRECT_URI = "http://127.0.0.1:8002/authorize"
TOKEN = "/oauth/token"
INTROSPECT = "/oauth/introspect"
REVOKE = "/oauth/revoke"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres" in item.keywords and not os.environ.get("TESSERA_TEST_POSTGRES_URL"):
            item.add_marker(pytest.mark.skip(reason="TESSERA_TEST_POSTGRES_URL is not set"))
        if "redis" in item.keywords and not os.environ.get("TESSERA_TEST_REDIS_URL"):
            item.add_marker(pytest.mark.skip(reason="TESSERA_TEST_REDIS_URL is not set"))


class _AuditScan(logging.Handler):
    """Every audit event the suite produces, read for anything that looks like a token, code or client secret
    (they all start ``tsr_<kind>_``) or the tests' usual password."""

    _SECRET = re.compile(r"tsr_(?:at|rt|ac|cs)_|correct horse")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen = 0
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen += 1
        message = record.getMessage()
        if self._SECRET.search(message):
            self.leaks.append(message)


@pytest.fixture(scope="session", autouse=True)
def _audit_events_never_hold_a_secret() -> Iterator[None]:
    logger = logging.getLogger("tessera.audit")
    scan, level = _AuditScan(), logger.level
    logger.addHandler(scan)
    logger.setLevel(logging.INFO)
    yield
    logger.removeHandler(scan)
    logger.setLevel(level)
    assert not scan.leaks, f"{len(scan.leaks)} of {scan.seen} audit events hold a secret: {scan.leaks[:3]}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, dropped at the end."""
    base = os.environ.get("TESSERA_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TESSERA_TEST_POSTGRES_URL is not set")
    name = f"tessera_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def settings_for(database_url: str, **env: str) -> Settings:
    """The tests' settings on ``database_url``; ``env`` adds or overrides ``TESSERA_*`` variables."""
    return Settings.from_env(
        {"TESSERA_DATABASE_URL": database_url, "TESSERA_ISSUER": ISSUER, "TESSERA_SECRET_KEY": "x" * 40, **env}
    )


def app_for(store: Store, database_url: str, **env: str) -> Flask:
    """The authorization server on ``store``, with :func:`settings_for` ``(database_url, **env)``."""
    app = create_app(settings_for(database_url, **env), store=store)
    app.config["TESTING"] = True
    return app


def reset_postgres(url: str) -> None:
    """Empty the session's throwaway PostgreSQL database for the next test."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes this runs on SQLite and, where available, PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tessera.db'}"
    url: str = request.getfixturevalue("postgres_url")
    reset_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tessera.db'}"


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return settings_for(sqlite_url)


@contextlib.contextmanager
def open_store(database_url: str) -> Iterator[Store]:
    """A store on a migrated database, its engine disposed of afterwards."""
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        yield Store(engine)
    finally:
        engine.dispose()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with open_store(settings.database_url) as store:
        yield store


@pytest.fixture
def db_store(database_url: str) -> Iterator[Store]:
    """A store on each database ``database_url`` stands for."""
    with open_store(database_url) as store:
        yield store


class MovableClock:
    """The server's clock in tests: real time, plus however far a test has moved it."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def app(settings: Settings, store: Store, clock: MovableClock) -> Flask:
    app = create_app(settings, store=store, clock=clock)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    secret: str | None
    record: ClientRecord

    @property
    def basic(self) -> dict[str, str]:
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def register_client(
    store: Store,
    *,
    name: str = "Test app",
    redirect_uris: tuple[str, ...] = (REDIRECT_URI,),
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token"),
    scope: str = "api restricted",
    public: bool = False,
    introspect: bool = False,
    require_dpop: bool = False,
    post_logout_redirect_uris: tuple[str, ...] = (),
) -> RegisteredClient:
    secret = None if public else mint(TokenKind.CLIENT_SECRET)
    record = ClientRecord(
        client_id=random_id(),
        secret_digest=digest(secret) if secret else None,
        name=name,
        redirect_uris=redirect_uris,
        grant_types=grant_types,
        scope=scope,
        public=public,
        may_introspect=introspect,
        created_at=int(time.time()),
        require_dpop=require_dpop,
        post_logout_redirect_uris=post_logout_redirect_uris,
    )
    store.clients.create(record)
    return RegisteredClient(record.client_id, secret, record)


@pytest.fixture
def web_client(store: Store) -> RegisteredClient:
    """A confidential client for the authorization-code flow."""
    return register_client(store)


@pytest.fixture
def service(store: Store) -> RegisteredClient:
    """A confidential client_credentials client that may introspect any token."""
    return register_client(
        store, name="Service", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )


@pytest.fixture
def user(store: Store) -> Any:
    return store.users.create("alice", hash_password("correct horse"))


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def login(client: FlaskClient, username: str = "alice", password: str = "correct horse") -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_from(page), "next": "/"}
    )
    assert response.status_code == 303, response.get_data(as_text=True)


def authorize_params(registered: RegisteredClient, challenge: str | None, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": registered.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "api restricted",
        "state": "xyz",
    }
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return params


def get_code(
    client: FlaskClient,
    registered: RegisteredClient,
    challenge: str | None,
    *,
    grant: tuple[str, ...] | None = None,
    **extra: str,
) -> str:
    """Sign in (if needed), consent to ``grant`` (default: everything asked) and return the code."""
    url = "/authorize?" + urlencode(authorize_params(registered, challenge, **extra))
    response = client.get(url)
    if response.status_code == 302 and "/login" in response.headers["Location"]:
        login(client)
        response = client.get(url)
    if response.status_code == 200:
        html = response.get_data(as_text=True)
        requested = authorize_params(registered, challenge, **extra)["scope"].split()
        response = client.post(
            url,
            data={"csrf_token": csrf_from(html), "decision": "allow", "grant_scope": list(grant or requested)},
        )
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert "code" in query, query
    return query["code"][0]


def exchange(client: FlaskClient, registered: RegisteredClient, code: str, verifier: str | None) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier
    headers: dict[str, str] = {}
    if registered.secret:
        headers = registered.basic
    else:
        data["client_id"] = registered.client_id
    return client.post(TOKEN, data=data, headers=headers)


# Redis: revocation events, rate-limit counters


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis (``TESSERA_TEST_REDIS_URL``); tests that take it are skipped without it."""
    url = os.environ.get("TESSERA_TEST_REDIS_URL")
    if not url:
        pytest.skip("TESSERA_TEST_REDIS_URL is not set")
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"tessera-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    conn = redis.Redis.from_url(redis_url)
    keys = list(conn.scan_iter(f"{prefix}:*"))
    if keys:
        conn.delete(*keys)
    conn.close()


@pytest.fixture
def revocation_channel() -> Iterator[str]:
    """A channel (and stream) of this test's own, so parallel runs on one Redis never hear each other; the
    stream is deleted afterwards."""
    channel = f"tessera:test:{uuid.uuid4().hex}"
    yield channel
    url = os.environ.get("TESSERA_TEST_REDIS_URL")
    if url:
        import redis

        conn = redis.Redis.from_url(url)
        conn.delete(channel)
        conn.close()


class ChannelListener:
    """Hears what is published on one channel, from the moment the fixture subscribed."""

    def __init__(self, url: str, channel: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(channel)
        self._pubsub.get_message(timeout=2.0)  # the subscription confirmation: we are listening from here on

    def next_payload(self, timeout: float = 2.0) -> bytes | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self._pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "message":
                data: bytes = message["data"]
                return data
        return None

    def close(self) -> None:
        self._pubsub.close()
        self._redis.close()


@pytest.fixture
def channel_listener(redis_url: str, revocation_channel: str) -> Iterator[ChannelListener]:
    listener = ChannelListener(redis_url, revocation_channel)
    yield listener
    listener.close()


def unused_port() -> int:
    """A loopback port where nothing listens (free a moment ago)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def client_credentials_token(client: FlaskClient, registered: RegisteredClient, scope: str = "api") -> str:
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "scope": scope}, headers=registered.basic)
    assert response.status_code == 200, response.get_data(as_text=True)
    token: str = response.json["access_token"]  # type: ignore[index]
    return token


@dataclass
class LiveServer:
    """The authorization server on a real loopback socket (a thread of this process), its issuer its own URL."""

    base_url: str
    store: Store
    app: Flask


@pytest.fixture
def live_server(store: Store, sqlite_url: str) -> Iterator[LiveServer]:
    """For third-party clients that must reach the server over HTTP, e.g. the JavaScript ones in tests/js."""
    from werkzeug.serving import make_server

    port = unused_port()
    base_url = f"http://127.0.0.1:{port}"
    app = app_for(store, sqlite_url, TESSERA_ISSUER=base_url)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(base_url, store, app)
    finally:
        server.shutdown()
        thread.join()
