"""How fast a revocation reaches a resource server's cache through Redis, and how fast a subscriber catches up.

    python -m bench.propagation [--revocations 1000] [--database-url URL] [--redis-url URL] [--workers 2]

A real ``tessera serve`` (on a throwaway SQLite file, or on the empty database ``--database-url`` names, which it
migrates) with ``TESSERA_REDIS_URL``, and, in this process, what an API runs: a
:class:`~tessera.resource.TokenCache` over an :class:`~tessera.resource.IntrospectionSource` and a
:class:`~tessera.resource.RevocationSubscriber` reading the revocation stream. It issues ``--revocations`` tokens,
caches each, then revokes them one at a time at the server's RFC 7009 endpoint and records, per token, the time
from sending the revocation to the moment the subscriber dropped the entry from the cache ("request to drop"),
and from the server's 200 to the drop ("answer to drop", negative when the drop came first). Then catch-up: the
subscriber is stopped, as many tokens again are cached and revoked, and the time from ``start()`` to its report
that it is subscribed again (which it says only once it has applied what it missed) is measured, with how many
entries were dropped.

Redis keys and channel are named for this run and deleted at the end; every process started is stopped by PID;
all traffic is on 127.0.0.1.
"""

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import httpx
import redis

from tessera.resource import IntrospectionSource, RevocationSubscriber, TokenCache
from tessera.tokens import digest

TESSERA = Path(sys.executable).with_name("tessera")


class _TimedCache(TokenCache):
    """A TokenCache that notes when each digest was dropped."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.dropped: dict[str, float] = {}
        self.changed = threading.Condition()

    def drop(self, token_digests: Iterable[str]) -> int:
        wanted = list(token_digests)
        count = super().drop(wanted)
        now = time.perf_counter()
        with self.changed:
            for d in wanted:
                self.dropped.setdefault(d, now)
            self.changed.notify_all()
        return count


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _cli(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([str(TESSERA), *args], env=env, capture_output=True, text=True, check=True)
    return result.stdout


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50_ms": pick(0.50), "p90_ms": pick(0.90), "p99_ms": pick(0.99), "max_ms": ordered[-1] * 1000,
            "mean_ms": statistics.fmean(ordered) * 1000}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revocations", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:10]
    tmp = Path(tempfile.mkdtemp(prefix="tessera-propagation-"))
    port = _port()
    issuer = f"http://127.0.0.1:{port}"
    channel, prefix = f"tessera-bench-{run}:revoked", f"tessera-bench-{run}"
    settings = {
        "TESSERA_DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        "TESSERA_ISSUER": issuer,
        "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
        "TESSERA_REDIS_URL": args.redis_url,
        "TESSERA_REDIS_PREFIX": prefix,
        "TESSERA_REVOCATION_CHANNEL": channel,
        "TESSERA_LOG_LEVEL": "WARNING",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | settings
    _cli(["db", "upgrade"], env)
    create = ["clients", "create", "--grant-type", "client_credentials", "--introspect", "--json"]
    client = json.loads(_cli([*create, "--name", "Bench"], env))
    auth = (client["client_id"], client["client_secret"])
    log = (tmp / "serve.log").open("wb")
    server = subprocess.Popen([str(TESSERA), "serve", "--port", str(port), "--workers", str(args.workers)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    http = httpx.Client(base_url=issuer, auth=auth, timeout=10)
    source = IntrospectionSource(issuer, *auth)
    cache = _TimedCache(source, ttl=600, max_entries=10 * args.revocations)
    subscriber = RevocationSubscriber(args.redis_url, cache, channel=channel)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"tessera serve did not start; see {tmp / 'serve.log'}")
            time.sleep(0.1)
        subscriber.start()
        if not subscriber.wait_subscribed(10):
            raise SystemExit("the subscriber did not connect to Redis")

        def cached_tokens(n: int) -> list[str]:
            tokens = []
            for _ in range(n):
                token = http.post("/oauth/token", data={"grant_type": "client_credentials"}).json()["access_token"]
                assert cache.lookup(token, digest(token)) is not None
                tokens.append(token)
            return tokens

        tokens = cached_tokens(args.revocations)
        from_request, from_answer, missed = [], [], 0
        for token in tokens:
            d = digest(token)
            sent = time.perf_counter()
            assert http.post("/oauth/revoke", data={"token": token}).status_code == 200
            answered = time.perf_counter()
            with cache.changed:
                cache.changed.wait_for(lambda d=d: d in cache.dropped, timeout=2)  # type: ignore[misc]
            dropped = cache.dropped.get(d)
            if dropped is None:
                missed += 1
                continue
            from_request.append(dropped - sent)
            from_answer.append(dropped - answered)

        # catch-up: the subscriber stopped while as many revocations happen, then started again
        later = cached_tokens(args.revocations)
        (kept,) = cached_tokens(1)  # never revoked: still cached afterwards unless the cache was emptied
        subscriber.stop()
        for token in later:
            http.post("/oauth/revoke", data={"token": token})
        started = time.perf_counter()
        subscriber.start()
        subscriber.wait_subscribed(30)
        caught_up = time.perf_counter() - started
        applied = sum(digest(t) in cache.dropped for t in later)

        print(f"tessera serve --workers {args.workers} on {settings['TESSERA_DATABASE_URL'].split(':', 1)[0]}, "
              f"Redis {args.redis_url.rsplit('@', 1)[-1]}; {len(tokens)} revocations, one at a time")  # fmt: skip
        for name, values in (("request to drop", from_request), ("answer to drop", from_answer)):
            figures = _percentiles(values)
            print(f"  {name:16} " + "  ".join(f"{k} {v:8.2f}" for k, v in figures.items()))
        print(f"  not dropped within 2 s: {missed}")
        still = cache.cached(digest(kept)) is not None
        print(
            f"  catch-up: {applied} of {len(later)} revocations missed while stopped applied in "
            f"{caught_up * 1000:.1f} ms; gaps {subscriber.gaps}; unrevoked entry still cached: {still}"
        )
    finally:
        subscriber.stop()
        source.close()
        http.close()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        conn = redis.Redis.from_url(args.redis_url)
        conn.delete(channel, f"{prefix}:changes")
        for key in conn.scan_iter(f"{prefix}:*"):
            conn.delete(key)
        conn.close()


if __name__ == "__main__":
    main()
