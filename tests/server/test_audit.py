"""The audit trail after a scripted scenario: one event of each kind, in the log and in the table with the same
fields, with the request's id and address; written off the request path under ``tessera serve``; never failing a
request; never holding a token, secret or password."""

import json
import logging
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from tessera.app import build
from tessera.cli import main
from tessera.config import Settings
from tessera.server.audit import as_json
from tessera.store import Store
from tessera.web.context import server_of
from tests.conftest import (
    REVOKE,
    TOKEN,
    RegisteredClient,
    client_credentials_token,
    csrf_from,
    exchange,
    get_code,
    pkce_pair,
    settings_for,
)

PASSWORD = "correct horse"


def _events(app: Flask) -> list[dict[str, Any]]:
    store = server_of(app).context.store
    return [as_json(e) for e in reversed(store.audit.list(limit=1000))]


def _sign_in_wrong(client: FlaskClient, username: str = "alice") -> None:
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": "not it", "csrf_token": csrf})
    assert response.status_code == 200


def test_a_scripted_scenario_leaves_one_event_of_each_kind(
    app: Flask, client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    secrets_seen: list[str] = [PASSWORD, service.secret or "", web_client.secret or ""]
    with caplog.at_level(logging.INFO, logger="tessera.audit"):
        _sign_in_wrong(client)
        verifier, challenge = pkce_pair()
        code = get_code(client, web_client, challenge)  # signs in, consents
        first = exchange(client, web_client, code, verifier)
        assert first.status_code == 200
        assert exchange(client, web_client, code, verifier).status_code == 400  # code replay
        verifier, challenge = pkce_pair()
        pair = exchange(client, web_client, get_code(client, web_client, challenge), verifier).json
        refresh = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
        second = client.post(TOKEN, data=refresh, headers=web_client.basic, environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert second.status_code == 200
        assert client.post(TOKEN, data=refresh, headers=web_client.basic).status_code == 400  # reuse
        access = client_credentials_token(client, service)
        revoked = client.post(REVOKE, data={"token": access}, headers={**service.basic, "X-Request-Id": "rev-1"})
        assert revoked.status_code == 200 and revoked.headers["X-Request-Id"] == "rev-1"
        secrets_seen += [code, first.json["access_token"], pair["refresh_token"], second.json["access_token"], access]

    events = _events(app)
    kinds = [e["event"] for e in events]
    for kind in (
        "user.sign_in.failed",
        "user.sign_in.succeeded",
        "consent.granted",
        "token.issued",
        "code.replay_detected",
        "token.refreshed",
        "refresh.reuse_detected",
        "token.revoked",
    ):
        assert kind in kinds, (kind, kinds)

    failed = next(e for e in events if e["event"] == "user.sign_in.failed")
    assert failed["user"] == "alice" and failed["outcome"] == "failure" and failed["reason"] == "wrong password"
    issued = next(e for e in events if e["event"] == "token.issued" and e["user"] == "alice")
    assert issued["client_id"] == web_client.client_id
    assert issued["detail"] == {"grant_type": "authorization_code", "scope": "api restricted"}
    refreshed = next(e for e in events if e["event"] == "token.refreshed")
    assert refreshed["address"] == "10.1.2.3" and refreshed["request_id"]
    reuse = next(e for e in events if e["event"] == "refresh.reuse_detected")
    assert reuse["outcome"] == "failure" and reuse["user"] == "alice" and reuse["detail"] == {"revoked": 1}
    revoked_event = next(e for e in events if e["event"] == "token.revoked")
    assert revoked_event["request_id"] == "rev-1" and revoked_event["client_id"] == service.client_id

    # the log line and the row carry the same fields
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tessera.audit"]
    assert logged == events

    text = json.dumps(events) + caplog.text
    for secret in secrets_seen:
        assert secret and secret not in text


def test_the_command_line_changes_are_audited(settings: Settings, store: Store) -> None:
    env = {
        "TESSERA_DATABASE_URL": settings.database_url,
        "TESSERA_SECRET_KEY": "x" * 40,
    }
    runner = CliRunner()

    def tessera(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(main, list(args), env=env, input=stdin)
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout

    created = json.loads(tessera("clients", "create", "--name", "Billing", "--json"))
    tessera("clients", "rotate-secret", created["client_id"])
    tessera("clients", "delete", created["client_id"])
    tessera("users", "create", "carol", "--password-stdin", stdin="a long pass phrase 7\n")
    tessera("users", "set-password", "carol", "--password-stdin", stdin="another pass phrase 8\n")
    tessera("users", "disable", "carol")
    tessera("users", "enable", "carol")
    tessera("tokens", "revoke", "--user", "carol")
    tessera("users", "delete", "carol", "--yes")
    key = json.loads(tessera("keys", "rotate", "--alg", "ES256", "--json"))

    listed = json.loads(tessera("audit", "list", "--json"))
    assert [e["event"] for e in reversed(listed)] == [
        "client.created",
        "client.secret_rotated",
        "client.deleted",
        "user.created",
        "user.password_changed",
        "user.disabled",
        "user.enabled",
        "token.revoked",
        "user.deleted",
        "key.rotated",
    ]
    assert listed[0]["detail"] == {"via": "cli", "kid": key["kid"], "alg": "ES256"}
    assert all({"time", "event", "client_id", "user", "outcome"} <= set(e) for e in listed)
    assert all(e["detail"]["via"] == "cli" for e in listed)
    text = json.dumps(listed)
    assert created["client_secret"] not in text and "pass phrase" not in text

    carol = json.loads(tessera("audit", "list", "--user", "carol", "--limit", "2", "--json"))
    assert [e["event"] for e in carol] == ["user.deleted", "token.revoked"]
    client_events = json.loads(tessera("audit", "list", "--client", created["client_id"], "--json"))
    assert len(client_events) == 3
    assert json.loads(tessera("audit", "list", "--since", "2999-01-01", "--json")) == []
    assert "Purged 0 audit event(s)." in tessera("audit", "purge", "--older-than", "1")
    assert "Purged 10 audit event(s)." in tessera("audit", "purge", "--before", "2999-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "list", "--since", "yesterday"], "--since must be an ISO 8601 date or time"),
        (["audit", "purge"], "give exactly one of --before or --older-than"),
        (["audit", "purge", "--before", "2026-01-01", "--older-than", "3"], "give exactly one of"),
    ],
)
def test_bad_audit_arguments_are_one_line(settings: Settings, store: Store, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args, env={"TESSERA_DATABASE_URL": settings.database_url})
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"Error: {result.stderr.strip().removeprefix('Error: ')}"]
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_failing_audit_write_never_fails_the_request(
    app: Flask, client: FlaskClient, service: RegisteredClient, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    def broken(events: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(server_of(app).context.store.audit, "add", broken)
    with caplog.at_level(logging.INFO):
        response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    assert response.status_code == 200
    assert "could not write 1 audit event(s) to the database (OSError)" in caplog.text
    assert any(r.name == "tessera.audit" and '"token.issued"' in r.getMessage() for r in caplog.records)


def test_audit_rows_are_batched_off_the_request_path(settings: Settings, store: Store) -> None:
    """Under ``tessera serve`` (the lifecycle started), issuance runs its own statements only; the events reach the
    table in one batch when the writer runs (here: when the worker stops)."""
    import dataclasses

    from tests.conftest import register_client

    built = build(dataclasses.replace(settings, count_sql=True), store=None)
    service = register_client(
        built.store, name="S", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )
    client = built.flask.test_client()
    client_credentials_token(client, service)  # the client is cached from here on
    counter = built.counter
    assert counter is not None
    built.front.start()
    try:
        before = counter.count
        for _ in range(5):
            client_credentials_token(client, service)
        assert counter.count - before <= 2 * 5
        assert len(built.store.audit.list()) == 1
    finally:
        built.front.close()
    assert [e.event for e in built.store.audit.list()] == ["token.issued"] * 6
    built.store.close()


def test_audit_off_and_log_only(sqlite_url: str, store: Store, service: RegisteredClient) -> None:
    from tessera.app import create_app

    for mode, rows in (("off", 0), ("log", 0), ("on", 1)):
        client = create_app(settings_for(sqlite_url, TESSERA_AUDIT=mode), store=store).test_client()
        before = len(store.audit.list())
        client_credentials_token(client, service)
        assert len(store.audit.list()) - before == rows, mode


def test_behind_trusted_proxies_the_token_endpoints_events_name_the_forwarded_address(
    sqlite_url: str, store: Store, service: RegisteredClient
) -> None:
    """As the pages' events do: the address the outermost trusted proxy saw, not the proxy's."""
    from tessera.app import create_app

    app = create_app(settings_for(sqlite_url, TESSERA_TRUSTED_PROXIES="1"), store=store)
    client = app.test_client()
    forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9", **service.basic}
    answer = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=forwarded)
    assert answer.status_code == 200
    issued = [e for e in _events(app) if e["event"] == "token.issued"]
    assert [e["address"] for e in issued] == ["203.0.113.9"]


def test_an_event_with_awkward_values_is_the_same_in_both_log_formats_and_the_row(store: Store) -> None:
    """Quotes, backslashes, control and non-ASCII characters and NULLs: the text line's message, the JSON-format
    line and the row read back carry the same fields; both lines are what ``json.dumps`` writes."""
    from tessera.logs import FORMAT, JsonFormatter, TextFormatter
    from tessera.server.audit import AuditTrail, Event

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger, keep = logging.getLogger("tessera.audit"), Keep()
    logger.addHandler(keep)
    try:
        AuditTrail(store.audit).emit(
            Event.SIGN_IN_FAILED, outcome="failure", user='zoë "the\\admin"\n', reason="wrong password\t✓",
            detail={"via": "cli", "n": 2, "nested": {"ok": True, "none": None}},
        )  # fmt: skip
    finally:
        logger.removeHandler(keep)
    [record] = records
    [row] = store.audit.list(user='zoë "the\\admin"\n')
    fields = as_json(row)
    assert fields["detail"] == {"via": "cli", "n": 2, "nested": {"ok": True, "none": None}}
    assert record.getMessage() == json.dumps(fields, separators=(",", ":"))
    text_line = TextFormatter().format(record)
    assert text_line == logging.Formatter(FORMAT).format(record)  # the standard line, its second's text kept
    assert text_line.endswith(" INFO tessera.audit " + json.dumps(fields, separators=(",", ":")))
    json_line = JsonFormatter().format(record)
    assert json_line == json.dumps({"time": fields["time"], "level": "INFO", "logger": "tessera.audit", **fields},
                                   separators=(",", ":"))  # fmt: skip


def test_details_are_encoded_as_json_dumps_does_whatever_came_before() -> None:
    """The JSON of a detail is what ``json.dumps`` writes, including after an equal-looking detail of other types
    (``True`` and ``1`` are equal keys in Python) and for one that cannot be a key."""
    from tessera.server.audit import AuditTrail, Event

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    details: list[dict[str, Any]] = [
        {"grant_type": "client_credentials", "scope": "api"},
        {"grant_type": "client_credentials", "scope": "api"},
        {"revoked": 1},
        {"revoked": True},
        {"revoked": 1.0},
        {"via": "cli", "scopes": ["a", "b"]},
        {"via": "ünï\\"},
    ]
    logger, keep = logging.getLogger("tessera.audit"), Keep()
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    try:
        trail = AuditTrail(None)
        for detail in details:
            trail.emit(Event.CLIENT_UPDATED, detail=detail)
    finally:
        logger.removeHandler(keep)
        logger.setLevel(logging.NOTSET)
    written = [record.getMessage().partition(',"detail":')[2][:-1] for record in records]
    assert written == [json.dumps(detail, separators=(",", ":")) for detail in details]
