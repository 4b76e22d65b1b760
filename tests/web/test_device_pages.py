"""The device grant's verification pages (RFC 8628 §3.3): the code, then sign-in and consent, then the answer;
CSRF, framing and the rate limits on entering codes."""

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.store import Store
from tessera.tokens import digest
from tests.conftest import MovableClock, RegisteredClient, app_for, csrf_from, login
from tests.device import answer, device_client, enter_code, error_of, poll, start

ADDRESS = {"REMOTE_ADDR": "192.0.2.7"}


@pytest.fixture
def tv(store: Store) -> RegisteredClient:
    return device_client(store)


def _swap_case_and_dash(user_code: str) -> str:
    return user_code.replace("-", "").lower()


def test_the_page_has_a_code_field_and_a_continue_button(client: FlaskClient) -> None:
    html = client.get("/device").get_data(as_text=True)
    assert '<label for="user_code">Code</label>' in html and 'id="user_code"' in html
    assert '<button type="submit">Continue</button>' in html


def test_verification_uri_complete_fills_the_code_in_and_still_waits_for_continue(
    client: FlaskClient, tv: RegisteredClient, store: Store
) -> None:
    body = start(client, tv)
    path = urlsplit(body["verification_uri_complete"])
    response = client.get(f"{path.path}?{path.query}")
    assert response.status_code == 200
    assert f'value="{body["user_code"]}"' in response.get_data(as_text=True)
    assert store.devices.get(digest(body["device_code"])).pending  # type: ignore[union-attr]


@pytest.mark.parametrize("typed", ["exact", "lower, no dash", "spaces"])
def test_entry_ignores_case_and_the_dash(client: FlaskClient, tv: RegisteredClient, typed: str) -> None:
    code = start(client, tv)["user_code"]
    entered = {"exact": code, "lower, no dash": _swap_case_and_dash(code), "spaces": f" {code[:4]} {code[5:]} "}
    response = enter_code(client.application.test_client(), entered[typed])
    assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/device/consent"


def test_sign_in_then_consent_then_device_connected(
    client: FlaskClient, tv: RegisteredClient, user: Any, clock: MovableClock
) -> None:
    body = start(client, tv)
    browser = client.application.test_client()
    consent_url = enter_code(browser, body["user_code"]).headers["Location"]
    response = browser.get(consent_url)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    login(browser)
    html = browser.get(consent_url).get_data(as_text=True)
    assert "Authorize Living-room TV" in html and "You entered a code from a device" in html
    assert 'value="api"' in html and 'value="restricted"' in html
    response = browser.post(
        consent_url, data={"csrf_token": csrf_from(html), "decision": "allow", "grant_scope": "api"}
    )
    assert response.status_code == 303
    done = browser.get(response.headers["Location"])
    assert done.status_code == 200 and "Device connected" in done.get_data(as_text=True)
    clock.advance(5)
    assert poll(client, tv, body["device_code"]).get_json()["scope"] == "api"  # the checked subset
    # the outcome is shown once; the page does not say it again on a reload
    assert browser.get("/device/done").status_code == 302


def test_deny_says_device_denied(client: FlaskClient, tv: RegisteredClient, user: Any) -> None:
    page = answer(client.application.test_client(), start(client, tv)["user_code"], decision="deny")
    assert page.status_code == 200 and "Device denied" in page.get_data(as_text=True)


def test_allow_with_nothing_checked_is_a_denial(
    client: FlaskClient, tv: RegisteredClient, user: Any, clock: MovableClock
) -> None:
    body = start(client, tv)
    page = answer(client.application.test_client(), body["user_code"], grant=[])
    assert "Device denied" in page.get_data(as_text=True)
    clock.advance(5)
    assert error_of(poll(client, tv, body["device_code"])) == (400, "access_denied")


def test_a_code_is_answered_once(client: FlaskClient, tv: RegisteredClient, user: Any) -> None:
    code = start(client, tv)["user_code"]
    answer(client.application.test_client(), code)
    again = enter_code(client.application.test_client(), code)
    assert again.status_code == 400 and "not valid or has expired" in again.get_data(as_text=True)


def test_the_consent_form_of_a_code_answered_meanwhile_changes_nothing(
    client: FlaskClient, tv: RegisteredClient, user: Any, clock: MovableClock
) -> None:
    body = start(client, tv)
    browser = client.application.test_client()
    login(browser)
    consent_url = enter_code(browser, body["user_code"]).headers["Location"]
    html = browser.get(consent_url).get_data(as_text=True)
    answer(client.application.test_client(), body["user_code"], decision="deny")  # another tab, another answer
    response = browser.post(
        consent_url, data={"csrf_token": csrf_from(html), "decision": "allow", "grant_scope": "api"}
    )
    assert response.status_code == 400 and "expired or was already answered" in response.get_data(as_text=True)
    clock.advance(5)
    assert error_of(poll(client, tv, body["device_code"])) == (400, "access_denied")


def test_unknown_expired_and_malformed_codes_are_explained(
    client: FlaskClient, tv: RegisteredClient, clock: MovableClock
) -> None:
    browser = client.application.test_client()
    unknown = enter_code(browser, "BBBB-BBBB")
    assert unknown.status_code == 400 and "not valid or has expired" in unknown.get_data(as_text=True)
    code = start(client, tv)["user_code"]
    clock.advance(600)
    expired = enter_code(browser, code)
    assert expired.status_code == 400 and "not valid or has expired" in expired.get_data(as_text=True)
    for typed in ("ABCD-EFGH", "BCDF-GHJ", "BCDF-GHJKL", "", "BCDF-GHJ1"):  # vowels, digits, wrong length
        malformed = enter_code(browser, typed)
        assert malformed.status_code == 400 and "eight letters" in malformed.get_data(as_text=True), typed


def test_a_consent_page_needs_a_reference_this_server_signed(
    client: FlaskClient, tv: RegisteredClient, user: Any, store: Store, sqlite_url: str
) -> None:
    body = start(client, tv)
    login(client)
    for reference in ("", "nope", digest(body["device_code"])):
        response = client.get(f"/device/consent?request={reference}")
        assert response.status_code == 400 and "Start again on your device" in response.get_data(as_text=True)
    # signed with another key: another server's, or this one's before a restart with a new random key
    other = app_for(store, sqlite_url, TESSERA_SECRET_KEY="y" * 40).test_client()
    consent_url = enter_code(other, body["user_code"]).headers["Location"]
    assert client.get(consent_url).status_code == 400


def test_a_consent_page_of_an_expired_code_is_refused(
    client: FlaskClient, tv: RegisteredClient, user: Any, clock: MovableClock
) -> None:
    browser = client.application.test_client()
    login(browser)
    consent_url = enter_code(browser, start(client, tv)["user_code"]).headers["Location"]
    clock.advance(600)
    assert browser.get(consent_url).status_code == 400


def test_both_forms_need_the_csrf_token(client: FlaskClient, tv: RegisteredClient, user: Any) -> None:
    body = start(client, tv)
    browser = client.application.test_client()
    browser.get("/device")
    assert browser.post("/device", data={"user_code": body["user_code"]}).status_code == 400
    assert browser.post("/device", data={"user_code": body["user_code"], "csrf_token": "x" * 43}).status_code == 400
    consent_url = enter_code(browser, body["user_code"]).headers["Location"]
    login(browser)
    browser.get(consent_url)
    for token in (None, "", "x" * 43):
        data = {"decision": "allow", "grant_scope": "api", **({} if token is None else {"csrf_token": token})}
        assert browser.post(consent_url, data=data).status_code == 400
    assert client.application.test_client().get(consent_url).status_code == 302  # signed out: sign in first


def _device_pages(client: FlaskClient, tv: RegisteredClient) -> dict[str, TestResponse]:
    browser = client.application.test_client()
    pages = {"code": browser.get("/device"), "unknown code": enter_code(browser, "BBBB-BBBB")}
    consent_url = enter_code(browser, start(client, tv)["user_code"]).headers["Location"]
    login(browser)
    pages["consent"] = browser.get(consent_url)
    html = pages["consent"].get_data(as_text=True)
    done = browser.post(consent_url, data={"csrf_token": csrf_from(html), "decision": "allow", "grant_scope": "api"})
    pages["done"] = browser.get(done.headers["Location"])
    pages["gone"] = browser.get(consent_url)
    return pages


def test_every_device_page_forbids_framing_and_referrers_and_loads_nothing_from_elsewhere(
    client: FlaskClient, tv: RegisteredClient, user: Any
) -> None:
    for name, response in _device_pages(client, tv).items():
        assert response.mimetype == "text/html", name
        assert response.headers.get("X-Frame-Options") == "DENY", name
        assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", ""), name
        assert response.headers.get("Referrer-Policy") == "no-referrer", name
        html = response.get_data(as_text=True)
        assert "<script" not in html and "http" not in html.split("<body>")[1], name


# rate limits on entering codes


def test_wrong_codes_from_one_address_are_limited_even_before_the_right_one(
    store: Store, sqlite_url: str, tv: RegisteredClient
) -> None:
    app = app_for(store, sqlite_url, TESSERA_USER_CODE_LIMIT_ADDRESS="3/minute")
    client = app.test_client()
    code = start(client, tv)["user_code"]
    for _ in range(3):
        assert enter_code(client, "BBBB-BBBB", **ADDRESS).status_code == 400
    limited = enter_code(client, code, **ADDRESS)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "Too many codes tried" in limited.get_data(as_text=True)
    # another address is not held up by this one
    assert enter_code(client, code, REMOTE_ADDR="192.0.2.8").status_code == 303


def test_a_right_code_gives_its_attempt_back_and_typos_are_not_counted(
    store: Store, sqlite_url: str, tv: RegisteredClient
) -> None:
    client = app_for(store, sqlite_url, TESSERA_USER_CODE_LIMIT_ADDRESS="2/minute").test_client()
    for _ in range(3):
        assert enter_code(client, start(client, tv)["user_code"], **ADDRESS).status_code == 303
        assert enter_code(client, "BCD", **ADDRESS).status_code == 400  # not a code: nothing looked up
    assert enter_code(client, "BBBB-BBBB", **ADDRESS).status_code == 400
    assert enter_code(client, start(client, tv)["user_code"], **ADDRESS).status_code == 303


def test_the_whole_code_space_has_a_budget_across_addresses(
    store: Store, sqlite_url: str, tv: RegisteredClient
) -> None:
    client = app_for(store, sqlite_url, TESSERA_USER_CODE_LIMIT="3/minute").test_client()
    for i in range(3):
        assert enter_code(client, "BBBB-BBBB", REMOTE_ADDR=f"198.51.100.{i}").status_code == 400
    assert enter_code(client, "BBBB-BBBB", REMOTE_ADDR="203.0.113.9").status_code == 429


def test_the_consent_page_asks_every_time_even_after_an_earlier_allow(
    client: FlaskClient, tv: RegisteredClient, user: Any
) -> None:
    browser = client.application.test_client()
    answer(browser, start(client, tv)["user_code"])  # allowed once, and remembered for other flows
    consent_url = enter_code(browser, start(client, tv)["user_code"]).headers["Location"]
    again = browser.get(consent_url)
    assert again.status_code == 200 and "Authorize Living-room TV" in again.get_data(as_text=True)
