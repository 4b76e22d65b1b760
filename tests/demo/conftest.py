"""The demo in-process: the three apps on free ports of 127.0.0.1, and a person who uses them through the pages
with ``requests`` (the browser tests in ``tests/e2e`` do the same in Chromium)."""

import html
import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tessera.demo.run import DemoPorts, RunningDemo, running_demo
from tessera.store import Store, make_engine
from tests.demo.process import free_ports

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NEXT = re.compile(r'name="next" value="([^"]*)"')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_LOG_IN = re.compile(
    r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="csrf_token" value="[^"]+">\s*'
    r'<button type="submit">Log in</button>'
)


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[Callable[..., RunningDemo]]:
    """Start a demo; ``environ`` is what it would read from the environment."""
    started = itertools.count()
    with ExitStack() as stack:

        def start(environ: dict[str, str] | None = None) -> RunningDemo:
            data_dir = tmp_path / f"demo{next(started)}"
            data_dir.mkdir()
            return stack.enter_context(running_demo(DemoPorts(*free_ports()), data_dir, environ))

        yield start


@pytest.fixture
def demo(start_demo: Callable[..., RunningDemo]) -> RunningDemo:
    return start_demo()


@pytest.fixture
def demo_store(demo: RunningDemo) -> Iterator[Store]:
    """The demo's database, as the CLI in another process would open it."""
    engine = make_engine(demo.database_url)
    yield Store(engine)
    engine.dispose()


class Person:
    """Someone using the demo through its pages: follows redirects, fills in the forms."""

    def __init__(self, demo: RunningDemo) -> None:
        self.demo = demo
        self.http = requests.Session()
        self.http.trust_env = False

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.http.get(self.demo.app_url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.http.post(self.demo.app_url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def press_log_in(self, **kwargs: object) -> requests.Response:
        """Press "Log in" on the home page: a form posted with the page's CSRF token."""
        home = self.get("/")
        return self.post(_find(_LOG_IN, home.text), data={"csrf_token": _find(_CSRF, home.text)}, **kwargs)

    def start_login(self) -> requests.Response:
        """Click "Log in" and sign in; return the consent page (or wherever a remembered consent leads)."""
        page = self.press_log_in()
        if 'name="password"' in page.text:
            form = {"csrf_token": _find(_CSRF, page.text), "next": _find(_NEXT, page.text)}
            page = self.http.post(page.url, data={**form, "username": "demo", "password": "demo"}, timeout=10)
        return page

    def decide(
        self,
        consent: requests.Response,
        decision: str = "allow",
        *,
        grant: tuple[str, ...] = ("api", "restricted"),
        follow: bool = True,
    ) -> requests.Response:
        """Press Allow (with the scopes in ``grant`` checked) or Deny on the consent page."""
        return self.http.post(
            urljoin(consent.url, _find(_ACTION, consent.text)),
            data={"csrf_token": _find(_CSRF, consent.text), "decision": decision, "grant_scope": list(grant)},
            timeout=10,
            allow_redirects=follow,
        )

    def log_in(self, grant: tuple[str, ...] = ("openid", "profile", "api", "restricted")) -> requests.Response:
        return self.decide(self.start_login(), grant=grant)

    def log_out(self, *, at_the_server: bool = True) -> requests.Response:
        """Press "Log out" on the page ``GET /logout`` shows, then (``at_the_server``) "Sign out" on the server's
        end-session page the app sends the person to, if it does."""
        page = self.get("/logout")
        page = self.post(_find(_ACTION, page.text), data={"csrf_token": _find(_CSRF, page.text)})
        if at_the_server and page.url.startswith(self.demo.auth_url + "/end-session"):
            page = self.sign_out_at_the_server(page)
        return page

    def sign_out_at_the_server(self, page: requests.Response) -> requests.Response:
        """Press "Sign out" on the server's end-session page."""
        assert ">Sign out</button>" in page.text, page.text
        action = urljoin(page.url, _find(_ACTION, page.text))
        return self.http.post(action, data={"csrf_token": _find(_CSRF, page.text)}, timeout=10)


def _find(pattern: re.Pattern[str], page: str) -> str:
    found = pattern.search(page)
    assert found is not None, f"{pattern.pattern} not in the page:\n{page}"
    return html.unescape(found.group(1))


@pytest.fixture
def person(demo: RunningDemo) -> Person:
    return Person(demo)
