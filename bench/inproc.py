"""``bench/run.sh inproc``: microseconds per operation through the WSGI app itself, no network and no server.

What it leaves out (HTTP parsing, sockets, the server) is the same for every version of the code, and it counts
this process's CPU time rather than wall time, so it shows what a change to the app's own hot path buys with
less noise than a wrk run on a shared machine. Each figure is the best of several rounds.
"""

import base64
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tessera.app import create_app
from tessera.config import Settings
from tessera.store import ClientRecord, NewToken, Store, make_engine, upgrade
from tessera.tokens import TokenKind, digest, mint, random_id

__all__ = ["measure"]


def _client(
    store: Store, grant_types: tuple[str, ...], introspect: bool, scope: str = "api", id_token_alg: str | None = None
) -> tuple[str, str]:
    secret = mint(TokenKind.CLIENT_SECRET)
    record = ClientRecord(
        client_id=random_id(),
        secret_digest=digest(secret),
        name="inproc",
        redirect_uris=("http://127.0.0.1:9/cb",) if "authorization_code" in grant_types else (),
        grant_types=grant_types,
        scope=scope,
        public=False,
        may_introspect=introspect,
        created_at=int(time.time()),
        id_token_alg=id_token_alg,
    )
    store.clients.create(record)
    return record.client_id, "Basic " + base64.b64encode(f"{record.client_id}:{secret}".encode()).decode()


def environ(method: str, path: str, body: bytes = b"", **headers: str) -> dict[str, Any]:
    """A WSGI environ for one request to the app on 127.0.0.1:8000; ``headers`` by name (``authorization=...``)."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded" if body else "",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        env["HTTP_" + name.upper()] = value
    return env


def _environ(path: str, body: str, auth: str) -> dict[str, Any]:
    return environ("POST" if body else "GET", path, body.encode(), authorization=auth)


def measure(database_url: str | None = None, n: int = 2000, rounds: int = 5) -> dict[str, float]:
    """Best-of-``rounds`` microseconds per request for S0, S1, S2, S4 and S5, and for OpenID Connect: S5r and S5e (a
    refresh of an ``openid`` grant, which returns an ID token signed with RS256 or ES256) and S7 (userinfo)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'inproc.db'}"
        settings = Settings.from_env({"TESSERA_DATABASE_URL": url, "TESSERA_SECRET_KEY": "x" * 40})
        engine = make_engine(url)
        upgrade(engine)
        store = Store(engine)
        app = create_app(settings, store=store)
        _, cc = _client(store, ("client_credentials",), True)
        web_id, web = _client(store, ("authorization_code", "refresh_token"), False)
        user = store.users.create(f"inproc-{random_id(4)}", "not-a-hash", email="inproc@example.com", name="In Proc")
        openid = "openid profile email api"
        rs_id, rs = _client(store, ("authorization_code", "refresh_token"), False, openid)
        es_id, es = _client(store, ("authorization_code", "refresh_token"), False, openid, "ES256")

        def call(path: str, body: str = "", auth: str = "") -> bytes:
            status: list[str] = []

            def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                status.append(line)
                return None

            out = b"".join(app(_environ(path, body, auth), start_response))
            if not status[0].startswith("2"):
                raise RuntimeError(f"{path}: {status[0]} {out[:200]!r}")
            return out

        token = call("/oauth/token", "grant_type=client_credentials", cc).split(b'"access_token":')[1].split(b'"')[1]
        now = int(time.time())

        def refresh_pool(client_id: str, scope: str) -> Any:
            tokens = []
            for _ in range(n * rounds):
                rt = mint(TokenKind.REFRESH)
                store.tokens.insert(
                    NewToken(digest(mint(TokenKind.ACCESS)), digest(rt), client_id, user.id, scope, random_id(), now,
                             now + 3600, now + 86_400, auth_time=now)
                )  # fmt: skip
                tokens.append(rt)
            return iter(tokens)

        pool, rs_pool, es_pool = refresh_pool(web_id, "api"), refresh_pool(rs_id, openid), refresh_pool(es_id, openid)
        user_token = mint(TokenKind.ACCESS)
        store.tokens.insert(
            NewToken(digest(user_token), None, rs_id, user.id, openid, random_id(), now, now + 3600, None)
        )
        bearer = f"Bearer {user_token}"
        cases: dict[str, Callable[[], bytes]] = {
            "S0": lambda: call("/healthz"),
            "S1": lambda: call("/oauth/token", "grant_type=client_credentials", cc),
            "S2": lambda: call("/oauth/introspect", f"token={token.decode()}", cc),
            "S4": lambda: call("/oauth/introspect", "token=" + "x" * 43, cc),
            "S5": lambda: call("/oauth/token", f"grant_type=refresh_token&refresh_token={next(pool)}", web),
            "S5r": lambda: call("/oauth/token", f"grant_type=refresh_token&refresh_token={next(rs_pool)}", rs),
            "S5e": lambda: call("/oauth/token", f"grant_type=refresh_token&refresh_token={next(es_pool)}", es),
            "S7": lambda: call("/oauth/userinfo", "", bearer),
        }
        out = {}
        for name, case in cases.items():
            best = float("inf")
            for _ in range(rounds):
                t0 = time.process_time()
                for _ in range(n):
                    case()
                best = min(best, (time.process_time() - t0) / n * 1e6)
            out[name] = round(best, 1)
        engine.dispose()
        return out
