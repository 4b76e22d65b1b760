"""Soak test: mixed traffic against ``tessera serve`` on PostgreSQL for a bounded time, then a full audit.

    python -m bench.soak --duration 180 --workers 4 --threads 16

1. Creates a PostgreSQL database of its own, ``tessera_soak_<random>`` (``--admin-url`` names the server;
   default ``$TESSERA_TEST_POSTGRES_URL`` or ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), dropped
   at the end whatever happens unless ``--keep-database``, runs
   ``tessera db upgrade``, and registers a user, a web client and an introspecting service client with the CLI.
2. Starts ``tessera serve --workers N`` on a free 127.0.0.1 port, its log going to a file.
3. Each client thread signs in once and goes through the authorization-code flow with PKCE, then loops until
   the time or request budget is spent over a mix of: client-credentials issue, introspection of one of its
   tokens (the answer must match what the thread expects), refresh rotation, and revocation (of a
   client-credentials token, or of its whole grant, after which it starts a new one).
4. Stops the traffic and introspects every access token that was ever answered with 200: each must be active
   unless this run revoked or rotated it, and inactive if it did. Counts the server log's errors.

Exits 0 only if there were no errors: no unexpected status, no wrong introspection answer, no token that was
lost or that outlived its revocation, no ERROR line or traceback in the server log. Only talks to 127.0.0.1.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DATABASE_PREFIX = "tessera_soak_"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never called: the code is read from the Location header
USERNAME, PASSWORD = "soak", "soak-" + secrets.token_urlsafe(12)
MIX = (("issue", 40), ("introspect", 35), ("refresh", 15), ("revoke", 10))


@dataclass
class Totals:
    """What every thread counted, merged at the end."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    #: access token -> whether it must still be active
    expected: dict[str, bool] = field(default_factory=dict)

    def add(self, kind: str, status: int, elapsed_ms: float) -> None:
        with self.lock:
            self.requests[kind] += 1
            self.statuses[f"{kind} {status}"] += 1
            self.latencies_ms.append(elapsed_ms)

    def error(self, message: str) -> None:
        with self.lock:
            if len(self.errors) < 10_000:
                self.errors.append(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tessera() -> str:
    found = shutil.which("tessera", path=str(Path(sys.executable).parent)) or shutil.which("tessera")
    if not found:
        raise SystemExit("the tessera command is not installed: pip install -e .")
    return found


def _create_database(admin_url: str) -> str:
    """A database of this run's own (``tessera_soak_<random>``), so two runs never share or drop each other's."""
    name = DATABASE_PREFIX + secrets.token_hex(6)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    done = subprocess.run([_tessera(), *args], env=env, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"tessera {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout) if "--json" in args else done.stdout


@contextmanager
def _server(env: dict[str, str], port: int, workers: int, log: Path) -> Iterator[str]:
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [_tessera(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"tessera serve did not start; see {log}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def _field(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


class Worker:
    """One client thread: its own HTTP connection pool, session cookie, grant and tokens."""

    def __init__(self, base: str, web: dict[str, str], service: dict[str, str], totals: Totals, seed: int) -> None:
        self.http = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        self.web_auth = _basic(web["client_id"], web["client_secret"])
        self.web_id = web["client_id"]
        self.service_auth = _basic(service["client_id"], service["client_secret"])
        self.totals = totals
        self.random = random.Random(seed)
        self.mine: list[str] = []  # access tokens this thread holds and expects to be active
        self.refresh_token: str | None = None
        self.grant_access: list[str] = []  # access tokens of the current grant (the family)

    def _call(self, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        response = self.http.request(method, url, **kwargs)
        self.totals.add(kind, response.status_code, (time.perf_counter() - started) * 1000)
        return response

    def _expect(self, token: str, active: bool) -> None:
        with self.totals.lock:
            self.totals.expected[token] = active

    def start_grant(self) -> None:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.web_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "api",
                "state": secrets.token_urlsafe(8),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        response = self._call("authorize", "GET", "/authorize?" + query)
        if response.status_code == 302 and "/login" in response.headers["Location"]:
            page = self._call("login", "GET", "/login").text
            form = {"username": USERNAME, "password": PASSWORD, "csrf_token": _field(page, "csrf_token")}
            signed_in = self._call("login", "POST", "/login", data=form)
            if signed_in.status_code != 303:
                raise RuntimeError(f"sign-in failed: {signed_in.status_code}")
            response = self._call("authorize", "GET", "/authorize?" + query)
        if response.status_code == 200:  # the consent page, the first time
            form = {"csrf_token": _field(response.text, "csrf_token"), "decision": "allow", "grant_scope": "api"}
            response = self._call("consent", "POST", "/authorize?" + query, data=form)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"authorization failed: {response.status_code}")
        code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        exchanged = self._call(
            "exchange", "POST", "/oauth/token", data={**data, "code_verifier": verifier}, headers=self.web_auth
        )
        if exchanged.status_code != 200:
            raise RuntimeError(f"code exchange failed: {exchanged.status_code} {exchanged.text}")
        body = exchanged.json()
        self.refresh_token = body["refresh_token"]
        self.grant_access = [body["access_token"]]
        self._expect(body["access_token"], True)

    def issue(self) -> None:
        response = self._call(
            "issue", "POST", "/oauth/token", data={"grant_type": "client_credentials"}, headers=self.service_auth
        )
        if response.status_code != 200:
            self.totals.error(f"issue: {response.status_code} {response.text[:200]}")
            return
        token = response.json()["access_token"]
        self.mine.append(token)
        self._expect(token, True)

    def introspect(self) -> None:
        pool = self.mine[-50:] + self.grant_access[-1:]
        if not pool:
            return self.issue()
        token = self.random.choice(pool)
        response = self._call(
            "introspect", "POST", "/oauth/introspect", data={"token": token}, headers=self.service_auth
        )
        if response.status_code != 200 or response.json().get("active") is not True:
            self.totals.error(f"introspect: {response.status_code} {response.text[:200]} for a token held active")

    def refresh(self) -> None:
        if self.refresh_token is None:
            return self.start_grant()
        data = {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        response = self._call("refresh", "POST", "/oauth/token", data=data, headers=self.web_auth)
        if response.status_code != 200:
            self.totals.error(f"refresh: {response.status_code} {response.text[:200]}")
            self.refresh_token = None
            return
        body = response.json()
        # rotation retires the old pair: its access token must be inactive from now on
        self._expect(self.grant_access[-1], False)
        self.refresh_token = body["refresh_token"]
        self.grant_access.append(body["access_token"])
        self._expect(body["access_token"], True)

    def revoke(self) -> None:
        if self.mine and self.random.random() < 0.7:
            token = self.mine.pop(self.random.randrange(len(self.mine)))
            response = self._call("revoke", "POST", "/oauth/revoke", data={"token": token}, headers=self.service_auth)
            if response.status_code != 200:
                self.totals.error(f"revoke: {response.status_code} {response.text[:200]}")
                return
            self._expect(token, False)
            return
        if self.refresh_token is None:
            return self.start_grant()
        # revoking the refresh token revokes the whole family; then a new grant
        data = {"token": self.refresh_token, "token_type_hint": "refresh_token"}
        response = self._call("revoke", "POST", "/oauth/revoke", data=data, headers=self.web_auth)
        if response.status_code != 200:
            self.totals.error(f"revoke grant: {response.status_code} {response.text[:200]}")
            return
        for token in self.grant_access:
            self._expect(token, False)
        self.start_grant()

    def run(self, stop_at: float, budget: "Budget") -> None:
        try:
            self.start_grant()
            actions = [name for name, weight in MIX for _ in range(weight)]
            while time.monotonic() < stop_at and budget.take():
                getattr(self, self.random.choice(actions))()
        except Exception as exc:  # a broken connection or a malformed answer: an error, and this thread stops
            self.totals.error(f"thread stopped: {type(exc).__name__}: {exc}")
        finally:
            self.http.close()


class Budget:
    """The most requests the whole run may make (each loop turn counts as one)."""

    def __init__(self, limit: int) -> None:
        self._left = limit
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            self._left -= 1
            return self._left >= 0


def _audit(base: str, service: dict[str, str], expected: dict[str, bool], threads: int) -> tuple[int, list[str]]:
    auth = _basic(service["client_id"], service["client_secret"])
    items = list(expected.items())
    problems: list[str] = []
    lock = threading.Lock()

    def check(chunk: list[tuple[str, bool]]) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            for token, active in chunk:
                answer = http.post("/oauth/introspect", data={"token": token}, headers=auth)
                got = answer.status_code == 200 and answer.json().get("active") is True
                if answer.status_code != 200 or got is not active:
                    what = "lost" if active else "outlived its revocation"
                    with lock:
                        problems.append(f"{what}: {answer.status_code} {answer.text[:80]}")

    chunks = [items[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(check, chunks))
    return len(items), problems


def _log_errors(log: Path) -> list[str]:
    lines = log.read_text(errors="replace").splitlines()
    markers = (" ERROR ", " CRITICAL ", "[ERROR]", "[CRITICAL]", "Traceback")
    return [line for line in lines if any(marker in line for marker in markers)]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of traffic (default 180)")
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="stop after this many operations")
    parser.add_argument("--workers", type=int, default=4, help="tessera serve --workers (default 4)")
    parser.add_argument("--threads", type=int, default=16, help="client threads (default 16)")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("TESSERA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL URL on the server where a database tessera_soak_<random> is made for the run",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop the run's database at the end")
    args = parser.parse_args()
    if not 1 <= args.duration <= 3600:
        parser.error("--duration must be between 1 and 3600 seconds")
    host = make_url(args.admin_url).host or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the soak only runs against a PostgreSQL server on this machine")

    database_url = _create_database(args.admin_url)
    try:
        return _soak(args, database_url)
    finally:
        if args.keep_database:
            print(f"database kept: {make_url(database_url).database}", file=sys.stderr)
        else:
            _drop_database(args.admin_url, database_url)


def _soak(args: argparse.Namespace, database_url: str) -> int:
    port = _free_port()
    env = {
        **os.environ,
        "TESSERA_DATABASE_URL": database_url,
        "TESSERA_ISSUER": f"http://127.0.0.1:{port}",
        "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
    }
    env.pop("TESSERA_REDIS_URL", None)
    _cli(env, "db", "upgrade")
    _cli(env, "users", "create", USERNAME, "--password-stdin", stdin=PASSWORD + "\n")
    web = _cli(
        env, "clients", "create", "--name", "Soak web", "--redirect-uri", REDIRECT_URI, "--scope", "api", "--json"
    )
    service = _cli(
        env, "clients", "create", "--name", "Soak service", "--grant-type", "client_credentials",
        "--scope", "api", "--introspect", "--json",
    )  # fmt: skip

    totals = Totals()
    log = Path(tempfile.mkdtemp(prefix="tessera-soak-")) / "server.log"
    with _server(env, port, args.workers, log) as base:
        budget = Budget(args.max_requests)
        started = time.monotonic()
        stop_at = started + args.duration
        workers = [Worker(base, web, service, totals, seed) for seed in range(args.threads)]
        threads = [threading.Thread(target=w.run, args=(stop_at, budget)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        checked, lost = _audit(base, service, dict(totals.expected), args.threads)
    log_errors = _log_errors(log)

    requests = sum(totals.requests.values())
    latencies = sorted(totals.latencies_ms)
    summary = {
        "duration_s": round(elapsed, 1),
        "server_workers": args.workers,
        "client_threads": args.threads,
        "requests": requests,
        "requests_per_s": round(requests / elapsed, 1),
        "by_kind": dict(sorted(totals.requests.items())),
        "statuses": dict(sorted(totals.statuses.items())),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 2) if latencies else None,
            "p99": round(latencies[int(len(latencies) * 0.99) - 1], 2) if latencies else None,
            "max": round(latencies[-1], 2) if latencies else None,
        },
        "errors": len(totals.errors),
        "tokens_checked": checked,
        "tokens_expected_active": sum(totals.expected.values()),
        "tokens_wrong_at_audit": len(lost),
        "server_log_errors": len(log_errors),
        "server_log": str(log),
    }
    print(json.dumps(summary, indent=2))
    for message in totals.errors[:10] + lost[:10] + log_errors[:10]:
        print("  " + message, file=sys.stderr)
    return 0 if not totals.errors and not lost and not log_errors and checked > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
