"""The seed's whole flow in Chromium: log in, consent, call the API; then the variants a learner will try."""

import os
import subprocess

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.demo.process import DemoProcess, tessera_command
from tests.e2e.conftest import Screenshots

pytestmark = pytest.mark.e2e


def _sign_in(page: Page, demo: DemoProcess, shots: Screenshots) -> None:
    page.goto(demo.app_url + "/")
    expect(page.get_by_role("heading", name="Tessera demo app")).to_be_visible()
    shots.take(page, "app-home")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.url.startswith(demo.auth_url + "/login")
    shots.take(page, "sign-in")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    assert page.url.startswith(demo.auth_url + "/authorize")


def _call(page: Page, path: str) -> Locator:
    return page.locator("section.call", has=page.locator("code.url", has_text=path))


def test_log_in_allow_and_call_the_api(page: Page, demo: DemoProcess, shots: Screenshots) -> None:
    _sign_in(page, demo, shots)
    shots.take(page, "consent")
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("You are authenticated")).to_be_visible()
    expect(page.get_by_text("Protected API data.")).to_be_visible()
    expect(page.get_by_text("Restricted API data.")).to_be_visible()
    expect(page.locator(".username")).to_have_text("demo")
    assert page.url == demo.app_url + "/protected"
    shots.take(page, "protected")
    assert "tsr_" not in page.content()


def test_restricted_unchecked_is_refused_by_the_api(page: Page, demo: DemoProcess, shots: Screenshots) -> None:
    _sign_in(page, demo, shots)
    page.locator('input[name="grant_scope"][value="restricted"]').uncheck()
    shots.take(page, "consent-restricted-unchecked")
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("You are authenticated")).to_be_visible()
    expect(_call(page, "/api/data")).to_contain_text("200 OK")
    expect(_call(page, "/api/data")).to_contain_text("Protected API data.")
    restricted = _call(page, "/api/restricted")
    expect(restricted).to_contain_text("403 Forbidden")
    expect(restricted).to_contain_text('error="insufficient_scope"')
    expect(restricted).not_to_contain_text("Restricted API data.")
    shots.take(page, "protected-without-restricted")


def test_deny_is_shown_calmly(page: Page, demo: DemoProcess, shots: Screenshots) -> None:
    _sign_in(page, demo, shots)
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("heading", name="You did not allow access")).to_be_visible()
    expect(page.get_by_text("access_denied").first).to_be_visible()
    assert page.url.startswith(demo.app_url + "/authorize?")
    shots.take(page, "denied")
    page.goto(demo.app_url + "/protected")
    expect(page.get_by_text("You are not authenticated")).to_be_visible()


def _logged_in(page: Page, demo: DemoProcess, shots: Screenshots) -> None:
    _sign_in(page, demo, shots)
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("Protected API data.")).to_be_visible()


def test_logout_revokes_the_token(page: Page, demo: DemoProcess, shots: Screenshots) -> None:
    _logged_in(page, demo, shots)
    page.get_by_role("button", name="Log out").click()
    # the app sends the person to sign out at the server too (OpenID Connect RP-Initiated Logout)
    expect(page.get_by_text("Demo app asks to sign you out of Tessera")).to_be_visible()
    assert page.url.startswith(demo.auth_url + "/end-session?")
    shots.take(page, "end-session")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are logged out")).to_be_visible()
    assert page.url.startswith(demo.app_url + "/logged-out?state=")
    expect(page.get_by_text("You signed out at the authorization server too")).to_be_visible()
    old_token = _call(page, "/api/data")
    expect(old_token).to_contain_text("401 Unauthorized")
    expect(old_token).to_contain_text('error="invalid_token"')
    shots.take(page, "logged-out")
    page.goto(demo.app_url + "/protected")
    expect(page.get_by_text("You are not authenticated")).to_be_visible()
    shots.take(page, "protected-after-logout")


def test_revocation_by_the_cli_while_logged_in(page: Page, demo: DemoProcess, shots: Screenshots) -> None:
    _logged_in(page, demo, shots)
    revoke = subprocess.run(
        [tessera_command(), "tokens", "revoke", "--user", "demo"],
        env={
            **{k: v for k, v in os.environ.items() if k != "TESSERA_REDIS_URL"},
            "TESSERA_DATABASE_URL": demo.database_url,
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert revoke.returncode == 0, revoke.stderr
    assert revoke.stdout == "Revoked 1 token pair (access and refresh tokens).\n"
    assert revoke.stderr.startswith("Warning: TESSERA_REDIS_URL is not set")  # the demo API keeps no cache to tell
    page.get_by_role("link", name="Call the API again").click()
    expect(page.get_by_text("You are authenticated")).to_be_visible()
    for path in ("/api/data", "/api/restricted"):
        expect(_call(page, path)).to_contain_text("401 Unauthorized")
        expect(_call(page, path)).to_contain_text('error="invalid_token"')
    expect(page.get_by_text("Protected API data.")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("The token was revoked")
    shots.take(page, "protected-after-cli-revocation")


def test_a_link_to_login_or_logout_does_nothing_by_itself(page: Page, demo: DemoProcess, shots: Screenshots) -> None:
    page.goto(demo.app_url + "/login")  # what a link on another site would do
    assert page.url == demo.app_url + "/"
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    _logged_in(page, demo, shots)
    page.goto(demo.app_url + "/logout")
    expect(page.get_by_role("heading", name="Log out of the demo app?")).to_be_visible()
    shots.take(page, "logout-asks")
    page.goto(demo.app_url + "/protected")
    expect(page.get_by_text("You are authenticated")).to_be_visible()  # still logged in
    page.goto(demo.app_url + "/logout")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Sign out").click()  # at the server
    expect(page.get_by_role("heading", name="You are logged out")).to_be_visible()
