"""Leak reports in GitHub's secret scanning partner format: signed reports revoke live tokens with their family."""

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient

from tessera.app import create_app
from tessera.cli import main
from tessera.config import Settings
from tessera.errors import ConfigError
from tessera.store import Store
from tessera.tokens import TokenKind, digest, mint
from tests.conftest import (
    INTROSPECT,
    TOKEN,
    MovableClock,
    RegisteredClient,
    client_credentials_token,
    exchange,
    get_code,
    pkce_pair,
    settings_for,
)

REPORT = "/oauth/leak-report"


@dataclass
class Signer:
    identifier: str
    key: ec.EllipticCurvePrivateKey

    def headers(self, body: bytes) -> dict[str, str]:
        signature = self.key.sign(body, ec.ECDSA(hashes.SHA256()))
        return {
            "Github-Public-Key-Identifier": self.identifier,
            "Github-Public-Key-Signature": base64.b64encode(signature).decode(),
            "Content-Type": "application/json",
        }


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode()


@pytest.fixture
def signers() -> tuple[Signer, Signer]:
    """GitHub's current key and an older one, still listed."""
    return (
        Signer(
            "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a", ec.generate_private_key(ec.SECP256R1())
        ),
        Signer(
            "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c", ec.generate_private_key(ec.SECP256R1())
        ),
    )


@pytest.fixture
def keys_file(tmp_path: Path, signers: tuple[Signer, Signer]) -> Path:
    """The file as GitHub publishes it (https://api.github.com/meta/public_keys/secret_scanning), saved as is."""
    current, old = signers
    document = {
        "public_keys": [
            {"key_identifier": old.identifier, "key": _pem(old.key), "is_current": False},
            {"key_identifier": current.identifier, "key": _pem(current.key), "is_current": True},
        ]
    }
    path = tmp_path / "github-keys.json"
    path.write_text(json.dumps(document))
    return path


@dataclass
class World:
    app: Flask
    client: FlaskClient
    announced: list[list[str]]


@pytest.fixture
def world(settings: Settings, store: Store, clock: MovableClock, keys_file: Path, sqlite_url: str) -> World:
    announced: list[list[str]] = []
    settings = settings_for(sqlite_url, TESSERA_LEAK_REPORT_KEYS=str(keys_file), TESSERA_LEAK_REPORT_LIMIT="off")
    app = create_app(settings, store=store, on_revoke=[announced.append], clock=clock)
    app.config["TESTING"] = True
    return World(app, app.test_client(), announced)


def _report(client: FlaskClient, signer: Signer, *tokens: str, body: bytes | None = None) -> tuple[int, Any]:
    if body is None:
        entries = [
            {"token": t, "type": "tessera_access_token", "url": "https://github.com/o/r/blob/x/f", "source": "content"}
            for t in tokens
        ]
        body = json.dumps(entries).encode()
    response = client.post(REPORT, data=body, headers=signer.headers(body))
    return response.status_code, response.get_json(silent=True)


def _user_tokens(client: FlaskClient, web_client: RegisteredClient) -> dict[str, str]:
    verifier, challenge = pkce_pair()
    response = exchange(client, web_client, get_code(client, web_client, challenge), verifier)
    assert response.status_code == 200
    return response.json  # type: ignore[no-any-return]


def _active(client: FlaskClient, service: RegisteredClient, token: str) -> bool:
    return bool(client.post(INTROSPECT, data={"token": token}, headers=service.basic).json["active"])


def test_the_metadata_names_the_endpoint_only_when_keys_are_configured(world: World, client: FlaskClient) -> None:
    document = world.client.get("/.well-known/oauth-authorization-server").json
    assert document["leak_report_endpoint"] == "http://127.0.0.1:8000" + REPORT
    assert "leak_report_endpoint" not in client.get("/.well-known/oauth-authorization-server").json


def test_a_live_access_token_is_a_true_positive_and_its_family_is_revoked(
    world: World,
    signers: tuple[Signer, Signer],
    web_client: RegisteredClient,
    user: object,
    service: RegisteredClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued = _user_tokens(world.client, web_client)
    with caplog.at_level(logging.INFO, logger="tessera.audit"):
        status, body = _report(world.client, signers[0], issued["access_token"])
    assert status == 200
    assert body == [
        {"token_raw": issued["access_token"], "token_type": "tessera_access_token", "label": "true_positive"}
    ]
    assert not _active(world.client, service, issued["access_token"])
    refresh = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
    assert world.client.post(TOKEN, data=refresh, headers=web_client.basic).json["error"] == "invalid_grant"
    assert world.announced == [[digest(issued["access_token"])]]  # pushed to the caches
    (record,) = [r for r in caplog.records if r.name == "tessera.audit" and "token.leak_reported" in r.getMessage()]
    event = json.loads(record.getMessage())
    assert (event["event"], event["outcome"], event["reason"]) == ("token.leak_reported", "success", "revoked")
    assert event["client_id"] == web_client.client_id and event["detail"]["url"].startswith("https://github.com/")
    assert event["user"] == "alice"  # named as every audit event names a user, so `audit list --user` finds it
    assert issued["access_token"] not in caplog.text and issued["refresh_token"] not in caplog.text


def test_a_live_refresh_token_reported_with_the_older_key_revokes_the_family(
    world: World,
    signers: tuple[Signer, Signer],
    web_client: RegisteredClient,
    user: object,
    service: RegisteredClient,
    store: Store,
) -> None:
    issued = _user_tokens(world.client, web_client)
    status, body = _report(world.client, signers[1], issued["refresh_token"])
    assert status == 200 and body[0]["label"] == "true_positive"
    assert not _active(world.client, service, issued["access_token"])
    (event,) = [e for e in store.audit.list(user="alice") if e.event == "token.leak_reported"]
    assert event.client_id == web_client.client_id and event.reason == "revoked"


def test_anything_else_is_a_false_positive_and_nothing_else_is_touched(
    world: World, signers: tuple[Signer, Signer], service: RegisteredClient, clock: MovableClock
) -> None:
    bystander = client_credentials_token(world.client, service)
    revoked = client_credentials_token(world.client, service)
    world.client.post("/oauth/revoke", data={"token": revoked}, headers=service.basic)
    expired = client_credentials_token(world.client, service)
    clock.advance(3601)
    bystander_later = client_credentials_token(world.client, service)
    world.announced.clear()
    reported = [
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",  # another issuer's
        mint(TokenKind.ACCESS),  # well formed, never issued
        bystander[:-1] + ("A" if bystander[-1] != "A" else "B"),  # mistyped: the checksum fails
        revoked,
        expired,
        mint(TokenKind.CLIENT_SECRET),
        "",
    ]
    status, body = _report(world.client, signers[0], *reported)
    assert status == 200
    assert [entry["label"] for entry in body] == ["false_positive"] * len(reported)
    assert [entry["token_raw"] for entry in body] == reported
    assert _active(world.client, service, bystander_later) and world.announced == []


@pytest.mark.parametrize(
    "tamper",
    ["no headers", "unknown key", "another body", "not base64", "signature of another key"],
)
def test_a_bad_or_missing_signature_is_401_and_revokes_nothing(
    world: World, signers: tuple[Signer, Signer], service: RegisteredClient, tamper: str
) -> None:
    token = client_credentials_token(world.client, service)
    body = json.dumps([{"token": token, "type": "t", "url": "", "source": "content"}]).encode()
    headers = signers[0].headers(body)
    if tamper == "no headers":
        headers = {"Content-Type": "application/json"}
    elif tamper == "unknown key":
        headers["Github-Public-Key-Identifier"] = "0" * 64
    elif tamper == "another body":
        headers = signers[0].headers(body + b" ")
    elif tamper == "not base64":
        headers["Github-Public-Key-Signature"] = "%%%"
    else:
        headers["Github-Public-Key-Signature"] = signers[1].headers(body)["Github-Public-Key-Signature"]
    response = world.client.post(REPORT, data=body, headers=headers)
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    assert _active(world.client, service, token) and world.announced == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b'{"token": "x"}', "JSON array"),
        (b'[{"type": "t"}]', "string 'token'"),
        (b'[{"token": 5}]', "string 'token'"),
        (b'[{"token": "x", "url": 7}]', "must be strings"),
        (json.dumps([{"token": "x"}] * 1001).encode(), "at most 1000"),
    ],
)
def test_a_malformed_report_is_400_with_one_line(
    world: World, signers: tuple[Signer, Signer], body: bytes, says: str
) -> None:
    status, answer = _report(world.client, signers[0], body=body)
    assert status == 400 and answer["error"] == "invalid_request" and says in answer["error_description"]
    assert "\n" not in answer["error_description"]


def test_a_report_too_large_is_refused(world: World, signers: tuple[Signer, Signer]) -> None:
    body = json.dumps([{"token": "x" * 4000}] * 20).encode()  # about 80 KiB
    status, _ = _report(world.client, signers[0], body=body)
    assert status == 413


def test_reports_are_rate_limited_per_address(
    store: Store, sqlite_url: str, keys_file: Path, signers: tuple[Signer, Signer]
) -> None:
    settings = settings_for(sqlite_url, TESSERA_LEAK_REPORT_KEYS=str(keys_file), TESSERA_LEAK_REPORT_LIMIT="2/minute")
    client = create_app(settings, store=store).test_client()
    statuses = [_report(client, signers[0], "tsr_at_x")[0] for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_behind_a_trusted_proxy_reports_are_counted_per_forwarded_address(
    store: Store, sqlite_url: str, keys_file: Path, signers: tuple[Signer, Signer]
) -> None:
    settings = settings_for(
        sqlite_url,
        TESSERA_LEAK_REPORT_KEYS=str(keys_file),
        TESSERA_LEAK_REPORT_LIMIT="1/minute",
        TESSERA_TRUSTED_PROXIES="1",
    )
    client = create_app(settings, store=store).test_client()
    body = b"[]"

    def post(forwarded: str) -> int:
        headers = {**signers[0].headers(body), "X-Forwarded-For": forwarded}
        return client.post(REPORT, data=body, headers=headers).status_code

    # the proxy's own address is the same for all; the address it saw is what counts
    assert [post("198.51.100.7"), post("203.0.113.9"), post("203.0.113.9")] == [200, 200, 429]
    assert post("10.0.0.1, 198.51.100.7") == 429  # only the entry the trusted proxy wrote counts


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read"),
        ("nope", "not JSON"),
        ('{"public_keys": []}', "at least one key"),
        ('{"public_keys": [{"key_identifier": "a"}]}', "needs a key_identifier and a key"),
        (
            json.dumps({"public_keys": [{"key_identifier": "a", "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END"}]}),
            "not a PEM",
        ),
    ],
)
def test_an_unusable_keys_file_stops_the_server_with_one_line(
    store: Store, sqlite_url: str, tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "keys.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=says) as caught:
        create_app(settings_for(sqlite_url, TESSERA_LEAK_REPORT_KEYS=str(path)), store=store)
    assert "\n" not in str(caught.value)


def test_an_rsa_key_is_refused(store: Store, sqlite_url: str, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"public_keys": [{"key_identifier": "a", "key": pem.decode(), "is_current": True}]}))
    with pytest.raises(ConfigError, match="P-256"):
        create_app(settings_for(sqlite_url, TESSERA_LEAK_REPORT_KEYS=str(path)), store=store)


@pytest.fixture
def cli_env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    yield {"TESSERA_DATABASE_URL": sqlite_url}


def test_the_cli_reads_tokens_from_stdin_and_does_the_same(
    world: World, service: RegisteredClient, cli_env: dict[str, str]
) -> None:
    live = client_credentials_token(world.client, service)
    kept = client_credentials_token(world.client, service)
    result = CliRunner().invoke(
        main, ["tokens", "report-leak", "--json"], env=cli_env, input=f"{live}\n\nghp_notours\n{live}\n"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"token": 1, "label": "true_positive"},
        {"token": 2, "label": "false_positive"},
        {"token": 3, "label": "false_positive"},  # the same token again: it is revoked now
    ]
    assert not _active(world.client, service, live) and _active(world.client, service, kept)
    assert live not in result.output
    text = CliRunner().invoke(main, ["tokens", "report-leak"], env=cli_env, input="nothing\n")
    assert (
        text.exit_code == 0
        and text.stdout == "token 1: false_positive\n0 of 1 reported token(s) were live and are revoked.\n"
    )
