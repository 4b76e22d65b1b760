"""The demo client app against the real authorization server and API, over real sockets."""

import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from tessera.config import Secret
from tessera.demo.client_app import ClientAppConfig, create_client_app
from tessera.demo.run import RunningDemo
from tessera.store import Store, make_engine
from tests.demo.conftest import Person
from tests.demo.process import free_ports


def _call(page: str, path: str) -> str:
    """The result box of one API call on a page."""
    return next(box for box in page.split('<section class="call">')[1:] if f"{path}</code>" in box)


def test_home_offers_log_in(person: Person) -> None:
    page = person.get("/")
    assert page.status_code == 200
    assert re.search(
        r'<form method="post" action="/login">\s*<input type="hidden" name="csrf_token" value="[\w-]{43}">\s*'
        r'<button type="submit">Log in</button>\s*</form>',
        page.text,
    )


def test_protected_page_without_login(person: Person) -> None:
    page = person.get("/protected")
    assert page.status_code == 200
    assert "You are not authenticated" in page.text
    assert "You are authenticated" not in page.text


def test_login_starts_the_code_flow_with_pkce_and_state(person: Person) -> None:
    response = person.press_log_in(allow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}" == person.demo.auth_url
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [person.demo.app_url + "/authorize"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 20
    assert query["scope"] == ["openid profile api restricted"] and len(query["nonce"][0]) >= 20


def test_the_whole_flow(person: Person) -> None:
    page = person.log_in()
    assert page.url == person.demo.app_url + "/protected"
    assert "You are authenticated" in page.text
    assert '<strong class="username">demo</strong>' in page.text
    granted = re.search(r"<dd>((?:<code>[^<]+</code> )+)</dd>", page.text)
    assert granted is not None, page.text
    assert sorted(re.findall(r"<code>([^<]+)</code>", granted.group(1))) == ["api", "openid", "profile", "restricted"]
    assert re.search(r'class="lifetime">59 min \d+ s<', page.text)
    data, restricted = _call(page.text, "/api/data"), _call(page.text, "/api/restricted")
    assert "200 OK" in data and "Protected API data." in data
    assert "200 OK" in restricted and "Restricted API data." in restricted
    # never a token: not on the page, not in the app's cookie
    assert "tsr_" not in page.text
    assert all("tsr_" not in (c.value or "") for c in person.http.cookies)


def test_restricted_unchecked_gives_403(person: Person) -> None:
    page = person.log_in(grant=("api",))
    assert "You are authenticated" in page.text
    assert "200 OK" in _call(page.text, "/api/data")
    restricted = _call(page.text, "/api/restricted")
    assert "403 Forbidden" in restricted
    assert "error=&#34;insufficient_scope&#34;" in restricted
    assert "Restricted API data." not in restricted


def test_deny_is_shown_calmly(person: Person) -> None:
    page = person.decide(person.start_login(), "deny")
    assert page.status_code == 200
    assert page.url.startswith(person.demo.app_url + "/authorize?")
    assert "You did not allow access" in page.text and "access_denied" in page.text
    assert "You are not authenticated" in person.get("/protected").text


def _callback(person: Person) -> str:
    """Sign in and allow, but stop at the redirect back to the app: the callback URL with its code."""
    answer = person.decide(person.start_login(), follow=False)
    assert answer.status_code == 303
    return answer.headers["Location"]


def _with(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | params
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_callback_refuses_another_issuer_before_using_the_code(person: Person) -> None:
    callback = _callback(person)
    assert parse_qs(urlsplit(callback).query)["iss"] == [person.demo.auth_url]
    refused = person.http.get(_with(callback, iss="http://127.0.0.1:1"), timeout=10)
    assert refused.status_code == 400 and "RFC 9207" in refused.text
    missing = person.http.get(callback.replace("&iss=", "&was="), timeout=10)
    assert missing.status_code == 400 and "no iss" in missing.text
    # the code was not spent on those: the genuine answer still logs in
    assert "You are authenticated" in person.http.get(callback, timeout=10).text


def test_callback_refuses_an_unknown_state(person: Person) -> None:
    callback = _callback(person)
    refused = person.http.get(_with(callback, state="not-the-one-we-sent"), timeout=10)
    assert refused.status_code == 400
    assert "mismatching_state" in refused.text


def test_login_and_logout_need_a_post_with_the_csrf_token(person: Person, demo: RunningDemo) -> None:
    # a link, or another site's form, starts no login
    link = person.get("/login", allow_redirects=False)
    assert link.status_code == 303 and link.headers["Location"] == "/"
    token = _csrf(person.get("/").text)
    stranger = Person(demo)  # another browser: its own session, no token of this one's
    stranger.get("/")
    for who, data in (
        (person, {}),
        (person, {"csrf_token": ""}),
        (person, {"csrf_token": "forged"}),
        (stranger, {"csrf_token": token}),
    ):
        refused = who.post("/login", data=data, allow_redirects=False)
        assert refused.status_code == 400 and "Location" not in refused.headers
        assert "This request is refused" in refused.text and "did not come from this app" in refused.text
    # nor ends one
    person.log_in()
    ask = person.get("/logout")
    assert ask.status_code == 200 and "Log out of the demo app?" in ask.text
    for data in ({}, {"csrf_token": "forged"}):
        refused = person.post("/logout", data=data)
        assert refused.status_code == 400 and "This request is refused" in refused.text
    assert "You are authenticated" in person.get("/protected").text
    assert "(HTTP 200)" in person.log_out().text
    assert "You are not authenticated" in person.get("/protected").text


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def test_an_error_answer_to_a_login_not_started_here_is_refused_and_not_shown(person: Person) -> None:
    iss = person.demo.auth_url
    lure = {"error": "access_denied", "error_description": "Your account is locked: call +1 555 0100", "iss": iss}
    for forged in ({}, {"state": "made-up"}):
        refused = person.get("/authorize?" + urlencode(lure | forged))
        assert refused.status_code == 400
        assert "This answer is refused" in refused.text and "its state is unknown" in refused.text
        assert "555" not in refused.text and "access_denied" not in refused.text
    # the answer to a login this browser started is shown, once
    started = person.press_log_in(allow_redirects=False)
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    answer = "/authorize?" + urlencode(
        {"error": "server_error", "error_description": "Try later.", "state": state, "iss": iss}
    )
    failed = person.get(answer)
    assert failed.status_code == 400 and "Login failed" in failed.text and "Try later." in failed.text
    assert "its state is unknown" in person.get(answer).text  # that login attempt is over


def test_logout_revokes_and_the_old_token_is_rejected(person: Person) -> None:
    person.log_in()
    page = person.log_out()
    assert "You are logged out" in page.text
    assert "(HTTP 200)" in page.text
    after = _call(page.text, "/api/data")
    assert "401 Unauthorized" in after and "error=&#34;invalid_token&#34;" in after
    assert "You are not authenticated" in person.get("/protected").text


def test_logout_revokes_and_signs_out_at_the_server_too(person: Person) -> None:
    person.log_in()
    asked = person.log_out(at_the_server=False)
    # the app sent the person to the server's end-session endpoint with its ID token and registered page
    assert asked.url.startswith(person.demo.auth_url + "/end-session?")
    query = parse_qs(urlsplit(asked.url).query)
    assert query["post_logout_redirect_uri"] == [person.demo.app_url + "/logged-out"]
    assert query["id_token_hint"][0].count(".") == 2 and query["state"][0]
    assert "Demo app asks to sign you out of Tessera" in asked.text and "demo" in asked.text
    assert "You are not authenticated" in person.get("/protected").text  # the app's tokens are revoked already
    back = person.sign_out_at_the_server(asked)
    assert back.url == person.demo.app_url + "/logged-out?" + urlencode({"state": query["state"][0]})
    assert "You are logged out" in back.text and "(HTTP 200)" in back.text
    assert "401 Unauthorized" in _call(back.text, "/api/data")
    assert "You signed out at the authorization server too" in back.text
    # signed out at the server: the next login asks for the password
    assert 'name="password"' in person.press_log_in().text
    # the page shows what one logout did once, and only for the state it sent
    assert "There was no login to end." in person.get(urlsplit(back.url).path + "?" + urlsplit(back.url).query).text


def test_logout_without_login(person: Person) -> None:
    page = person.get("/logout")
    assert page.status_code == 200 and "There was no login to end." in page.text
    page = person.post("/logout", data={"csrf_token": _csrf(person.get("/").text)})
    assert page.status_code == 200 and "There was no login to end." in page.text


def test_revocation_elsewhere_shows_at_the_next_call(person: Person, demo_store: Store) -> None:
    person.log_in()
    assert len(demo_store.tokens.revoke_for_user("demo")) == 1  # what `tessera tokens revoke --user demo` does
    page = person.get("/protected")
    assert "You are authenticated" in page.text  # the app's session lives on; its token does not
    assert "The token was revoked" in page.text
    for path in ("/api/data", "/api/restricted"):
        assert "401 Unauthorized" in _call(page.text, path)
        assert "invalid_token" in _call(page.text, path)


def test_an_expiring_token_is_refreshed_and_rotated(start_demo) -> None:
    # 5 s lifetime, below the app's 10 s leeway: every visit refreshes first
    person = Person(start_demo({"TESSERA_ACCESS_TOKEN_TTL": "5"}))
    person.log_in()
    for _ in range(2):  # twice: the second refresh needs the rotated refresh token of the first
        page = person.get("/protected")
        assert "used the refresh token to get" in page.text
        assert "200 OK" in _call(page.text, "/api/data")
        # a fresh 5 s token; a second or more may pass on a busy machine before the page shows what is left
        assert re.search(r'class="lifetime">[1-5] s<', page.text)


def test_two_requests_at_once_refresh_once(start_demo) -> None:
    person = Person(start_demo({"TESSERA_ACCESS_TOKEN_TTL": "5"}))
    person.log_in()
    with ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(lambda _: person.get("/protected").text, range(4)))
    # had two of them refreshed with the same refresh token, Tessera would have revoked the grant
    assert all("You are authenticated" in page and "200 OK" in _call(page, "/api/data") for page in pages)
    assert "200 OK" in _call(person.get("/protected").text, "/api/data")


def test_a_refused_refresh_ends_the_login(start_demo) -> None:
    demo = start_demo({"TESSERA_ACCESS_TOKEN_TTL": "5"})
    person = Person(demo)
    person.log_in()
    engine = make_engine(demo.database_url)
    Store(engine).tokens.revoke_for_user("demo")  # the refresh token too
    engine.dispose()
    page = person.get("/protected")
    assert "You are not authenticated" in page.text
    assert "refused to refresh" in page.text and "invalid_grant" in page.text
    assert "refused to refresh" not in person.get("/protected").text  # the login is over, said once


def test_an_unreachable_server_is_a_calm_page() -> None:
    port = free_ports(1)[0]
    app = create_client_app(
        ClientAppConfig(
            issuer=f"http://127.0.0.1:{port}",
            client_id="x",
            client_secret=Secret("y"),
            redirect_uri="http://127.0.0.1:8002/authorize",
            api_base_url="http://127.0.0.1:8001",
        )
    )
    browser = app.test_client()
    page = browser.post("/login", data={"csrf_token": _csrf(browser.get("/").get_data(as_text=True))})
    assert page.status_code == 502
    assert "does not answer" in page.get_data(as_text=True)
    assert page.headers["X-Frame-Options"] == "DENY"
