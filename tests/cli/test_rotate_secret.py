"""``tessera clients rotate-secret --grace``: the old secret keeps working beside the new one for a while, so
rotating means no outage; after the grace only the new one works, whatever a server's client cache holds."""

import datetime
import hmac
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tessera.config import Settings
from tessera.store import Store
from tessera.tokens import digest
from tests.conftest import TOKEN, MovableClock, app_for
from tests.server.test_secret_handling import CompareSpy
from tests.test_cli import Cli

HOUR = 3600


def _token(client: FlaskClient, client_id: str, secret: str) -> int:
    """The status of a client_credentials request with this secret (401 comes with invalid_client)."""
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    if response.status_code == 401:
        assert response.json is not None and response.json["error"] == "invalid_client"
    return response.status_code


@pytest.fixture
def batch_job(cli: Cli, store: Store) -> tuple[str, str]:
    created = cli.json("clients", "create", "--name", "Batch job")
    return created["client_id"], created["client_secret"]


def test_with_a_grace_both_secrets_work_until_it_ends_then_only_the_new_one(
    cli: Cli, app: Flask, clock: MovableClock, batch_job: tuple[str, str]
) -> None:
    client_id, old = batch_job
    server = app.test_client()
    assert _token(server, client_id, old) == 200  # the server now caches the client, as it was

    before = int(time.time())
    rotated = cli.json("clients", "rotate-secret", client_id, "--grace", str(HOUR))
    new = rotated["client_secret"]
    assert set(rotated) == {"client_id", "client_secret", "previous_secret_expires_at"}
    assert before + HOUR <= rotated["previous_secret_expires_at"] <= int(time.time()) + HOUR

    # no outage: the new secret works at once on the server that cached the client before the rotation
    assert _token(server, client_id, new) == 200
    assert _token(server, client_id, old) == 200
    clock.advance(HOUR - 5)
    assert _token(server, client_id, old) == 200 and _token(server, client_id, new) == 200
    clock.advance(6)  # past the grace; the client is still in the server's cache (its own clock has not moved)
    assert _token(server, client_id, old) == 401
    assert _token(server, client_id, new) == 200


def test_the_output_says_until_when_the_old_secret_works(cli: Cli, store: Store, batch_job: tuple[str, str]) -> None:
    client_id, _ = batch_job
    lines = cli.ok("clients", "rotate-secret", client_id, "--grace", "600").stdout.splitlines()
    record = store.clients.get(client_id)
    assert record is not None and record.previous_secret_expires_at is not None
    until = datetime.datetime.fromtimestamp(record.previous_secret_expires_at, datetime.UTC)
    assert lines[0].startswith("client_secret: tsr_cs_") and digest(lines[0].split()[1]) == record.secret_digest
    assert lines[1:] == [
        "Store the secret now: it is not shown again.",
        f"The old secret works until {until:%Y-%m-%d %H:%M:%S} UTC (600 s from now); then only the new one.",
    ]


@pytest.mark.parametrize("grace", [None, "0"])
def test_without_a_grace_the_old_secret_stops_at_once(
    cli: Cli, app: Flask, store: Store, batch_job: tuple[str, str], grace: str | None
) -> None:
    client_id, old = batch_job
    args = ["clients", "rotate-secret", client_id] + ([] if grace is None else ["--grace", grace])
    rotated = cli.json(*args)
    assert set(rotated) == {"client_id", "client_secret"}
    record = store.clients.get(client_id)
    assert record is not None and record.previous_secret_digest is None and record.previous_secret_expires_at is None
    server = app.test_client()
    assert _token(server, client_id, old) == 401
    assert _token(server, client_id, rotated["client_secret"]) == 200
    assert cli.ok(*args).stdout.splitlines()[-1] == "The old secret no longer works."


def test_rotating_again_ends_the_secret_still_in_its_grace(
    cli: Cli, app: Flask, store: Store, settings: Settings, batch_job: tuple[str, str]
) -> None:
    client_id, first = batch_job
    second = cli.json("clients", "rotate-secret", client_id, "--grace", str(HOUR))["client_secret"]
    third = cli.json("clients", "rotate-secret", client_id, "--grace", str(HOUR))["client_secret"]
    server = app.test_client()
    assert [_token(server, client_id, s) for s in (first, second, third)] == [401, 200, 200]
    fourth = cli.json("clients", "rotate-secret", client_id)["client_secret"]
    # without a grace, as ever: at once in the database, within the client cache's 5 s in a running server
    fresh = app_for(store, settings.database_url).test_client()
    assert [_token(fresh, client_id, s) for s in (second, third, fourth)] == [401, 401, 200]


@pytest.mark.parametrize("grace", ["2592001", "-1"])
def test_a_grace_beyond_thirty_days_or_below_zero_is_refused_and_nothing_changes(
    cli: Cli, store: Store, batch_job: tuple[str, str], grace: str
) -> None:
    client_id, old = batch_job
    error = cli.fails("clients", "rotate-secret", client_id, "--grace", grace)
    assert error == f"Error: the grace period must be 0 to 2592000 seconds (30 days), not {grace}"
    record = store.clients.get(client_id)
    assert record is not None and record.secret_digest == digest(old) and record.previous_secret_digest is None
    assert "'an hour' is not a valid integer" in cli.fails(
        "clients", "rotate-secret", client_id, "--grace", "an hour", usage=True
    )
    thirty_days = cli.json("clients", "rotate-secret", client_id, "--grace", "2592000")
    assert thirty_days["previous_secret_expires_at"] >= int(time.time()) + 2592000 - 2


def test_both_secrets_are_compared_in_constant_time(
    cli: Cli, app: Flask, store: Store, batch_job: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id, old = batch_job
    new = cli.json("clients", "rotate-secret", client_id, "--grace", str(HOUR))["client_secret"]
    spy = CompareSpy()
    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert _token(app.test_client(), client_id, new) == 200
    # the new secret matched the current digest, and the previous digest was compared all the same
    assert spy.compared(digest(new)) and spy.compared(digest(old))


def test_the_grace_shows_in_the_help(cli: Cli, store: Any) -> None:
    text = cli.ok("clients", "rotate-secret", "--help").stdout
    assert "--grace SECONDS" in text and "30 days" in text
