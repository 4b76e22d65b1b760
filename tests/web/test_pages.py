"""Pages for people: sign-in, consent, sign-out and error pages (RFC 9700 §4.11, §4.12, §4.16; OWASP CSRF).

What a person sees is checked through the HTML itself (labels bound to inputs, buttons by name), and what a
browser is told through the headers (no framing, no referrer, no cross-site cookie).
"""

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.store import Store
from tests.conftest import (
    INTROSPECT,
    ISSUER,
    REDIRECT_URI,
    RegisteredClient,
    authorize_params,
    csrf_from,
    exchange,
    login,
    pkce_pair,
    register_client,
)

# -- reading pages


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


class Page(HTMLParser):
    """Every element with its attributes, and the text inside labels, buttons, headings and alerts."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag in ("label", "button", "h1", "title", "div", "p", "strong"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and all(e.attrs.get(k) == v for k, v in attrs.items())]

    def labelled(self, label_text: str) -> Element:
        """The input a label with exactly this text is bound to by ``for``/``id``."""
        labels = [e for e in self.find("label") if " ".join(e.text.split()) == label_text]
        assert len(labels) == 1, f"expected one label {label_text!r}, found {len(labels)}"
        target = labels[0].attrs.get("for")
        assert target, f"label {label_text!r} has no 'for'"
        inputs = [e for e in self.elements if e.attrs.get("id") == target]
        assert len(inputs) == 1 and inputs[0].tag == "input", f"label {label_text!r} points at {target!r}"
        return inputs[0]

    def button(self, name: str) -> Element:
        buttons = [e for e in self.find("button") if " ".join(e.text.split()) == name]
        assert len(buttons) == 1, f"expected one button {name!r}, found {len(buttons)}"
        return buttons[0]


def parse(response: TestResponse) -> Page:
    page = Page()
    page.feed(response.get_data(as_text=True))
    return page


def _authorize_url(registered: RegisteredClient, challenge: str, **extra: str) -> str:
    return "/authorize?" + urlencode(authorize_params(registered, challenge, **extra))


def _post_login(
    client: FlaskClient, username: str, password: str, *, next_url: str = "/", csrf: str | None = "fetch"
) -> TestResponse:
    page = client.get("/login").get_data(as_text=True)
    data = {"username": username, "password": password, "next": next_url}
    if csrf == "fetch":
        data["csrf_token"] = csrf_from(page)
    elif csrf is not None:
        data["csrf_token"] = csrf
    return client.post("/login", data=data)


def _is_signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    if response.status_code == 200:
        return True
    assert response.status_code in (302, 303) and urlsplit(response.headers["Location"]).path == "/login"
    return False


def _alert(page: Page) -> str:
    alerts = [e for e in page.elements if e.attrs.get("role") == "alert"]
    assert len(alerts) == 1, "expected one alert on the page"
    return " ".join(alerts[0].text.split())


def _query(response: TestResponse) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["Location"]).query)


@pytest.fixture
def consent_client(store: Store) -> RegisteredClient:
    return register_client(store, name="Photo Printer")


# -- the login page


def test_login_page_has_labelled_fields_and_a_sign_in_button(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = parse(response)
    username = page.labelled("Username")
    password = page.labelled("Password")
    assert username.attrs.get("name") == "username" and username.attrs.get("type") in ("text", "email", None)
    assert password.attrs.get("name") == "password" and password.attrs.get("type") == "password"
    assert page.button("Sign in").attrs.get("type") in ("submit", None)
    forms = page.find("form")
    assert len(forms) == 1 and (forms[0].attrs.get("method") or "").lower() == "post"
    assert page.find("input", name="csrf_token", type="hidden")


def test_wrong_password_and_unknown_username_look_alike(client: FlaskClient, user: Any) -> None:
    wrong = _post_login(client, "alice", "wrong horse")
    unknown = _post_login(client, "mallory", "wrong horse")
    assert wrong.status_code == unknown.status_code
    assert wrong.status_code in (200, 400, 401, 403)
    message = _alert(parse(wrong))
    assert message and message == _alert(parse(unknown))
    for revealing in ("alice", "mallory", "unknown", "not found", "no such", "does not exist"):
        assert revealing not in message.lower()
    # the same form comes back, ready for another try
    parse(unknown).labelled("Password")
    assert not _is_signed_in(client)


def test_correct_password_signs_in_with_303(client: FlaskClient, user: Any) -> None:
    response = _post_login(client, "alice", "correct horse")
    assert response.status_code in (302, 303)
    assert _is_signed_in(client)


@pytest.mark.parametrize("typed", ["Alice", "ALICE", "ａｌｉｃｅ", " aLiCe "])
def test_any_case_or_width_of_a_username_signs_in_as_its_account(client: FlaskClient, user: Any, typed: str) -> None:
    response = _post_login(client, typed, "correct horse")
    assert response.status_code == 303
    home = parse(client.get("/"))
    assert [e.text for e in home.find("strong")] == ["alice"]  # "You are signed in to Tessera as alice."


def test_disabled_user_cannot_sign_in(client: FlaskClient, store: Store, user: Any) -> None:
    store.users.disable("alice")
    disabled = _post_login(client, "alice", "correct horse")
    wrong = _post_login(client, "alice", "wrong horse")
    assert disabled.status_code == wrong.status_code
    assert _alert(parse(disabled)) == _alert(parse(wrong))
    assert "Location" not in disabled.headers
    assert not _is_signed_in(client)


def test_disabling_a_signed_in_user_ends_their_session(
    client: FlaskClient, store: Store, consent_client: RegisteredClient, user: Any
) -> None:
    _, challenge = pkce_pair()
    login(client)
    assert client.get(_authorize_url(consent_client, challenge)).status_code == 200
    store.users.disable("alice")
    response = client.get(_authorize_url(consent_client, challenge))
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


@pytest.mark.parametrize("csrf", [None, "", "forged-token"], ids=["missing", "empty", "wrong"])
def test_login_without_the_csrf_token_is_refused(client: FlaskClient, user: Any, csrf: str | None) -> None:
    response = _post_login(client, "alice", "correct horse", csrf=csrf)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert not _is_signed_in(client)


def test_login_with_another_sessions_csrf_token_is_refused(app: Any, user: Any) -> None:
    victim, attacker = app.test_client(), app.test_client()
    victim.get("/login")
    token = csrf_from(attacker.get("/login").get_data(as_text=True))
    response = victim.post("/login", data={"username": "alice", "password": "correct horse", "csrf_token": token})
    assert response.status_code == 400
    assert not _is_signed_in(victim)


def test_login_without_any_session_is_refused(client: FlaskClient, user: Any) -> None:
    response = client.post("/login", data={"username": "alice", "password": "correct horse", "csrf_token": "x"})
    assert response.status_code == 400
    assert not _is_signed_in(client)


# -- where the login sends people


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/authorize",
        "http://evil.example",
        "https://evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "///evil.example",
        "http:/evil.example",
    ],
)
def test_next_is_never_an_open_redirect(client: FlaskClient, user: Any, target: str) -> None:
    page = client.get("/login?" + urlencode({"next": target}))
    if any(c < " " for c in target):  # a link never holds a control character: refused before the page
        assert page.status_code == 400 and "Location" not in page.headers
    else:
        assert page.status_code == 200
        hidden = parse(page).find("input", name="next")
        assert all(not (e.attrs.get("value") or "").startswith(("//", "http", "\\", "/\\")) for e in hidden)

    response = _post_login(client, "alice", "correct horse", next_url=target)
    assert response.status_code in (302, 303)
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location
    assert "evil" not in location


def test_next_keeps_a_local_path(client: FlaskClient, consent_client: RegisteredClient, user: Any) -> None:
    _, challenge = pkce_pair()
    url = _authorize_url(consent_client, challenge)
    response = client.get(url)
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert urlsplit(login_url).path == "/login"
    next_url = parse_qs(urlsplit(login_url).query)["next"][0]

    page = client.get(login_url).get_data(as_text=True)
    signed_in = client.post(
        "/login",
        data={"username": "alice", "password": "correct horse", "csrf_token": csrf_from(page), "next": next_url},
    )
    assert signed_in.status_code in (302, 303)
    assert signed_in.headers["Location"] == url
    assert client.get(signed_in.headers["Location"]).status_code == 200  # the consent page


def test_login_page_names_the_client_only_for_a_known_one(
    client: FlaskClient, consent_client: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    login_url = client.get(_authorize_url(consent_client, challenge)).headers["Location"]
    assert "to continue to <strong>Photo Printer</strong>" in client.get(login_url).get_data(as_text=True)
    for client_id in ("unknown", "x" * 65, ""):
        page = client.get("/login?" + urlencode({"next": "/authorize?" + urlencode({"client_id": client_id})}))
        assert "to continue to" not in page.get_data(as_text=True)


# -- session cookie, sign-out


def test_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient, user: Any) -> None:
    response = _post_login(client, "alice", "correct horse")
    cookies = [c for c in response.headers.getlist("Set-Cookie") if "session" in c.split("=", 1)[0]]
    assert cookies, response.headers
    for cookie in cookies:
        attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
        assert "httponly" in attributes, cookie
        assert attributes.get("samesite", "").lower() == "samesite=lax", cookie


def test_sign_in_starts_a_fresh_session(client: FlaskClient, user: Any) -> None:
    """No session fixation: the CSRF token handed out before sign-in is not the one after it."""
    before = csrf_from(client.get("/login").get_data(as_text=True))
    login(client)
    after = csrf_from(client.get("/login").get_data(as_text=True))
    assert before != after


def _logout(client: FlaskClient) -> TestResponse:
    page = client.get("/logout")
    return client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def test_logout_ends_the_session(client: FlaskClient, consent_client: RegisteredClient, user: Any) -> None:
    _, challenge = pkce_pair()
    url = _authorize_url(consent_client, challenge)
    login(client)
    assert client.get(url).status_code == 200
    response = _logout(client)
    assert response.status_code == 303
    assert "Signed out" in client.get(response.headers["Location"]).get_data(as_text=True)
    again = client.get(url)
    assert again.status_code == 302 and urlsplit(again.headers["Location"]).path == "/login"
    assert not _is_signed_in(client)


def test_logout_needs_a_post_with_the_csrf_token(client: FlaskClient, user: Any) -> None:
    """Another site cannot sign people out with a link or a forged form."""
    login(client)
    page = client.get("/logout")
    assert page.status_code == 200 and "Sign out" in page.get_data(as_text=True)
    assert _is_signed_in(client)
    assert client.post("/logout").status_code == 400
    assert _is_signed_in(client)


# -- the authorization endpoint's error page

#: text an attacker would like the server to show in its own voice
BAIT = "SECURITY_NOTICE:_your_account_is_locked._Restore_access_at_https://evil.example/restore"
_UNSUPPORTED = "The application asked for a kind of answer this server does not give ('response_type' must be 'code')."
_UNREGISTERED = "The application asked to send you back to an address it has not registered ('redirect_uri')."
#: every OAuth error the authorization endpoint raises before a redirect is allowed: the parameters changed
#: (None: left out) and added to a good request whose state is the bait, and the words the page must show
AUTHORIZE_ERRORS: dict[str, tuple[dict[str, str | None], list[tuple[str, str]], str]] = {
    "unsupported-response-type": ({"client_id": None, "response_type": BAIT}, [], _UNSUPPORTED),
    "unsupported-response-type-unknown-client": ({"client_id": BAIT, "response_type": BAIT}, [], _UNSUPPORTED),
    "unsupported-response-type-unregistered-redirect": (
        {"response_type": BAIT, "redirect_uri": "https://evil.example/" + BAIT},
        [],
        _UNSUPPORTED,
    ),
    "missing-client-id": (
        {"client_id": None},
        [],
        "The application that sent you here did not say which application it is ('client_id' is missing).",
    ),
    "unknown-client": (
        {"client_id": BAIT},
        [],
        "The application that sent you here is not registered with this server ('client_id' is unknown).",
    ),
    "missing-redirect-uri": (
        {"redirect_uri": None},
        [],
        "The application did not say where to send you back ('redirect_uri' is missing).",
    ),
    "unregistered-redirect-uri": ({"redirect_uri": "https://evil.example/" + BAIT}, [], _UNREGISTERED),
    **{
        f"repeated-{name}": ({}, [(name, BAIT)], f"The application sent '{name}' more than once.")
        for name in ("response_type", "client_id", "redirect_uri", "scope", "state")
    },
    "characters-no-error-description-can-hold": (
        {"client_id": None, "response_type": '"' + BAIT},
        [],
        "The request contains characters that are not allowed.",
    ),
}


@pytest.mark.parametrize("case", AUTHORIZE_ERRORS)
def test_the_authorization_error_page_speaks_in_its_own_words(
    client: FlaskClient, consent_client: RegisteredClient, user: Any, case: str
) -> None:
    """What the request said is never shown: each error has our own sentence, naming the parameter at fault."""
    changes, extra, words = AUTHORIZE_ERRORS[case]
    _, challenge = pkce_pair()
    good = authorize_params(consent_client, challenge, state=BAIT)
    changed = [(k, changes.get(k, v)) for k, v in good.items()] + [(k, v) for k, v in changes.items() if k not in good]
    pairs = [(k, v) for k, v in changed if v is not None] + extra
    login(client)  # signed in or not, the page is the same; signed in is where a lure would work best
    response = client.get("/authorize?" + urlencode(pairs))
    assert response.status_code == 400 and "Location" not in response.headers, response.headers
    assert response.mimetype == "text/html"
    page = parse(response)
    assert [" ".join(h.text.split()) for h in page.find("h1")] == ["This request cannot be completed"]
    assert words in [" ".join(p.text.split()) for p in page.find("p")]
    html = response.get_data(as_text=True)
    assert "SECURITY_NOTICE" not in html and "evil.example" not in html


# -- headers and assets on every page


def _page(client: FlaskClient, registered: RegisteredClient, name: str) -> TestResponse:
    """One page of each kind; each signs in only if it has to (argon2 makes sign-in the slow part)."""
    if name == "login":
        return client.get("/login")
    if name == "login-failed":
        return _post_login(client, "alice", "wrong horse")
    if name == "error":
        return client.get("/authorize?client_id=nope")
    if name == "not-found":
        return client.get("/no-such-page")
    login(client)
    if name == "home":
        return client.get("/")
    if name == "consent":
        _, challenge = pkce_pair()
        return client.get(_authorize_url(registered, challenge))
    assert name == "logged-out"
    return client.get(_logout(client).headers["Location"])


PAGE_STATUS = {
    "login": (200,),
    "login-failed": (200, 400, 401, 403),
    "error": (400,),
    "not-found": (404,),
    "home": (200,),
    "consent": (200,),
    "logged-out": (200,),
}
PAGE_NAMES = list(PAGE_STATUS)


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_every_page_forbids_framing_and_referrers(
    client: FlaskClient, consent_client: RegisteredClient, user: Any, name: str
) -> None:
    response = _page(client, consent_client, name)
    assert response.status_code in PAGE_STATUS[name] and response.mimetype == "text/html", name
    assert response.headers.get("X-Frame-Options") == "DENY", name
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {d.strip().split()[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", csp
    assert response.headers.get("Referrer-Policy") == "no-referrer", name


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_pages_load_nothing_from_elsewhere(
    client: FlaskClient, consent_client: RegisteredClient, user: Any, name: str
) -> None:
    response = _page(client, consent_client, name)
    assert response.status_code in PAGE_STATUS[name], name
    page = parse(response)
    for element in page.elements:
        for attr in ("src", "href"):
            value = (element.attrs.get(attr) or "").strip().lower()
            assert "http" not in value and not value.startswith("//"), (name, element)
        # the CSP allows no inline code or style: anything inline would silently not apply
        assert "style" not in element.attrs and not any(a.startswith("on") for a in element.attrs), (name, element)
    assert not page.find("script") and not page.find("style"), name
    sheets = [e.attrs.get("href") for e in page.find("link") if e.attrs.get("rel") == "stylesheet"]
    assert sheets == ["/static/style.css"], (name, sheets)


def test_stylesheet_is_served(client: FlaskClient) -> None:
    with client.get("/static/style.css") as response:
        assert response.status_code == 200 and response.mimetype == "text/css"
        assert response.get_data(as_text=True).strip()


# -- the consent page


def test_consent_page_names_the_client_and_checks_every_requested_scope(
    client: FlaskClient, consent_client: RegisteredClient, user: Any
) -> None:
    _, challenge = pkce_pair()
    login(client)
    response = client.get(_authorize_url(consent_client, challenge))
    assert response.status_code == 200
    page = parse(response)
    assert "Photo Printer" in " ".join(e.text for e in page.find("h1"))
    boxes = page.find("input", type="checkbox")
    assert [b.attrs.get("value") for b in boxes] == ["api", "restricted"]
    for box in boxes:
        assert "checked" in box.attrs and box.attrs.get("name") == "grant_scope"
        box_id = box.attrs.get("id")
        assert box_id and any(label.attrs.get("for") == box_id for label in page.find("label")), box
    assert page.button("Allow") and page.button("Deny")
    form = page.find("form")[0]
    assert (form.attrs.get("method") or "").lower() == "post"


def test_consent_page_escapes_the_client_name(client: FlaskClient, store: Store, user: Any) -> None:
    sneaky = register_client(store, name='<img src=x onerror="alert(1)">')
    _, challenge = pkce_pair()
    login(client)
    html = client.get(_authorize_url(sneaky, challenge)).get_data(as_text=True)
    assert "<img" not in html and "&lt;img" in html


def _consent(client: FlaskClient, url: str, **data: Any) -> TestResponse:
    html = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_from(html), **data})


@pytest.mark.parametrize("csrf", [None, "", "forged"], ids=["missing", "empty", "wrong"])
def test_consent_post_without_the_csrf_token_is_refused(
    client: FlaskClient, consent_client: RegisteredClient, user: Any, csrf: str | None
) -> None:
    _, challenge = pkce_pair()
    url = _authorize_url(consent_client, challenge)
    login(client)
    assert client.get(url).status_code == 200
    data: dict[str, Any] = {"decision": "allow", "grant_scope": ["api", "restricted"]}
    if csrf is not None:
        data["csrf_token"] = csrf
    response = client.post(url, data=data)
    assert response.status_code == 400 and "Location" not in response.headers
    # nothing was remembered: the page still asks
    assert client.get(url).status_code == 200


def test_only_the_checked_scopes_are_granted(
    client: FlaskClient, consent_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    verifier, challenge = pkce_pair()
    url = _authorize_url(consent_client, challenge)
    login(client)
    response = _consent(client, url, decision="allow", grant_scope=["restricted"])
    assert response.status_code in (302, 303)
    code = _query(response)["code"][0]
    token = exchange(client, consent_client, code, verifier)
    assert token.status_code == 200 and token.json["scope"] == "restricted"
    answer = client.post(INTROSPECT, data={"token": token.json["access_token"]}, headers=service.basic)
    assert answer.json["scope"] == "restricted"
    # the unchecked scope was not remembered either: asking for everything shows the page again
    assert client.get(url).status_code == 200


def test_a_scope_that_was_not_asked_for_cannot_be_ticked_in(
    client: FlaskClient, consent_client: RegisteredClient, user: Any
) -> None:
    verifier, challenge = pkce_pair()
    url = _authorize_url(consent_client, challenge, scope="api")
    login(client)
    response = _consent(client, url, decision="allow", grant_scope=["api", "restricted", "admin"])
    code = _query(response)["code"][0]
    assert exchange(client, consent_client, code, verifier).json["scope"] == "api"


def test_allow_with_nothing_checked_is_access_denied(
    client: FlaskClient, consent_client: RegisteredClient, user: Any
) -> None:
    _, challenge = pkce_pair()
    url = _authorize_url(consent_client, challenge)
    login(client)
    response = _consent(client, url, decision="allow")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    query = _query(response)
    assert query["error"] == ["access_denied"] and query["state"] == ["xyz"] and query["iss"] == [ISSUER]
    assert "code" not in query
    assert client.get(url).status_code == 200  # nothing remembered


# -- redirects after a POST


def test_every_post_redirects_with_302_or_303(client: FlaskClient, consent_client: RegisteredClient, user: Any) -> None:
    """A 307 or 308 would make the browser re-post the form, password included, to the next site (RFC 9700
    §4.12)."""
    _, challenge = pkce_pair()
    statuses = {"login": _post_login(client, "alice", "correct horse").status_code}
    url = _authorize_url(consent_client, challenge)
    statuses["allow"] = _consent(client, url, decision="allow", grant_scope=["api"]).status_code
    statuses["allow-nothing"] = _consent(client, url, decision="allow").status_code
    statuses["deny"] = _consent(client, url, decision="deny").status_code
    statuses["logout"] = _logout(client).status_code
    statuses["authorize-signed-out"] = client.post(url, data={"decision": "allow"}).status_code
    assert all(status in (302, 303) for status in statuses.values()), statuses
