"""The ``tessera`` command (everything but ``serve`` and ``demo``), in-process with click's runner against a
temporary SQLite database, and a few times as the real installed executable."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tessera.app import create_app
from tessera.cli import main
from tessera.config import Settings
from tessera.passwords import hash_password, verify_password
from tessera.store import NewToken, Store, make_engine
from tessera.tokens import TokenKind, digest, mint, parse, random_id
from tests.conftest import (
    INTROSPECT,
    ISSUER,
    REDIRECT_URI,
    TOKEN,
    RegisteredClient,
    exchange,
    get_code,
    login,
    pkce_pair,
)

TESSERA = Path(sys.executable).with_name("tessera")


def _clean_environ() -> dict[str, str | None]:
    """Unset every TESSERA_* variable of the calling shell, so only what a test sets counts."""
    return {name: None for name in os.environ if name.startswith("TESSERA_") and not name.startswith("TESSERA_TEST_")}


@dataclass
class Cli:
    env: dict[str, str | None]

    def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        return CliRunner().invoke(main, list(args), input=input, env={**self.env, **env})

    def ok(self, *args: str, input: str | None = None, **env: str) -> Result:
        result = self(*args, input=input, **env)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        result = self.ok(*args, "--json")
        assert result.stderr == ""
        return json.loads(result.stdout)  # the whole of stdout is one JSON document

    def fails(self, *args: str, input: str | None = None, usage: bool = False, **env: str) -> str:
        """Run a command that must fail: non-zero, no traceback, a short error on stderr (returned)."""
        result = self(*args, input=input, **env)
        assert result.exit_code != 0, result.stdout
        # an unexpected exception inside the runner would be here instead of SystemExit
        assert isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        if usage:  # click's own usage errors: "Usage: ...", "Try ...", "Error: ..."
            assert 1 <= len(lines) <= 4 and lines[-1].startswith("Error:"), lines
        else:
            assert len(lines) == 1 and lines[0].startswith("Error: "), lines
            assert len(lines[0]) < 200
        return lines[-1]


@pytest.fixture
def cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)  # the CLI reads ./.env: keep any stray one out of the way
    return Cli(
        {
            **_clean_environ(),
            "TESSERA_DATABASE_URL": settings.database_url,
            "TESSERA_ISSUER": ISSUER,
            "TESSERA_SECRET_KEY": "x" * 40,
        }
    )


def _insert_token(
    store: Store, client_id: str, user_id: int | None = None, *, expires_in: int = 3600, refresh: bool = False
) -> tuple[str, str | None, str]:
    """Store an access (and refresh) token as the grants do; return the token, refresh token and grant id."""
    now = int(time.time())
    access, refresh_token, grant_id = mint(TokenKind.ACCESS), mint(TokenKind.REFRESH) if refresh else None, random_id()
    store.tokens.insert(
        NewToken(
            access_digest=digest(access),
            refresh_digest=digest(refresh_token) if refresh_token else None,
            client_id=client_id,
            user_id=user_id,
            scope="api",
            grant_id=grant_id,
            issued_at=now - 10,
            expires_at=now + expires_in,
            refresh_expires_at=now + 86_400 if refresh_token else None,
        )
    )
    return access, refresh_token, grant_id


def _client_credentials(client: FlaskClient, client_id: str, secret: str) -> Any:
    return client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(client_id, secret))


def _introspect(client: FlaskClient, service: RegisteredClient, token: str) -> Any:
    response = client.post(INTROSPECT, data={"token": token}, headers=service.basic)
    assert response.status_code == 200
    return response.json


# db


def test_db_upgrade_creates_the_schema_and_is_idempotent(cli: Cli, settings: Settings) -> None:
    assert cli.ok("db", "upgrade").stdout.startswith("Created the schema (revision ")
    assert cli.ok("db", "upgrade").stdout.startswith("The schema is up to date (revision ")
    engine = make_engine(settings.database_url)
    try:
        store = Store(engine)
        assert store.users.all() == [] and store.clients.all() == []
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        engine.dispose()


def test_commands_before_db_upgrade_say_what_to_do(cli: Cli) -> None:
    assert "tessera db upgrade" in cli.fails("users", "list")


def test_only_db_upgrade_creates_the_database_file(cli: Cli, settings: Settings) -> None:
    path = settings.database_url.removeprefix("sqlite:///")
    for args in (["users", "list"], ["users", "create", "bob", "--password-stdin"], ["tokens", "purge"]):
        error = cli.fails(*args, input="pw\n")
        assert error == f"Error: the database file {path} does not exist: run `tessera db upgrade`"
    assert not Path(path).exists()
    cli.ok("db", "upgrade")
    assert oct(Path(path).stat().st_mode & 0o777) == "0o600"


def test_dotenv_in_the_working_directory_is_read_and_the_environment_wins(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TESSERA_ACCESS_TOKEN_TTL=abc\n", encoding="utf-8")
    assert "TESSERA_ACCESS_TOKEN_TTL" in cli.fails("db", "upgrade")
    cli.ok("db", "upgrade", TESSERA_ACCESS_TOKEN_TTL="60")


# users


def test_users_create_reads_the_password_from_stdin(cli: Cli, store: Store) -> None:
    result = cli.ok("users", "create", "bob", "--password-stdin", input="open sesame\n")
    assert "bob" in result.stdout and "open sesame" not in result.output
    user = store.users.by_name("bob")
    assert user is not None and not user.disabled
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "open sesame")
    assert not verify_password(user.password_hash, "open sesame\n")


def test_users_create_prompts_for_the_password_twice(cli: Cli, store: Store) -> None:
    result = cli.ok("users", "create", "carol", input="pass phrase\npass phrase\n")
    assert result.stdout.count("Password") == 1 and "Repeat" in result.stdout  # hidden input, asked twice
    assert "pass phrase" not in result.output
    user = store.users.by_name("carol")
    assert user is not None and verify_password(user.password_hash, "pass phrase")


def test_duplicate_user_fails_with_one_line(cli: Cli, store: Store) -> None:
    cli.ok("users", "create", "bob", "--password-stdin", input="violet kettle drum\n")
    error = cli.fails("users", "create", "bob", "--password-stdin", input="amber paper lantern\n")
    assert "bob" in error and "exists" in error
    user = store.users.by_name("bob")
    assert user is not None and verify_password(user.password_hash, "violet kettle drum")


@pytest.mark.parametrize(
    ("username", "password"),
    [("bob", "\n"), ("bob", ""), (" bob", "pw\n"), ("bob ", "pw\n"), ("", "pw\n"), ("b" * 151, "pw\n")],
)
def test_users_create_refuses_bad_input(cli: Cli, store: Store, username: str, password: str) -> None:
    cli.fails("users", "create", username, "--password-stdin", input=password)
    assert store.users.all() == []


def test_users_list_and_json(cli: Cli, store: Store) -> None:
    assert cli.ok("users", "list").stdout == ""
    assert cli.json("users", "list") == []
    for name in ("bob", "alice"):
        cli.ok("users", "create", name, "--password-stdin", input="violet kettle drum\n")
    cli.ok("users", "disable", "bob")
    assert cli.ok("users", "list").stdout.splitlines() == ["alice", "bob  (disabled)"]
    listed = cli.json("users", "list")
    assert [(u["username"], u["disabled"]) for u in listed] == [("alice", False), ("bob", True)]
    assert all(isinstance(u["created_at"], int) for u in listed)
    assert "argon2" not in json.dumps(listed)


def test_users_disable_revokes_the_users_tokens(
    cli: Cli,
    client: FlaskClient,
    store: Store,
    web_client: RegisteredClient,
    service: RegisteredClient,
    user: Any,
) -> None:
    verifier, challenge = pkce_pair()
    tokens = exchange(client, web_client, get_code(client, web_client, challenge), verifier).json
    assert _introspect(client, service, tokens["access_token"])["active"] is True
    other_user = store.users.create("bob", "not-a-real-hash")
    others, _, _ = _insert_token(store, web_client.client_id, other_user.id)

    result = cli.ok("users", "disable", "alice")
    assert "Revoked 1 token pair (access and refresh tokens)." in result.stdout

    assert store.tokens.active(digest(tokens["access_token"])) is None
    assert _introspect(client, service, tokens["access_token"]) == {"active": False}
    refreshed = client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=web_client.basic,
    )
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    disabled = store.users.by_name("alice")
    assert disabled is not None and disabled.disabled
    assert store.tokens.active(digest(others)) is not None  # someone else's token is untouched


def test_users_disable_unknown_user_fails(cli: Cli, store: Store) -> None:
    assert "nobody" in cli.fails("users", "disable", "nobody")


def _signed_in_as(client: FlaskClient) -> str | None:
    response = client.get("/")
    if response.status_code != 200:
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        return None
    page = response.get_data(as_text=True)
    return page.split("You are signed in to Tessera as <strong>", 1)[1].split("<", 1)[0]


def test_users_disable_signs_the_user_out(cli: Cli, app: Flask, client: FlaskClient, store: Store, user: Any) -> None:
    store.users.create("bob", hash_password("bob's password"))
    bobs = app.test_client()
    login(client)
    login(bobs, "bob", "bob's password")
    assert "signed them out" in cli.ok("users", "disable", "alice").stdout
    assert _signed_in_as(client) is None
    assert _signed_in_as(bobs) == "bob"


def test_users_set_password_signs_out_and_revokes_every_token(
    cli: Cli,
    app: Flask,
    client: FlaskClient,
    store: Store,
    web_client: RegisteredClient,
    service: RegisteredClient,
    user: Any,
) -> None:
    verifier, challenge = pkce_pair()
    tokens = exchange(client, web_client, get_code(client, web_client, challenge), verifier).json  # signs alice in
    bob = store.users.create("bob", hash_password("bob's password"))
    bobs = app.test_client()
    login(bobs, "bob", "bob's password")
    bobs_token, _, _ = _insert_token(store, web_client.client_id, bob.id)
    assert _signed_in_as(client) == "alice"

    result = cli.ok("users", "set-password", "alice", "--password-stdin", input="battery staple\n")
    assert result.stdout == (
        "Set the password of alice and signed them out. Revoked 1 token pair (access and refresh tokens).\n"
    )
    assert "battery staple" not in result.output

    assert _signed_in_as(client) is None
    assert _introspect(client, service, tokens["access_token"]) == {"active": False}
    refreshed = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, headers=web_client.basic
    )
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    alice = store.users.by_name("alice")
    assert alice is not None and not alice.disabled and alice.password_hash.startswith("$argon2id$")
    assert verify_password(alice.password_hash, "battery staple")
    assert not verify_password(alice.password_hash, "correct horse")
    login(client, password="battery staple")
    assert _signed_in_as(client) == "alice"
    # nobody else is touched
    assert _signed_in_as(bobs) == "bob"
    assert store.tokens.active(digest(bobs_token)) is not None


def test_users_set_password_prompts_twice(cli: Cli, store: Store, user: Any) -> None:
    result = cli.ok("users", "set-password", "alice", input="pass phrase\npass phrase\n")
    assert result.stdout.count("New password") == 1 and "Repeat" in result.stdout  # hidden input, asked twice
    assert "pass phrase" not in result.output
    alice = store.users.by_name("alice")
    assert alice is not None and verify_password(alice.password_hash, "pass phrase")


def test_users_set_password_refuses_an_empty_password_and_changes_nothing(
    cli: Cli, client: FlaskClient, store: Store, web_client: RegisteredClient, user: Any
) -> None:
    login(client)
    access, _, _ = _insert_token(store, web_client.client_id, user.id)
    assert "empty" in cli.fails("users", "set-password", "alice", "--password-stdin", input="\n")
    alice = store.users.by_name("alice")
    assert alice is not None and alice.password_hash == user.password_hash
    assert _signed_in_as(client) == "alice"
    assert store.tokens.active(digest(access)) is not None


def test_users_set_password_of_an_unknown_user_fails_before_asking(cli: Cli, store: Store) -> None:
    result = cli("users", "set-password", "nobody", input="secret\nsecret\n")
    assert result.exit_code == 1 and result.stderr == "Error: no user 'nobody'\n"
    assert "password" not in result.stdout.lower()
    assert "nobody" in cli.fails("users", "set-password", "nobody", "--password-stdin", input="secret\n")


def test_users_create_stores_the_normal_form_and_says_so(cli: Cli, store: Store) -> None:
    assert cli.ok("users", "create", "ＢＯＢ", "--password-stdin", input="violet kettle drum\n").stdout == (
        "Created user bob (the normal form of 'ＢＯＢ').\n"
    )
    error = cli.fails("users", "create", "Bob", "--password-stdin", input="violet kettle drum\n")
    assert error == "Error: user 'bob' already exists"
    mixed = cli.fails("users", "create", "b\u043eb", "--password-stdin", input="pw\n")
    assert mixed == (
        "Error: the username mixes Latin and Cyrillic letters: write it in one script, so that it cannot pass for "
        "another name"
    )
    assert [u.username for u in store.users.all()] == ["bob"]


def test_users_list_escapes_what_a_terminal_would_act_on(cli: Cli, store: Store) -> None:
    # names a database from before the username rules may hold: an escape sequence, a right-to-left override
    store.users.create("mallory\x1b[2J\x1b]0;owned\x07", "not-a-real-hash")
    store.users.create("admin\u202egnp.exe", "not-a-real-hash")
    store.users.create("zoë", "not-a-real-hash")
    listed = cli.ok("users", "list").stdout
    assert listed.splitlines() == ["admin\\u202egnp.exe", "mallory\\x1b[2J\\x1b]0;owned\\x07", "zoë"]
    assert listed.isascii() is False and all(ch.isprintable() for ch in listed.replace("\n", ""))
    assert [u["username"] for u in cli.json("users", "list")][1] == "mallory\x1b[2J\x1b]0;owned\x07"


def test_users_are_found_by_any_case_or_width(cli: Cli, store: Store, web_client: RegisteredClient, user: Any) -> None:
    access, _, _ = _insert_token(store, web_client.client_id, user.id)
    assert cli.ok("tokens", "revoke", "--user", "ALICE").stdout == "Revoked 1 token pair (access and refresh tokens).\n"
    assert store.tokens.active(digest(access)) is None
    assert cli.ok("users", "disable", "ａｌｉｃｅ").stdout == "Disabled alice and signed them out. Nothing to revoke.\n"
    disabled = store.users.by_name("alice")
    assert disabled is not None and disabled.disabled


def test_users_rename_keeps_the_password_and_checks_the_new_name(
    cli: Cli, store: Store, web_client: RegisteredClient, user: Any
) -> None:
    access, _, _ = _insert_token(store, web_client.client_id, user.id)
    store.users.create("bob", "not-a-real-hash")
    store.users.create("Carol", "not-a-real-hash")  # stored before names were normalised
    assert "mixes" in cli.fails("users", "rename", "alice", "\u0430lice")
    assert "'bob' already exists" in cli.fails("users", "rename", "alice", "BOB")
    assert "no user 'nobody'" in cli.fails("users", "rename", "nobody", "dave")
    assert cli.ok("users", "rename", "Carol", "Caroline").stdout == "Renamed Carol to caroline.\n"
    assert cli.ok("users", "rename", "ALICE", "Alicia").stdout == "Renamed alice to alicia.\n"
    renamed = store.users.by_name("alicia")
    assert renamed is not None and renamed.id == user.id and verify_password(renamed.password_hash, "correct horse")
    assert store.tokens.active(digest(access)) is not None
    assert sorted(u.username for u in store.users.all()) == ["alicia", "bob", "caroline"]


# clients


def test_clients_create_with_a_redirect_uri_defaults_to_the_code_flow(cli: Cli, store: Store) -> None:
    created = cli.json("clients", "create", "--name", "Web app", "--redirect-uri", REDIRECT_URI)
    assert created["grant_types"] == ["authorization_code", "refresh_token"]
    assert created["redirect_uris"] == [REDIRECT_URI]
    assert created["scope"] == "api"
    assert created["public"] is False and created["introspect"] is False
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    assert parse(created["client_secret"]) is TokenKind.CLIENT_SECRET
    record = store.clients.get(created["client_id"])
    assert record is not None
    assert record.secret_digest == digest(created["client_secret"])
    assert record.grant_types == ("authorization_code", "refresh_token")
    assert record.name == "Web app" and record.scope == "api"


def test_clients_create_without_a_redirect_uri_defaults_to_client_credentials(cli: Cli, store: Store) -> None:
    cli.ok("scopes", "create", "restricted", "--description", "Reach restricted parts of the API")
    created = cli.json("clients", "create", "--name", "Service", "--scope", "api  restricted api")
    assert created["grant_types"] == ["client_credentials"]
    assert created["redirect_uris"] == []
    assert created["scope"] == "api restricted"
    record = store.clients.get(created["client_id"])
    assert record is not None and record.grant_types == ("client_credentials",)


def test_clients_create_with_private_key_jwt(cli: Cli, store: Store, tmp_path: Path) -> None:
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    created = cli.json(
        "clients", "create", "--name", "Keyed", "--auth-method", "private_key_jwt", "--jwks-file", str(jwks)
    )
    assert "client_secret" not in created and created["token_endpoint_auth_method"] == "private_key_jwt"
    record = store.clients.get(created["client_id"])
    assert record is not None and record.secret_digest is None and record.jwks == json.loads(jwks.read_text())
    by_uri = cli.json(
        "clients", "create", "--name", "Remote", "--auth-method", "private_key_jwt", "--jwks-uri", "https://k.example/j"
    )
    assert by_uri["jwks_uri"] == "https://k.example/j"
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    for args, says in (
        (["--jwks-file", str(private)], "private key"),
        (["--jwks-file", str(tmp_path / "missing.json")], "missing.json"),
        ([], "jwks"),
        (["--jwks-uri", "ftp://k.example/j"], "https://"),
    ):
        assert says in cli.fails("clients", "create", "--name", "Bad", "--auth-method", "private_key_jwt", *args)
    assert len(store.clients.all()) == 2


def test_clients_create_and_update_require_dpop(cli: Cli, store: Store) -> None:
    created = cli.json("clients", "create", "--name", "Service", "--require-dpop")
    assert created["dpop_bound_access_tokens"] is True
    record = store.clients.get(created["client_id"])
    assert record is not None and record.require_dpop
    assert "DPoP required" in cli.ok("clients", "list").stdout
    updated = cli.json("clients", "update", created["client_id"], "--no-require-dpop")
    assert updated["dpop_bound_access_tokens"] is False
    plain = cli.json("clients", "create", "--name", "Other")
    assert plain["dpop_bound_access_tokens"] is False


def test_clients_create_prints_the_secret_once_without_json(cli: Cli, store: Store) -> None:
    output = cli.ok("clients", "create", "--name", "Service").stdout
    (record,) = store.clients.all()
    assert record.client_id in output
    secret = next(word for word in output.split() if word.startswith("tsr_cs_"))
    assert digest(secret) == record.secret_digest


def test_clients_create_public(cli: Cli, store: Store) -> None:
    created = cli.json("clients", "create", "--name", "SPA", "--redirect-uri", REDIRECT_URI, "--public")
    assert "client_secret" not in created
    assert created["public"] is True and created["token_endpoint_auth_method"] == "none"
    record = store.clients.get(created["client_id"])
    assert record is not None and record.public and record.secret_digest is None


def test_clients_create_introspect(cli: Cli, store: Store) -> None:
    created = cli.json("clients", "create", "--name", "API", "--introspect")
    assert created["introspect"] is True
    record = store.clients.get(created["client_id"])
    assert record is not None and record.may_introspect


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--redirect-uri", "/callback"], id="relative"),
        pytest.param(["--redirect-uri", "app.example/cb"], id="no-scheme"),
        pytest.param(["--redirect-uri", "https://app.example/cb#done"], id="fragment"),
        pytest.param(["--redirect-uri", "https://app.example/cb#"], id="empty-fragment"),
        pytest.param(["--redirect-uri", "ftp://app.example/cb"], id="ftp"),
        pytest.param(["--redirect-uri", "javascript:alert(1)"], id="javascript"),
        pytest.param(["--redirect-uri", "http:///cb"], id="no-host"),
        pytest.param(["--redirect-uri", REDIRECT_URI, "--redirect-uri", "/cb"], id="second-is-bad"),
        pytest.param(["--scope", ""], id="empty-scope"),
        pytest.param(["--scope", '"api"'], id="quoted-scope"),
        pytest.param(["--grant-type", "authorization_code"], id="code-without-redirect"),
        pytest.param(["--public"], id="public-client-credentials"),
        pytest.param(["--public", "--redirect-uri", REDIRECT_URI, "--introspect"], id="public-introspect"),
        pytest.param(["--name", " "], id="blank-name"),
    ],
)
def test_clients_create_refuses_bad_input(cli: Cli, store: Store, args: list[str]) -> None:
    cli.fails("clients", "create", "--name", "App", *args)
    assert store.clients.all() == []


def test_production_accepts_http_redirect_uris_only_on_loopback(cli: Cli, store: Store) -> None:
    """RFC 9700 §2.6: a code sent over plain http to another host crosses the network in clear."""
    error = cli.fails(
        "clients", "create", "--name", "App", "--redirect-uri", "http://app.example/cb", TESSERA_ENV="production"
    )
    assert "https://" in error and store.clients.all() == []
    for uri in ("https://app.example/cb", "http://127.0.0.1:9000/cb", "http://[::1]/cb", "http://localhost/cb"):
        cli.ok("clients", "create", "--name", "App", "--redirect-uri", uri, TESSERA_ENV="production")
    # development is for trying things out: plain http anywhere
    cli.ok("clients", "create", "--name", "Dev", "--redirect-uri", "http://app.example/cb")
    assert len(store.clients.all()) == 5


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--grant-type", "password"], id="unknown-grant-type"),
        pytest.param([], id="no-name"),
        pytest.param(["--name", "App", "--bogus"], id="unknown-option"),
    ],
)
def test_clients_create_usage_errors(cli: Cli, store: Store, args: list[str]) -> None:
    cli.fails("clients", "create", *args, usage=True)
    assert store.clients.all() == []


def test_clients_update_changes_what_is_given_and_keeps_the_rest(cli: Cli, store: Store) -> None:
    created = cli.json("clients", "create", "--name", "App", "--redirect-uri", REDIRECT_URI, "--scope", "api")
    client_id = created["client_id"]
    cli.ok("scopes", "create", "restricted", "--description", "Reach restricted parts of the API")
    updated = cli.json(
        "clients", "update", client_id, "--name", "Renamed", "--scope", "api restricted",
        "--redirect-uri", "http://127.0.0.1:9000/cb", "--redirect-uri", REDIRECT_URI,
    )  # fmt: skip
    assert updated == {
        **{k: v for k, v in created.items() if k != "client_secret"},
        "name": "Renamed",
        "scope": "api restricted",
        "redirect_uris": ["http://127.0.0.1:9000/cb", REDIRECT_URI],
    }
    record = store.clients.get(client_id)
    assert record is not None and record.name == "Renamed" and record.scope == "api restricted"
    assert record.secret_digest is not None and record.created_at == created_at(store, client_id)
    cli.ok("clients", "update", client_id, "--introspect")
    assert cli.json("clients", "list")[0]["introspect"] is True
    cli.ok("clients", "update", client_id, "--no-introspect")
    assert cli.json("clients", "list")[0]["introspect"] is False
    assert cli.ok("clients", "update", client_id).stdout == f"Updated {client_id}.\n"


def created_at(store: Store, client_id: str) -> int:
    record = store.clients.get(client_id)
    assert record is not None
    return record.created_at


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--redirect-uri", "https://app.example/cb#x"], id="fragment"),
        pytest.param(["--scope", '"api"'], id="quoted-scope"),
        pytest.param(["--name", " "], id="blank-name"),
        pytest.param(["--grant-type", "client_credentials", "--introspect"], id="then-public-rules-hold"),
    ],
)
def test_clients_update_refuses_what_create_would_refuse_and_changes_nothing(
    cli: Cli, store: Store, args: list[str]
) -> None:
    public = cli.json("clients", "create", "--name", "SPA", "--public", "--redirect-uri", REDIRECT_URI)
    before = store.clients.get(public["client_id"])
    cli.fails("clients", "update", public["client_id"], *args)
    assert store.clients.get(public["client_id"]) == before


def test_clients_update_of_an_unknown_client_fails(cli: Cli, store: Store) -> None:
    assert "no client" in cli.fails("clients", "update", "nope", "--name", "X")


def test_clients_list_and_json(cli: Cli, store: Store) -> None:
    assert cli.json("clients", "list") == []
    web = cli.json("clients", "create", "--name", "Web app", "--redirect-uri", REDIRECT_URI)
    svc = cli.json("clients", "create", "--name", "Service", "--introspect")
    listed = cli.json("clients", "list")
    assert {c["client_id"] for c in listed} == {web["client_id"], svc["client_id"]}
    assert all("client_secret" not in c and "secret_digest" not in c for c in listed)
    by_id = {c["client_id"]: c for c in listed}
    assert by_id[svc["client_id"]]["introspect"] is True
    assert by_id[web["client_id"]]["grant_types"] == ["authorization_code", "refresh_token"]
    plain = cli.ok("clients", "list").stdout
    assert web["client_id"] in plain and svc["client_id"] in plain and "Web app" in plain
    for secret in (web["client_secret"], svc["client_secret"], digest(web["client_secret"])):
        assert secret not in plain and secret not in json.dumps(listed)


def test_clients_delete_revokes_its_tokens(
    cli: Cli, client: FlaskClient, store: Store, service: RegisteredClient
) -> None:
    created = cli.json("clients", "create", "--name", "Batch job")
    issued = _client_credentials(client, created["client_id"], created["client_secret"])
    assert issued.status_code == 200, issued.json
    access = issued.json["access_token"]
    assert _introspect(client, service, access)["active"] is True
    kept = _client_credentials(client, service.client_id, service.secret or "").json["access_token"]

    assert cli.ok("clients", "delete", created["client_id"]).stdout == (
        f"Deleted {created['client_id']}. Revoked 1 token pair (access and refresh tokens).\n"
    )

    assert store.clients.get(created["client_id"]) is None
    assert store.tokens.active(digest(access)) is None
    assert _introspect(client, service, access) == {"active": False}
    assert [c["client_id"] for c in cli.json("clients", "list")] == [service.client_id]
    assert store.tokens.active(digest(kept)) is not None
    assert created["client_id"] in cli.fails("clients", "delete", created["client_id"])


def test_rotate_secret_retires_the_old_secret(cli: Cli, settings: Settings, store: Store) -> None:
    created = cli.json("clients", "create", "--name", "Batch job")
    client_id, old_secret = created["client_id"], created["client_secret"]
    before = _app(settings, store).test_client()
    assert _client_credentials(before, client_id, old_secret).status_code == 200

    rotated = cli.json("clients", "rotate-secret", client_id)
    assert set(rotated) == {"client_id", "client_secret"} and rotated["client_id"] == client_id
    new_secret = rotated["client_secret"]
    assert new_secret != old_secret and parse(new_secret) is TokenKind.CLIENT_SECRET

    # the server caches clients for a few seconds per process: a new app sees the change at once
    after = _app(settings, store).test_client()
    refused = _client_credentials(after, client_id, old_secret)
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    assert _client_credentials(after, client_id, new_secret).status_code == 200

    plain = cli.ok("clients", "rotate-secret", client_id).stdout
    newest = next(word for word in plain.split() if word.startswith("tsr_cs_"))
    record = store.clients.get(client_id)
    assert record is not None and record.secret_digest == digest(newest)


def test_rotate_secret_refuses_public_and_unknown_clients(cli: Cli, store: Store) -> None:
    public = cli.json("clients", "create", "--name", "SPA", "--redirect-uri", REDIRECT_URI, "--public")
    assert "public" in cli.fails("clients", "rotate-secret", public["client_id"])
    record = store.clients.get(public["client_id"])
    assert record is not None and record.secret_digest is None
    assert "nope" in cli.fails("clients", "rotate-secret", "nope")


def _app(settings: Settings, store: Store) -> Flask:
    app = create_app(settings, store=store)
    app.config["TESTING"] = True
    return app


# tokens


def test_tokens_revoke_user(cli: Cli, store: Store, web_client: RegisteredClient, user: Any) -> None:
    other = store.users.create("bob", "not-a-real-hash")
    mine = [_insert_token(store, web_client.client_id, user.id)[0] for _ in range(2)]
    theirs, _, _ = _insert_token(store, web_client.client_id, other.id)
    assert "Revoked 2 token pairs (access and refresh tokens)." in cli.ok("tokens", "revoke", "--user", "alice").stdout
    assert all(store.tokens.active(digest(t)) is None for t in mine)
    assert store.tokens.active(digest(theirs)) is not None
    assert cli.ok("tokens", "revoke", "--user", "alice").stdout == "Nothing to revoke.\n"
    alice = store.users.by_name("alice")
    assert alice is not None and not alice.disabled  # revoking is not disabling


def test_tokens_revoke_client(
    cli: Cli, store: Store, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    mine = [
        _insert_token(store, service.client_id)[0],
        _insert_token(store, service.client_id, user.id, refresh=True)[0],
    ]
    theirs, _, _ = _insert_token(store, web_client.client_id, user.id)
    revoked = cli.ok("tokens", "revoke", "--client", service.client_id).stdout
    assert revoked == "Revoked 2 token pairs (access and refresh tokens).\n"
    assert all(store.tokens.active(digest(t)) is None for t in mine)
    assert store.tokens.active(digest(theirs)) is not None
    assert store.clients.get(service.client_id) is not None  # revoking is not deleting


@pytest.mark.parametrize("args", [[], ["--user", "alice", "--client", "x"]])
def test_tokens_revoke_needs_exactly_one_of_user_or_client(
    cli: Cli, store: Store, web_client: RegisteredClient, user: Any, args: list[str]
) -> None:
    access, _, _ = _insert_token(store, web_client.client_id, user.id)
    assert "exactly one of --user or --client" in cli.fails("tokens", "revoke", *args)
    assert store.tokens.active(digest(access)) is not None


@pytest.mark.parametrize("args", [["--user", "nobody"], ["--client", "nobody"]])
def test_tokens_revoke_unknown_owner_fails(cli: Cli, store: Store, args: list[str]) -> None:
    assert "nobody" in cli.fails("tokens", "revoke", *args)


def test_tokens_purge_deletes_dead_rows_only(
    cli: Cli, client: FlaskClient, store: Store, web_client: RegisteredClient, user: Any
) -> None:
    live, _, _ = _insert_token(store, web_client.client_id, user.id)
    expired, _, _ = _insert_token(store, web_client.client_id, user.id, expires_in=-5)
    revoked, _, revoked_grant = _insert_token(store, web_client.client_id, user.id, refresh=True)
    store.tokens.revoke_grant(revoked_grant)
    # a rotated-out refresh token of a live family stays, so that its reuse is still detected
    _, old_refresh, _ = _insert_token(store, web_client.client_id, user.id, refresh=True)
    assert old_refresh is not None
    rotated = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": old_refresh}, headers=web_client.basic
    )
    assert rotated.status_code == 200, rotated.json

    assert "Purged 2 row(s)." in cli.ok("tokens", "purge").stdout

    assert store.tokens.ref(digest(expired), refresh=False) is None
    assert store.tokens.ref(digest(revoked), refresh=False) is None
    assert store.tokens.active(digest(live)) is not None
    assert store.tokens.ref(digest(old_refresh), refresh=True) is not None
    assert "Purged 0 row(s)." in cli.ok("tokens", "purge").stdout
    reused = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": old_refresh}, headers=web_client.basic
    )
    assert reused.status_code == 400 and reused.json["error"] == "invalid_grant"
    assert store.tokens.active(digest(rotated.json["access_token"])) is None  # the family was revoked


def test_tokens_purge_deletes_ended_and_expired_sessions(cli: Cli, store: Store, user: Any) -> None:
    from tessera.store import SessionRecord

    bob = store.users.create("bob", hash_password("pw"))
    now = int(time.time())

    def start(user_id: int, created: int, seen: int) -> str:
        record = SessionRecord(digest(random_id(32)), random_id(), user_id, created, created, seen)
        store.sessions.start(record)
        return record.digest

    live = start(user.id, now - 600, now - 60)
    short_idle = start(user.id, now - 600, now - 400)  # idle 400 s: live by the default timeout, not by 300 s
    idle = start(user.id, now - 4000, now - 1800)
    old = start(user.id, now - 43_200, now)
    ended = start(bob.id, now, now)
    cli.ok("users", "disable", "bob")

    purged = cli.ok("tokens", "purge").stdout
    assert "\nsessions: 3\n" in purged and purged.endswith("\nPurged 3 row(s).\n")
    assert [d for d in (live, short_idle, idle, old, ended) if store.sessions.find(d)] == [live, short_idle]
    assert cli.ok("tokens", "purge", TESSERA_SESSION_IDLE_TIMEOUT="300").stdout.endswith("\nPurged 1 row(s).\n")
    assert store.sessions.find(live) is not None and store.sessions.find(short_idle) is None


# the real executable


def _run(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    return subprocess.run(
        [str(TESSERA), *args], env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and len(lines[0]) < 200, result.stderr
    assert all(word in lines[0] for word in expected), lines[0]


@pytest.fixture
def upgraded_sqlite(tmp_path: Path) -> dict[str, str]:
    env = {"TESSERA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert _run(["db", "upgrade"], env, tmp_path).returncode == 0
    return env


def test_installed_command_reports_an_unknown_user_in_one_line(upgraded_sqlite: dict[str, str], tmp_path: Path) -> None:
    result = _run(["users", "disable", "nobody"], upgraded_sqlite, tmp_path)
    _assert_one_line_error(result, "nobody")
    assert result.stdout == ""


def test_installed_command_reports_bad_configuration_in_one_line(
    upgraded_sqlite: dict[str, str], tmp_path: Path
) -> None:
    result = _run(["db", "upgrade"], {**upgraded_sqlite, "TESSERA_ACCESS_TOKEN_TTL": "abc"}, tmp_path)
    _assert_one_line_error(result, "TESSERA_ACCESS_TOKEN_TTL")


@pytest.mark.parametrize(
    "url", ["sqlite://host/x.db", "postgresql+psycopg2://u@127.0.0.1/x", "sqlite:", "postgresqlx://u@127.0.0.1/x"]
)
def test_installed_command_reports_a_bad_database_url_in_one_line(url: str, tmp_path: Path) -> None:
    _assert_one_line_error(_run(["users", "list"], {"TESSERA_DATABASE_URL": url}, tmp_path), "TESSERA_DATABASE_URL")


@pytest.fixture
def empty_postgres(postgres_url: str) -> Iterator[str]:
    """The session's throwaway PostgreSQL database, emptied: no Tessera schema."""
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield postgres_url


@pytest.mark.postgres
@pytest.mark.parametrize(
    "args", [["users", "list"], ["users", "disable", "x"], ["clients", "create", "--name", "x"], ["tokens", "purge"]]
)
def test_installed_command_on_postgres_without_schema_says_run_db_upgrade(
    empty_postgres: str, tmp_path: Path, args: list[str]
) -> None:
    _assert_one_line_error(_run(args, {"TESSERA_DATABASE_URL": empty_postgres}, tmp_path), "tessera db upgrade")


def _run_bytes(args: Sequence[bytes], env: dict[str, str], cwd: Path, stdin: bytes = b"") -> tuple[int, str, str]:
    """The installed command with ``args`` as raw bytes, as a shell passes them: (exit status, stdout, stderr)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    result = subprocess.run(
        [bytes(TESSERA), *args], env={**base, **env}, cwd=cwd, input=stdin, capture_output=True, timeout=60, check=False
    )
    return result.returncode, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")


NOT_UTF8 = b"\xff\xfe"
#: every command with an argument or option of free text, each given bytes that are not UTF-8 there
NOT_UTF8_ARGS = [
    [b"users", b"create", NOT_UTF8, b"--password-stdin"],
    [b"users", b"create", b"b\xc3", b"--password-stdin"],
    [b"users", b"disable", NOT_UTF8],
    [b"users", b"enable", NOT_UTF8],
    [b"users", b"delete", NOT_UTF8, b"--yes"],
    [b"clients", b"create", b"--name", NOT_UTF8],
    [b"clients", b"create", b"--name", b"App", b"--redirect-uri", b"http://127.0.0.1:8002/" + NOT_UTF8],
    [b"clients", b"create", b"--name", b"App", b"--scope", NOT_UTF8],
    [b"clients", b"update", NOT_UTF8, b"--name", b"App"],
    [b"clients", b"update", b"0123abcd", b"--name", NOT_UTF8],
    [b"clients", b"delete", NOT_UTF8],
    [b"clients", b"rotate-secret", NOT_UTF8],
    [b"tokens", b"revoke", b"--user", NOT_UTF8],
    [b"tokens", b"revoke", b"--client", NOT_UTF8],
    [b"serve", b"--host", NOT_UTF8],
]


@pytest.mark.parametrize("args", NOT_UTF8_ARGS, ids=lambda args: b" ".join(args).decode("ascii", "backslashreplace"))
def test_installed_command_refuses_arguments_that_are_not_utf8_in_one_line(
    upgraded_sqlite: dict[str, str], tmp_path: Path, args: list[bytes]
) -> None:
    status, stdout, stderr = _run_bytes(args, upgraded_sqlite, tmp_path, stdin=b"correct horse\n")
    assert status == 1 and stdout == "", (status, stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("Error: ") and "is not valid UTF-8" in lines[0], lines[0]
    listed = _run(["users", "list", "--json"], upgraded_sqlite, tmp_path)
    assert json.loads(listed.stdout) == []
    listed = _run(["clients", "list", "--json"], upgraded_sqlite, tmp_path)
    assert json.loads(listed.stdout) == []


@pytest.mark.parametrize("stdin_encoding", ["", "utf-8:strict"], ids=["locale", "strict"])
def test_installed_command_refuses_a_password_that_is_not_utf8_in_one_line(
    upgraded_sqlite: dict[str, str], tmp_path: Path, stdin_encoding: str
) -> None:
    env = {**upgraded_sqlite, "PYTHONIOENCODING": stdin_encoding}
    status, stdout, stderr = _run_bytes(
        [b"users", b"create", b"alice", b"--password-stdin"], env, tmp_path, stdin=b"pass\xffword\n"
    )
    assert status == 1 and stdout == "", (status, stdout, stderr)
    assert stderr.strip() == "Error: the password is not valid UTF-8", stderr
    listed = _run(["users", "list", "--json"], upgraded_sqlite, tmp_path)
    assert json.loads(listed.stdout) == []


def test_installed_command_takes_a_data_dir_that_is_not_utf8(tmp_path: Path) -> None:
    """A path is bytes on POSIX: --data-dir is not text, and is not held to the rule."""
    status, stdout, stderr = _run_bytes(
        [b"demo", b"--data-dir", os.fsencode(tmp_path) + b"/" + NOT_UTF8, b"--help"], {}, tmp_path
    )
    assert status == 0 and "Usage:" in stdout, stderr


def test_clients_create_and_update_take_the_device_grant_by_its_short_name(cli: Cli, store: Store) -> None:
    created = cli.json("clients", "create", "--name", "TV", "--grant-type", "device_code", "--public")
    assert created["grant_types"] == ["urn:ietf:params:oauth:grant-type:device_code"]
    assert created["public"] is True and "client_secret" not in created
    updated = cli.json(
        "clients", "update", created["client_id"], "--grant-type", "device_code", "--grant-type", "refresh_token"
    )
    assert updated["grant_types"] == ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
    listed = cli.ok("clients", "list").stdout
    assert "urn:ietf:params:oauth:grant-type:device_code" in listed
    assert "device_code" in cli.fails("clients", "create", "--name", "X", "--grant-type", "device", usage=True)


def test_tokens_purge_deletes_device_authorizations_a_day_after_they_expire(cli: Cli, store: Store) -> None:
    from tessera.store import DeviceRecord

    created = cli.json("clients", "create", "--name", "TV", "--grant-type", "device_code", "--public")
    now = int(time.time())
    for name, expires_at in (("old", now - 86_401), ("recent", now - 60)):
        store.devices.create(
            DeviceRecord(digest(name), digest(name + "-user"), created["client_id"], "api", random_id(), 0, expires_at)
        )
    purged = cli.ok("tokens", "purge").stdout
    assert "\ndevice authorizations: 1\n" in purged and purged.endswith("\nPurged 1 row(s).\n")
    assert store.devices.get(digest("old")) is None and store.devices.get(digest("recent")) is not None
