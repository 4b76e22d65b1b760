"""``python -m bench.instructions``: instructions per issuance (S1) and per introspection (S2) through the real app
in one process, counted by ``valgrind --tool=callgrind`` (a figure the machine's load does not move), on SQLite
and PostgreSQL, with the audit trail and metrics off; ``--rev-compare DIR`` counts another checkout too (its own
virtualenv in ``DIR/.venv``, e.g. a ``git worktree`` of an earlier commit) and prints both side by side.

The child that runs under callgrind imports nothing from ``bench`` and speaks to both APIs Tessera has had
(``tessera.app.build`` since the request map; ``tessera.server.app.create_app`` before it), so it can run in
an older checkout. Each checkout is served as ``tessera serve`` served it: the WSGI app it had, its access line
written as it was (in the request before the access log was queued; now queued and written by its thread, whose
batch is written inside the window). Per window, ``--n`` requests after 50 of warm-up; ``callgrind_control
--dump`` after each gives its instructions. Without callgrind (``--sql``), the SQL statements per request are
counted (``TESSERA_BENCH_COUNT_SQL``) and, on PostgreSQL, the database backends' CPU per request is read from
``/proc`` (10 ms ticks: a rough figure, over several thousand requests).
"""

import argparse
import base64
import io
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

_CHILD = "TESSERA_BENCH_INSTRUCTIONS_CHILD"
_CASES = ("S1", "S2")


def _environ(path: str, body: bytes, auth: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": auth,
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


class _App:
    """The checkout's app as ``tessera serve`` ran it, whichever API the checkout has."""

    def __init__(self, url: str, log: Path, front: str) -> None:
        import asyncio
        import logging

        try:
            import uvloop  # what granian runs RSGI apps on when it is installed

            self.loop: Any = uvloop.new_event_loop()
        except ImportError:
            self.loop = asyncio.new_event_loop()
        self.rsgi: Any = None

        from tessera.config import Settings
        from tessera.store import ClientRecord, Store, make_engine, upgrade
        from tessera.tokens import TokenKind, digest, mint, random_id

        env = {"TESSERA_DATABASE_URL": url, "TESSERA_SECRET_KEY": "x" * 40, "TESSERA_AUDIT": "off"}
        if os.environ.get("TESSERA_BENCH_COUNT_SQL") == "1":
            env["TESSERA_BENCH_COUNT_SQL"] = "1"
        settings = Settings.from_env(env)
        engine = make_engine(url)
        upgrade(engine)
        store = Store(engine)
        secret = mint(TokenKind.CLIENT_SECRET)
        record = ClientRecord(
            client_id=random_id(),
            secret_digest=digest(secret),
            name="instructions",
            redirect_uris=(),
            grant_types=("client_credentials",),
            scope="api",
            public=False,
            may_introspect=True,
            created_at=int(time.time()),
        )
        old: Any = store  # before the repositories: Store.create_client
        store.clients.create(record) if hasattr(store, "clients") else old.create_client(record)
        engine.dispose()
        self.auth = "Basic " + base64.b64encode(f"{record.client_id}:{secret}".encode()).decode()
        stream = log.open("a", encoding="utf-8")
        self.front: Any = None
        try:
            from tessera.app import build
            from tessera.logs import configure
        except ImportError:  # before the request map: a Flask app, the access line written in the request
            from tessera.server.app import create_app  # type: ignore[import-not-found]

            logging.basicConfig(
                stream=stream, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
            )
            flask = create_app(settings)
            self.counter = flask.extensions.get("tessera.sql_counter")
        else:
            configure("INFO", "text")
            handler = logging.getLogger().handlers[0]
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(stream)
            # the queued access line's writer batches a whole window, written inside it (as under load)
            from tessera.server import periodic

            start = periodic.Periodic.start
            periodic.Periodic.start = lambda self, interval: start(self, 3600)  # type: ignore[method-assign]
            built = build(settings)
            flask, self.front, self.counter = built.flask, built.front, built.counter
            if front != "wsgi":  # what tessera serve runs: bodies read on an event loop, issuance in a thread
                self.rsgi = built.rsgi(threads=4)
                self.rsgi.__rsgi_init__(self.loop)
                self.front.close()  # started again for each window
        self.wsgi = flask.wsgi_app

    def call(self, path: str, body: str) -> bytes:
        status: list[str] = []

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(line)

        out = b"".join(self.wsgi(_environ(path, body.encode(), self.auth), start_response))
        if not status[0].startswith("2"):
            raise RuntimeError(f"{path}: {status[0]} {out[:200]!r}")
        return out

    def window(self, case: str, token: str, n: int) -> None:
        path, body = (
            ("/oauth/token", "grant_type=client_credentials")
            if case == "S1"
            else ("/oauth/introspect", f"token={token}")
        )
        if self.rsgi is not None:
            self.front.start()
            self.loop.run_until_complete(self._rsgi(path, body.encode(), n))
            self.front.close()
            return
        environs = [_environ(path, body.encode(), self.auth) for _ in range(n)]  # made outside the count
        if self.front is not None:
            self.front.start()
        for environ in environs:
            self._wsgi(environ)
        if self.front is not None:
            self.front.close()

    def _wsgi(self, environ: dict[str, Any]) -> None:
        status: list[str] = []

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(line)

        out = b"".join(self.wsgi(environ, start_response))
        if not status[0].startswith("2"):
            raise RuntimeError(f"{status[0]} {out[:200]!r}")

    async def _rsgi(self, path: str, body: bytes, n: int) -> None:
        headers = {"host": "127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded",
                   "content-length": str(len(body)), "authorization": self.auth}  # fmt: skip
        scope = _Scope(path, headers)
        for _ in range(n):
            proto = _Proto(body)
            await self.rsgi.__rsgi__(scope, proto)
            if proto.status != 200:
                raise RuntimeError(f"{path}: {proto.status} {proto.out[:200]!r}")


class _Scope:
    """What the RSGI face reads of granian's scope."""

    def __init__(self, path: str, headers: dict[str, str]) -> None:
        self.method, self.path, self.query_string, self.headers = "POST", path, "", headers
        self.client, self.server, self.scheme, self.http_version = "127.0.0.1:40000", "127.0.0.1:8000", "http", "1.1"


class _Proto:
    """granian's protocol object for one request: the body, and the response."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.status = 0
        self.out = b""

    async def __call__(self) -> bytes:
        return self.body

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.out = status, body


def _dump(label: str) -> None:
    """What callgrind counted since the last dump, written out under ``label``."""
    subprocess.run(["callgrind_control", "-d", label, str(os.getpid())], check=True, capture_output=True)


def _parts(app: _App, n: int) -> None:
    """One issuance (this checkout's API only) cut into parts, each run ``n`` times between two dumps: the
    request made Authlib's (form parsed and checked), the client authenticated, the two tokens minted with the
    access digest, the ``INSERT`` in autocommit (the pool's checkout and return included), the JSON answer, the
    access line (queued, then written by its thread), and the whole answer of the front without the HTTP face."""
    from tessera.server.front import json_answer
    from tessera.server.request import HttpRequest
    from tessera.store import NewToken
    from tessera.tokens import TokenKind, digest, mint, random_id

    server, front = app.front.machine.server, app.front
    issuer = server.context.settings.issuer
    route = front.route("/oauth/token")
    headers = {"host": "127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded",
               "content-length": "29", "authorization": app.auth}  # fmt: skip

    def request() -> HttpRequest:
        return HttpRequest("POST", "/oauth/token", "", headers, b"grant_type=client_credentials", "127.0.0.1", "r")

    prepared = [request().oauth(issuer) for _ in range(n)]
    client = server.authenticate_client(prepared[0], ["client_secret_basic"], "token")
    client_id = client.client_id
    token = {"token_type": "Bearer", "access_token": mint(TokenKind.ACCESS), "expires_in": 3600, "scope": "api"}
    now = int(time.time())
    rows = [NewToken(digest(mint(TokenKind.ACCESS)), None, client_id, None, "api", random_id(), now, now + 3600, None)
            for _ in range(n)]  # fmt: skip
    requests = [request() for _ in range(n)]
    steps: list[tuple[str, Any]] = [
        ("form", lambda i: request().oauth(issuer)),
        ("auth", lambda i: server.authenticate_client(prepared[i], ["client_secret_basic"], "token")),
        ("mint", lambda i: (digest(mint(TokenKind.ACCESS)), random_id())),
        ("insert", lambda i: server.context.store.tokens.insert(rows[i])),
        ("json", lambda i: json_answer(200, dict(token), [("Cache-Control", "no-store"), ("Pragma", "no-cache")])),
        ("access", lambda i: front.access("POST", "/oauth/token", 200, time.perf_counter(), client_id, "r")),
        ("answer", lambda i: front.answer(route, requests[i])),
    ]
    for name, step in steps:
        for i in range(min(n, 20)):  # warm, on copies where a step uses up its input
            step(i) if name not in ("insert", "answer") else None
        _dump("warm")
        if name == "access":
            front.start()
        for i in range(n):
            step(i)
        if name == "access":
            front.close()
        _dump(f"P{name}-0")


def _backend_ticks(url: str) -> int:
    """utime + stime of the PostgreSQL backends connected to the database of ``url``, in clock ticks."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}", autocommit=True) as conn:
        own = conn.info.backend_pid
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
    ticks = 0
    for pid in pids:
        if pid == own:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks


def _child(url: str, n: int, sql: bool, front: str, parts: bool) -> None:
    tmp = Path(tempfile.mkdtemp())
    app = _App(url or f"sqlite:///{tmp / 'instructions.db'}", tmp / "server.log", front)
    token = json.loads(app.call("/oauth/token", "grant_type=client_credentials"))["access_token"]
    out: dict[str, Any] = {}
    for case in _CASES:
        app.window(case, token, 50)
        if not sql:
            _dump("warm")
            for i in range(2):
                app.window(case, token, n)
                _dump(f"{case}-{i}")
            continue
        before = app.counter.count
        ticks = _backend_ticks(url) if url.startswith("postgresql") else 0
        started = time.process_time()
        app.window(case, token, n)
        cpu = (time.process_time() - started) / n * 1e6
        out[case] = {"statements": (app.counter.count - before) / n, "cpu_us": round(cpu, 1)}
        if url.startswith("postgresql"):
            out[case]["db_cpu_us"] = round((_backend_ticks(url) - ticks) / os.sysconf("SC_CLK_TCK") / n * 1e6, 1)
    if parts:
        _parts(app, n)
    if sql:
        print(json.dumps(out))


def _count(checkout: Path, url: str, n: int, front: str, parts: bool) -> dict[str, list[int]]:
    python = checkout / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             str(python), "-P", str(Path(__file__).resolve()), "--n", str(n), "--url", url, "--front", front,
             *(["--parts"] if parts else [])],
            env=dict(os.environ, **{_CHILD: "1"}), cwd=checkout, check=True, capture_output=True,
        )  # fmt: skip
        found: dict[str, list[int]] = {}
        for dump in sorted(Path(tmp).glob("callgrind.out.*")):
            text = dump.read_text(errors="replace")
            label = re.search(r"^desc: Trigger: .*?dump (S\d|P\w+)-\d$", text, re.M)
            total = re.search(r"^totals: (\d+)", text, re.M)
            if label and total:
                found.setdefault(label.group(1), []).append(int(total.group(1)) // n)
    return found


def _database(name: str) -> str:
    """A fresh PostgreSQL database of that name on 127.0.0.1:5432; its URL."""
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="requests per window")
    parser.add_argument("--rev-compare", metavar="DIR", help="another checkout to count, with its own .venv")
    parser.add_argument("--db", choices=("sqlite", "pg", "both"), default="both")
    parser.add_argument("--sql", action="store_true", help="count SQL statements and CPU instead (no callgrind)")
    parser.add_argument(
        "--front", choices=("served", "wsgi"), default="served",
        help="served: the RSGI face where a checkout has one (what tessera serve runs), else WSGI; wsgi: WSGI for all",
    )  # fmt: skip
    parser.add_argument("--parts", action="store_true", help="also count the parts of one issuance (this checkout)")
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.environ.get(_CHILD):
        _child(args.url, args.n, args.sql, args.front, args.parts)
        return
    here = Path(__file__).resolve().parent.parent
    checkouts = {"this": here} | ({"other": Path(args.rev_compare).resolve()} if args.rev_compare else {})
    databases = ("sqlite", "pg") if args.db == "both" else (args.db,)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for label, checkout in checkouts.items():
        for db in databases:
            name = f"bench_instructions_{label}_{os.getpid()}"
            url = _database(name) if db == "pg" else ""
            try:
                if args.sql:
                    done = subprocess.run(
                        [str(checkout / ".venv" / "bin" / "python"), "-P", str(Path(__file__).resolve()),
                         "--n", str(args.n), "--url", url, "--sql", "--front", args.front],
                        env=dict(os.environ, **{_CHILD: "1", "TESSERA_BENCH_COUNT_SQL": "1"}), cwd=checkout,
                        check=True, capture_output=True, text=True,
                    )  # fmt: skip
                    rows[label, db] = json.loads(done.stdout.strip().splitlines()[-1])
                else:
                    rows[label, db] = _count(checkout, url, args.n, args.front, args.parts and label == "this")
            finally:
                if db == "pg":
                    _drop(name)
    for (label, db), found in rows.items():
        for case, counts in found.items():
            print(f"| {checkouts[label]} | {db} | {case} | {counts} |")


if __name__ == "__main__":
    main()
