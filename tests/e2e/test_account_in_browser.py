"""The account page in Chromium: a person who signed in to the demo app through Tessera opens the applications they
allowed, clicks Revoke, and the demo app's next call to the demo API is refused at once."""

import pytest
from playwright.sync_api import Page, expect

from tests.demo.process import DemoProcess
from tests.e2e.conftest import Screenshots
from tests.e2e.test_demo_in_browser import _call, _logged_in

pytestmark = pytest.mark.e2e


def test_revoke_on_the_account_page_ends_the_apps_access(page: Page, demo: DemoProcess, shots: Screenshots) -> None:
    _logged_in(page, demo, shots)
    page.goto(demo.auth_url + "/")
    page.get_by_role("link", name="Applications you allowed").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_text("Demo app")).to_be_visible()
    expect(page.locator("li.app code")).to_have_text(["api", "openid", "profile", "restricted"])
    shots.take(page, "account")

    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_have_text("Demo app no longer has access to your account.")
    expect(page.get_by_text("You have not allowed any application to use your account.")).to_be_visible()
    shots.take(page, "account-after-revoke")

    page.goto(demo.app_url + "/protected")
    for path in ("/api/data", "/api/restricted"):
        expect(_call(page, path)).to_contain_text("401 Unauthorized")
        expect(_call(page, path)).to_contain_text('error="invalid_token"')
    expect(page.get_by_text("Protected API data.")).to_have_count(0)
    shots.take(page, "protected-after-account-revoke")
