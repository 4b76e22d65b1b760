"""Failed sign-ins are limited per account and per address: the form again while under the limit, then 429
with ``Retry-After``, the same answer whether the account exists or not, and a right password waits too."""

import re
import threading
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from tessera.passwords import verify_password
from tessera.store import Store
from tests.conftest import app_for, csrf_from

FAILED = 200  # a failed sign-in shows the form again, with the error


def _sign_in(client: FlaskClient, username: str, password: str, address: str = "192.0.2.1", **headers: str) -> Any:
    environ = {"REMOTE_ADDR": address}
    page = client.get("/login", environ_base=environ).get_data(as_text=True)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page)},
        environ_base=environ,
        headers=headers,
    )
    if response.status_code == FAILED:
        assert "That username and password do not match" in response.get_data(as_text=True)
    return response


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def test_after_five_failures_the_account_waits_even_with_the_right_password(client: FlaskClient, user) -> None:
    for _ in range(5):
        assert _sign_in(client, "alice", "wrong").status_code == FAILED
    refused = _sign_in(client, "alice", "correct horse")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Too many sign-in attempts. Please wait a minute and try again." in refused.get_data(as_text=True)
    assert refused.headers["Cache-Control"] == "no-store"
    assert not _signed_in(client)
    # another account from another address is not affected
    assert _sign_in(client, "bob", "wrong", address="198.51.100.9").status_code == FAILED


def test_every_spelling_of_an_account_counts_against_its_one_budget(client: FlaskClient, user) -> None:
    for spelling in ("alice", "Alice", "ALICE", "ａｌｉｃｅ", "aLiCe"):
        assert _sign_in(client, spelling, "wrong").status_code == FAILED
    refused = _sign_in(client, "ALICE", "correct horse")
    assert refused.status_code == 429
    assert "Too many sign-in attempts. Please wait a minute and try again." in refused.get_data(as_text=True)
    assert not _signed_in(client)


def _normalised(response: Any, username: str) -> tuple[int, str, str]:
    html = response.get_data(as_text=True).replace(username, "USERNAME")
    html = re.sub(r'name="csrf_token" value="[^"]*"', "CSRF", html)
    return response.status_code, response.headers.get("Content-Type", ""), html


def test_the_answer_does_not_tell_whether_the_account_exists(client: FlaskClient, user) -> None:
    existing, missing = [], []
    for _ in range(6):
        existing.append(_sign_in(client, "alice", "wrong"))
        missing.append(_sign_in(client, "nobody", "wrong"))
    assert [_normalised(r, "alice") for r in existing] == [_normalised(r, "nobody") for r in missing]
    assert [r.status_code for r in existing] == [FAILED] * 5 + [429]
    # the waits differ only by the second or so that passed between the two sets of attempts
    assert abs(int(existing[-1].headers["Retry-After"]) - int(missing[-1].headers["Retry-After"])) <= 2


def test_success_resets_the_account_count(client: FlaskClient, user) -> None:
    for _ in range(4):
        assert _sign_in(client, "alice", "wrong").status_code == FAILED
    assert _sign_in(client, "alice", "correct horse").status_code == 303
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/logout").get_data(as_text=True))})
    assert not _signed_in(client)
    for _ in range(4):
        assert _sign_in(client, "alice", "wrong").status_code == FAILED


def test_one_address_trying_many_accounts_is_limited(store: Store, sqlite_url: str) -> None:
    client = app_for(store, sqlite_url, TESSERA_LOGIN_LIMIT_ADDRESS="3/minute").test_client()
    for name in ("ann", "ben", "cat"):
        assert _sign_in(client, name, "guess").status_code == FAILED
    assert _sign_in(client, "dan", "guess").status_code == 429
    assert _sign_in(client, "dan", "guess", address="198.51.100.9").status_code == FAILED


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(store: Store, sqlite_url: str) -> None:
    client = app_for(
        store, sqlite_url, TESSERA_LOGIN_LIMIT_ADDRESS="2/minute", TESSERA_TRUSTED_PROXIES="1"
    ).test_client()
    # every request arrives from the proxy's address; X-Forwarded-For names the real client
    for _ in range(2):
        response = _sign_in(client, "x", "guess", address="10.0.0.1", **{"X-Forwarded-For": "203.0.113.5"})
        assert response.status_code == FAILED
    blocked = _sign_in(client, "y", "guess", address="10.0.0.1", **{"X-Forwarded-For": "203.0.113.5"})
    assert blocked.status_code == 429
    other = _sign_in(client, "y", "guess", address="10.0.0.1", **{"X-Forwarded-For": "203.0.113.6"})
    assert other.status_code == FAILED


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(store: Store, sqlite_url: str) -> None:
    client = app_for(store, sqlite_url, TESSERA_LOGIN_LIMIT_ADDRESS="2/minute").test_client()
    for forwarded in ("203.0.113.5", "203.0.113.6"):
        assert _sign_in(client, "x", "guess", **{"X-Forwarded-For": forwarded}).status_code == FAILED
    # a client cannot dodge the limit by making up X-Forwarded-For
    assert _sign_in(client, "x", "guess", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429


def test_limits_can_be_switched_off(store: Store, sqlite_url: str) -> None:
    client = app_for(
        store, sqlite_url, TESSERA_LOGIN_LIMIT_ACCOUNT="off", TESSERA_LOGIN_LIMIT_ADDRESS="off"
    ).test_client()
    for _ in range(30):
        assert _sign_in(client, "alice", "wrong").status_code == FAILED


def test_simultaneous_wrong_passwords_check_no_more_passwords_than_the_limit(
    store: Store, sqlite_url: str, user, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty-four wrong passwords posted at once, each from a session of its own: five are checked, the others
    wait. Each check is slowed to what a busy server takes, so that every attempt arrives while the first five
    are still being checked."""
    app = app_for(store, sqlite_url, TESSERA_LOGIN_LIMIT_ACCOUNT="5/minute")
    checked: list[str] = []

    def slow_check(password_hash: str | None, password: str) -> bool:
        checked.append(password)  # list.append is atomic
        time.sleep(0.3)
        return verify_password(password_hash, password)

    monkeypatch.setattr("tessera.web.auth.verify_password", slow_check)
    racers = 24
    barrier = threading.Barrier(racers)
    statuses: list[int] = []

    def attempt(i: int) -> None:
        client = app.test_client()
        csrf = csrf_from(client.get("/login").get_data(as_text=True))
        barrier.wait(timeout=30)
        form = {"username": "alice", "password": f"wrong-{i}", "csrf_token": csrf}
        statuses.append(client.post("/login", data=form).status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(checked) == 5
    assert sorted(statuses) == [FAILED] * 5 + [429] * (racers - 5)


def test_successful_sign_ins_do_not_use_up_the_address(store: Store, sqlite_url: str, user) -> None:
    """Many people behind one address sign in; only failures count against it."""
    client = app_for(store, sqlite_url, TESSERA_LOGIN_LIMIT_ADDRESS="3/minute").test_client()
    for _ in range(5):
        assert _sign_in(client, "alice", "correct horse").status_code == 303
    for name in ("ann", "ben", "cat"):
        assert _sign_in(client, name, "guess").status_code == FAILED
    assert _sign_in(client, "dan", "guess").status_code == 429
