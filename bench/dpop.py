"""What DPoP costs, in process: ``python -m bench.dpop [--n 2000] [--rounds 7]``.

Two questions, each answered through the real WSGI apps with no network and no HTTP server (the same method as
``bench/run.sh inproc``: this process's CPU time per request, the best of ``--rounds`` rounds of ``--n``):

* **An API** (Flask, ``tessera.resource.flask``, a :class:`~tessera.resource.TokenCache` over a
  :class:`~tessera.resource.LocalSource` holding the tokens): the view unprotected, the view protected and called
  with a cached Bearer token, and the same with a cached DPoP-bound token and a fresh proof per request (ES256,
  made beforehand: a client's cost, not the API's). The ratios to the unprotected view are the throughput an
  API keeps, as far as its own CPU decides it; an HTTP server adds the same cost to all three, so over a real
  socket the ratios are higher than these.
* **Issuance** (the authorization server, ``client_credentials`` with ``client_secret_basic``): a Bearer token,
  and a DPoP-bound one with a fresh proof per request.

Each proof is used once (the replay cache would refuse it again), so ``n * rounds`` proofs are made before the
clock starts, with the key and claims a real client sends. SQLite in a temporary directory.
"""

import argparse
import base64
import json
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from joserfc import jws
from joserfc.jwk import ECKey

from bench.inproc import environ
from tessera.app import create_app
from tessera.config import Settings
from tessera.dpop import access_token_hash
from tessera.resource import LocalSource, TokenCache, TokenValidator
from tessera.resource.flask import ResourceProtector
from tessera.store import ClientRecord, Store, make_engine, upgrade
from tessera.tokens import TokenKind, digest, mint, random_id

ISSUER = "http://127.0.0.1:8000"


def _caller(app: Any) -> Callable[[dict[str, Any]], bytes]:
    def call(environ: dict[str, Any]) -> bytes:
        status: list[str] = []

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(line)

        out = b"".join(app(environ, start_response))
        if not status[0].startswith("2"):
            raise RuntimeError(f"{environ['PATH_INFO']}: {status[0]} {out[:200]!r}")
        return out

    return call


class _Client:
    """A DPoP client's key, and proofs made with it."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256")
        self.header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}

    def proofs(self, count: int, method: str, url: str, access_token: str | None = None) -> Iterator[str]:
        now = int(time.time())
        made = []
        for _ in range(count):
            claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": now}
            if access_token is not None:
                claims["ath"] = access_token_hash(access_token)
            made.append(jws.serialize_compact(self.header, json.dumps(claims).encode(), self.key))
        return iter(made)


def _best_us(case: Callable[[], object], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            case()
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best


def cases(tmp: Path, count: int) -> tuple[dict[str, Callable[[], object]], TokenValidator, Callable[[], None]]:
    """The five cases (see the module's docstring) on SQLite in ``tmp``, with ``count`` proofs for each DPoP case;
    the API's validator; and what to call at the end."""
    url = f"sqlite:///{tmp / 'dpop.db'}"
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    settings = Settings.from_env({"TESSERA_DATABASE_URL": url, "TESSERA_SECRET_KEY": "x" * 40})
    server = _caller(create_app(settings, store=store))
    secret = mint(TokenKind.CLIENT_SECRET)
    client_id = random_id()
    store.clients.create(
        ClientRecord(client_id, digest(secret), "bench", (), ("client_credentials",), "api", False, True, 0)
    )
    basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    body = b"grant_type=client_credentials"
    client = _Client()
    token_url = ISSUER + "/oauth/token"
    issue_proofs = client.proofs(count + 1, "POST", token_url)

    def issue(proof: str | None = None) -> str:
        headers = {"authorization": basic} if proof is None else {"authorization": basic, "dpop": proof}
        answer: dict[str, str] = json.loads(server(environ("POST", "/oauth/token", body, **headers)))
        return answer["access_token"]

    bearer, bound = issue(), issue(next(issue_proofs))

    api = Flask("bench_api")
    validator = TokenValidator(TokenCache(LocalSource(store.tokens), ttl=300))
    protect = ResourceProtector(validator)

    def data() -> str:
        return "ok"

    api.add_url_rule("/open", "open", data)
    api.add_url_rule("/data", "data", protect("api")(data))
    call_api = _caller(api)
    api_proofs = client.proofs(count + 1, "GET", ISSUER + "/data", access_token=bound)
    bearer_header, dpop_header = f"Bearer {bearer}", f"DPoP {bound}"
    call_api(environ("GET", "/data", authorization=dpop_header, dpop=next(api_proofs)))  # fills the cache
    call_api(environ("GET", "/data", authorization=bearer_header))

    return (
        {
            "api: unprotected": lambda: call_api(environ("GET", "/open")),
            "api: cached Bearer": lambda: call_api(environ("GET", "/data", authorization=bearer_header)),
            "api: cached DPoP": lambda: call_api(
                environ("GET", "/data", authorization=dpop_header, dpop=next(api_proofs))
            ),
            "issue: Bearer": issue,
            "issue: DPoP": lambda: issue(next(issue_proofs)),
        },
        validator,
        engine.dispose,
    )


def measure(n: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        found, _, close = cases(Path(tmp), n * rounds)
        out = {name: round(_best_us(case, n, rounds), 1) for name, case in found.items()}
        close()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    figures = measure(args.n, args.rounds)
    open_us = figures["api: unprotected"]
    print(f"{'case':<22}{'CPU µs/request':>16}{'requests/s/core':>17}{'× unprotected':>15}")
    for name, us in figures.items():
        ratio = f"{open_us / us:>15.2f}" if name.startswith("api") else ""
        print(f"{name:<22}{us:>16.1f}{1e6 / us:>17.0f}{ratio}")
    print(
        f"DPoP vs Bearer: API {figures['api: cached Bearer'] / figures['api: cached DPoP']:.2f}×, "
        f"issuance {figures['issue: Bearer'] / figures['issue: DPoP']:.2f}× (throughput)"
    )


if __name__ == "__main__":
    main()
