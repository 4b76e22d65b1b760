"""S6: a protected endpoint of an API that uses ``tessera.resource``, several ways: validated from its cache,
validated by introspection on every call (no cache), the same endpoint unprotected (the API's ceiling), validated
by reading the server's database on every call (S6f, ``LocalSource``, no cache), and validated from its cache with
a DPoP-bound token and a fresh proof on every request (S6d with ES256 proofs, S6e with RS256).

S6d and S6e: wrk cannot sign a proof per request, so the proofs are made beforehand (S6d ES256, S6e RS256 with a
2048-bit key: the API's check of the latter is about 4 times cheaper; joserfc, one key, each with
its own ``jti``, for ``GET`` of the endpoint's URL with the token's ``ath``) into a warm-up pool and a measured pool
that ``scenario.lua`` sends once each in the ``DPoP`` header (``pool_header``). What it measures is the API's side
only: the proof's checks (signature, claims, ``ath``), the binding and the replay cache in each worker's memory,
on top of S6a's cached validation. Their ``iat`` is set :data:`IAT_AHEAD` seconds ahead (the API accepts up to
a minute), so that they stay fresh through the waits for a quiet machine. A used-up pool sends a proof the API
refuses, which makes the figure invalid rather than quietly wrong.

The API (``bench/s6_api.py``) runs under granian with the same workers and threads as the authorization server and
asks the server being measured to introspect. It is started only when ``tessera.resource`` can be imported.
"""

import importlib.util
import json
import secrets
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.load import Scenario, basic, http_call, run_scenario
from bench.seed import Seeded
from tessera.config import Settings

if TYPE_CHECKING:
    from joserfc.jwk import ECKey, RSAKey

    from bench.targets import Run, TesseraTarget

__all__ = ["available", "run"]

VARIANTS = (
    ("S6a", "API endpoint, cached validation", "/cached"),
    ("S6b", "API endpoint, uncached (introspection)", "/uncached"),
    ("S6c", "API endpoint, unprotected", "/open"),
    ("S6f", "API endpoint, uncached, read from the server's database (LocalSource)", "/local"),
)
#: name, label, path, the proofs' algorithm, proofs made per second of each window: more than the API answers with
#: them on this machine (on a quiet machine S6d used up 4000 a second before its 10 s window ended, and S6c, with no
#: proof, answers about 12,000 a second). An RS256 proof takes a client about 0.3 ms to sign, so fewer are made.
DPOP_VARIANTS = (
    ("S6d", "API endpoint, cached validation, DPoP-bound token, an ES256 proof per request", "/cached", "ES256", 15000),
    ("S6e", "the same with RS256 proofs", "/cached", "RS256", 10000),
)
#: how far ahead of now the proofs' ``iat`` is (the API accepts up to 60 s ahead, and 300 s old)
IAT_AHEAD = 50


def available() -> bool:
    try:
        return importlib.util.find_spec("tessera.resource") is not None
    except ModuleNotFoundError:
        return False


def run(run: "Run", target: "TesseraTarget", as_base: str, seeded: Seeded, *, server_pid: int) -> None:
    if not available():
        run.log("  S6 skipped: tessera.resource not available")
        return
    from bench.targets import free_port

    port = free_port()
    env = target.env(0)
    env.update(
        BENCH_AS_URL=as_base,
        BENCH_INTROSPECT_URL=as_base + "/oauth/introspect",
        BENCH_CLIENT_ID=seeded.cc_id,
        BENCH_CLIENT_SECRET=seeded.cc_secret,
    )
    argv = [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", str(target.workers),
        "--blocking-threads", str(Settings().threads), "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "bench.s6_api:app",
    ]  # fmt: skip
    log = run.out / "logs" / f"{target.name}.s6-api.log"
    api_pid = run.started.start(argv, env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if http_call(base + "/open")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        status, text = http_call(
            as_base + "/oauth/token", method="POST", body="grant_type=client_credentials",
            auth=basic(seeded.cc_id, seeded.cc_secret),
        )  # fmt: skip
        token = json.loads(text)["access_token"] if status == 200 else "none"
        for name, label, path in VARIANTS:
            scenario = Scenario(name, label, base + path, '"ok"', auth=f"Bearer {token}")
            run.log(f"  {name} {label}")
            # the API's CPU and the authorization server's together: uncached calls cost both
            result = run_scenario(
                scenario, run.load, server_pid=api_pid, db_pid=server_pid, raw=run.out / "raw",
                tag=f"{target.name}.{name}",
            )  # fmt: skip
            run.record(target.name, name, label, result)
        for variant in DPOP_VARIANTS:
            _run_dpop(run, target, as_base, seeded, base, variant, api_pid=api_pid, server_pid=server_pid)
    finally:
        run.started.stop(api_pid)


def _proofs(count: int, key: "ECKey | RSAKey", method: str, url: str, access_token: str | None = None) -> list[str]:
    from joserfc import jws

    from tessera.dpop import access_token_hash

    alg = "ES256" if key.key_type == "EC" else "RS256"
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    base: dict[str, object] = {"htm": method, "htu": url, "iat": int(time.time()) + IAT_AHEAD}
    if access_token is not None:
        base["ath"] = access_token_hash(access_token)
    return [
        jws.serialize_compact(header, json.dumps({**base, "jti": secrets.token_urlsafe(16)}).encode(), key)
        for _ in range(count)
    ]


def _write(path: Path, proofs: list[str]) -> Path:
    path.write_text("\n".join(proofs) + "\n")
    return path


def _run_dpop(
    run: "Run",
    target: "TesseraTarget",
    as_base: str,
    seeded: Seeded,
    base: str,
    variant: tuple[str, str, str, str, int],
    *,
    api_pid: int,
    server_pid: int,
) -> None:
    from joserfc.jwk import ECKey, RSAKey

    name, label, path, alg, rate = variant
    key = ECKey.generate_key("P-256") if alg == "ES256" else RSAKey.generate_key(2048)
    token_url = as_base + "/oauth/token"
    status, text = http_call(
        token_url, method="POST", body="grant_type=client_credentials", auth=basic(seeded.cc_id, seeded.cc_secret),
        headers={"DPoP": _proofs(1, key, "POST", token_url)[0]},
    )  # fmt: skip
    answer = json.loads(text) if status == 200 else {}
    if answer.get("token_type") != "DPoP":
        run.log(f"  {name} skipped: no DPoP-bound token ({status} {text[:200]})")
        return
    token, url = answer["access_token"], base + path
    pools = run.out / "pools" / target.name
    pools.mkdir(parents=True, exist_ok=True)
    load = run.load
    run.log(f"  {name} {label}: making {rate * (load.warmup_s + load.duration_s)} proofs")
    measured = _write(pools / f"{name}-measured.txt", _proofs(rate * load.duration_s, key, "GET", url, token))
    warmup = _write(pools / f"{name}-warmup.txt", _proofs(rate * max(load.warmup_s, 1), key, "GET", url, token))
    scenario = Scenario(
        name, label, url, '"ok"', auth=f"DPoP {token}", pool=measured, warmup_pool=warmup, pool_header="DPoP",
        exhausted_body="pool-exhausted", preflight_headers={"DPoP": _proofs(1, key, "GET", url, token)[0]},
    )  # fmt: skip
    run.log(f"  {name} {label}")
    result = run_scenario(
        scenario, load, server_pid=api_pid, db_pid=server_pid, raw=run.out / "raw", tag=f"{target.name}.{name}"
    )
    run.record(target.name, name, label, result)
