"""What one validation costs in the resource toolkit, per call, on this machine.

    python bench/resource_cache.py [--calls 200000] [--rounds 7]

Real pieces throughout: a TokenValidator over a TokenCache over a LocalSource on a throwaway SQLite database
holding a real token. Each case runs ``--rounds`` rounds of ``--calls`` calls, timed with perf_counter_ns; the
median round is reported (the best one too, for the noise). No web framework is involved: this is the cost the
toolkit adds to a request, which the adapters only wrap.

Cases:
* cached: an active token found in the cache (the path nearly every request of a busy API takes);
* cached, audience checked: the same with ``audience=`` on the validator, the token issued for it among two
  audiences (the server does not store audiences yet, so the source here adds them to what the database says);
* checksum failure: a mistyped token refused before any lookup (no I/O, never reaches the cache);
* format + digest only: ``parse`` and ``sha256`` of a token, the floor under both cases above;
* uncached, SQLite: the same token with the cache off (``ttl=0``): one indexed query per call, for scale.
"""

import argparse
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tessera.resource import AccessToken, InvalidToken, LocalSource, TokenCache, TokenValidator
from tessera.store import ClientRecord, NewToken, Store, make_engine, upgrade
from tessera.tokens import TokenKind, digest, mint, parse, random_id


def _per_call_us(func: Callable[[], object], calls: int, rounds: int) -> tuple[float, float]:
    for _ in range(min(calls, 10_000)):  # warm up
        func()
    results = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for _ in range(calls):
            func()
        results.append((time.perf_counter_ns() - started) / calls / 1000)
    return statistics.median(results), min(results)


def _refused(validator: TokenValidator, header: str) -> Callable[[], object]:
    def call() -> object:
        try:
            return validator.validate(header, frozenset({"api"}))
        except InvalidToken as exc:
            return exc

    return call


class _WithAudience:
    """A source that answers what ``source`` does, issued for these audiences."""

    def __init__(self, source: LocalSource, audience: tuple[str, ...]) -> None:
        self.source = source
        self.audience = audience

    def lookup(self, token: str, token_digest: str) -> AccessToken | None:
        found = self.source.lookup(token, token_digest)
        return None if found is None else dataclasses.replace(found, audience=self.audience)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        store = Store(engine)
        token = mint(TokenKind.ACCESS)
        now = int(time.time())
        store.clients.create(
            ClientRecord("bench", None, "Bench", (), ("client_credentials",), "api", False, False, now)
        )
        store.tokens.insert(NewToken(digest(token), None, "bench", None, "api", random_id(), now, now + 3600, None))
        source = LocalSource(store.tokens)

        cached = TokenValidator(TokenCache(source, ttl=300))
        api = "https://api.example/mcp"
        audiences = _WithAudience(source, ("https://other.example/", api))
        cached_audience = TokenValidator(TokenCache(audiences, ttl=300), audience=api)
        uncached = TokenValidator(TokenCache(source, ttl=0))
        header = f"Bearer {token}"
        scopes = frozenset({"api"})  # what the adapters pass: the required scopes, built once per route
        mistyped = f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}"
        assert cached.validate(header, ("api",)).client_id == "bench"
        assert cached_audience.validate(header, ("api",)).audience == ("https://other.example/", api)
        assert isinstance(_refused(cached, mistyped)(), InvalidToken)

        cases: list[tuple[str, Callable[[], object], int]] = [
            ("cached validation", lambda: cached.validate(header, scopes), args.calls),
            ("cached, audience checked", lambda: cached_audience.validate(header, scopes), args.calls),
            ("checksum failure", _refused(cached, mistyped), args.calls),
            ("format + digest only", lambda: (parse(token, TokenKind.ACCESS), digest(token)), args.calls),
            ("uncached, SQLite lookup", lambda: uncached.validate(header, scopes), max(args.calls // 100, 100)),
        ]
        print(f"{'case':<26}{'median µs/call':>16}{'best µs/call':>14}{'calls/round':>13}")
        for name, func, calls in cases:
            median, best = _per_call_us(func, calls, args.rounds)
            print(f"{name:<26}{median:>16.2f}{best:>14.2f}{calls:>13}")
        engine.dispose()


if __name__ == "__main__":
    main()
