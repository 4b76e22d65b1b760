"""S6: a protected endpoint of an API that uses ``tessera.resource``, three ways: validated from its cache,
validated by introspection on every call (no cache), and the same endpoint unprotected (the API's ceiling).

The API (``bench/s6_api.py``) runs under granian with the same workers and threads as the authorization server and
asks the server being measured to introspect. It is started only when ``tessera.resource`` can be imported.
"""

import importlib.util
import json
import sys
import time
from typing import TYPE_CHECKING

from bench.load import Scenario, basic, http_call, run_scenario
from bench.seed import Seeded
from tessera.config import Settings

if TYPE_CHECKING:
    from bench.targets import Run, TesseraTarget

__all__ = ["available", "run"]

VARIANTS = (
    ("S6a", "API endpoint, cached validation", "/cached"),
    ("S6b", "API endpoint, uncached (introspection)", "/uncached"),
    ("S6c", "API endpoint, unprotected", "/open"),
)


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
    finally:
        run.started.stop(api_pid)
