"""The sign-in limit holds against a burst: ``tessera serve`` with eight workers sharing Redis, a hundred wrong
passwords sent at once, each from a session of its own. No more passwords are checked than the limit allows;
every other attempt waits (429). Counting a failure only after its password check would let the whole burst
through, because every attempt would find the count still empty."""

import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tessera.cli import main
from tests.conftest import csrf_from, unused_port

pytestmark = [pytest.mark.slow, pytest.mark.redis]

TESSERA = Path(sys.executable).with_name("tessera")
ATTEMPTS = 100
LIMIT = 5
MISMATCH = "That username and password do not match"


def _cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    unset: dict[str, str | None] = {name: None for name in os.environ if name.startswith("TESSERA_")}
    result = CliRunner().invoke(main, args, env={**unset, **env}, input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)


def _wait_until_up(base_url: str, process: "subprocess.Popen[bytes]", log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"tessera serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"tessera serve did not answer /healthz within 60 s:\n{log.read_text()}")
        time.sleep(0.1)


def _burst(base_url: str) -> list[httpx.Response | BaseException]:
    """Every attempt fetches the form first (its own cookie and CSRF token), then all post together."""
    barrier = threading.Barrier(ATTEMPTS)
    results: list[httpx.Response | BaseException] = [RuntimeError("did not run")] * ATTEMPTS

    def attempt(i: int) -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=120) as http:
                csrf = csrf_from(http.get("/login").text)
                barrier.wait(timeout=120)
                results[i] = http.post(
                    "/login", data={"username": "alice", "password": f"wrong-{i}", "csrf_token": csrf}
                )
        except BaseException as exc:  # noqa: B036 - reported by the assertion below, not lost in a thread
            barrier.abort()
            results[i] = exc

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


def test_a_hundred_parallel_wrong_passwords_on_eight_workers_check_at_most_the_limit(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    port = unused_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = {
        "TESSERA_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "TESSERA_ISSUER": base_url,
        "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
        "TESSERA_REDIS_URL": redis_url,
        "TESSERA_REDIS_PREFIX": redis_prefix,
        "TESSERA_LOGIN_LIMIT_ACCOUNT": f"{LIMIT}/minute",
    }
    _cli(["db", "upgrade"], settings)
    _cli(["users", "create", "alice", "--password-stdin"], settings, stdin="correct horse\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | settings
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(TESSERA), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "8"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(base_url, process, log)
        results = _burst(base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    responses = [r for r in results if isinstance(r, httpx.Response)]
    outcomes = Counter(
        "checked" if r.status_code == 200 and MISMATCH in r.text else str(r.status_code) for r in responses
    )
    print(f"outcomes of {ATTEMPTS} parallel wrong passwords: {dict(outcomes)}")
    assert "rate-limit storage unreachable" not in log.read_text(), "the workers did not share one count"
    assert set(outcomes) <= {"checked", "429"}, outcomes
    assert 1 <= outcomes["checked"] <= LIMIT, outcomes
    assert outcomes["checked"] + outcomes["429"] == ATTEMPTS
