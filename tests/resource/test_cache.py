"""TokenCache: bounded, LRU, TTL = min(bound, remaining lifetime), brief negatives, drop on revocation."""

import dataclasses
import threading

import pytest

from tessera.resource import ServerUnavailable, TokenCache
from tessera.resource.core import MISS
from tessera.tokens import TokenKind, digest, mint
from tests.resource.conftest import ScriptedSource


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _ask(cache: TokenCache, token: str) -> object:
    return cache.lookup(token, digest(token))


def test_a_hit_does_not_reach_the_source(source: ScriptedSource) -> None:
    token, found = source.add()
    cache = TokenCache(source, ttl=60)
    assert _ask(cache, token) == found and _ask(cache, token) == found
    assert source.calls == 1 and len(cache) == 1


def test_entries_live_no_longer_than_the_bound(source: ScriptedSource, clock: Clock) -> None:
    token, _ = source.add(expires_in=3600)
    cache = TokenCache(source, ttl=10, clock=clock)
    _ask(cache, token)
    clock.now += 9.9
    _ask(cache, token)
    assert source.calls == 1
    clock.now += 0.2
    _ask(cache, token)
    assert source.calls == 2


def test_entries_live_no_longer_than_the_token(source: ScriptedSource, clock: Clock) -> None:
    token, found = source.add(expires_in=5)
    cache = TokenCache(source, ttl=300, clock=clock, wall_clock=lambda: found.expires_at - 5)
    _ask(cache, token)
    clock.now += 4.9
    _ask(cache, token)
    assert source.calls == 1
    clock.now += 0.2
    _ask(cache, token)
    assert source.calls == 2


def test_an_expired_answer_is_not_cached(source: ScriptedSource) -> None:
    token, _ = source.add(expires_in=-5)
    cache = TokenCache(source, ttl=60)
    _ask(cache, token)
    assert len(cache) == 0


def test_not_active_is_cached_only_briefly(source: ScriptedSource, clock: Clock) -> None:
    unknown = mint(TokenKind.ACCESS)
    cache = TokenCache(source, ttl=300, negative_ttl=2, clock=clock)
    assert _ask(cache, unknown) is None and _ask(cache, unknown) is None
    assert source.calls == 1
    clock.now += 2.1
    _ask(cache, unknown)
    assert source.calls == 2


def test_negative_ttl_never_exceeds_the_bound(source: ScriptedSource) -> None:
    assert TokenCache(source, ttl=1, negative_ttl=5).negative_ttl == 1
    assert TokenCache(source, ttl=60, negative_ttl=0).negative_ttl == 0


def test_errors_are_never_cached(source: ScriptedSource) -> None:
    token, found = source.add()
    cache = TokenCache(source, ttl=60)
    source.down = True
    with pytest.raises(ServerUnavailable):
        _ask(cache, token)
    source.down = False
    assert _ask(cache, token) == found
    assert source.calls == 2


def test_the_least_recently_used_entry_goes_first(source: ScriptedSource) -> None:
    (a, _), (b, _), (c, _) = source.add(), source.add(), source.add()
    cache = TokenCache(source, ttl=60, max_entries=2)
    _ask(cache, a)
    _ask(cache, b)
    _ask(cache, a)  # a is now the most recent
    _ask(cache, c)  # evicts b
    assert len(cache) == 2 and source.calls == 3
    _ask(cache, a)
    assert source.calls == 3
    _ask(cache, b)
    assert source.calls == 4


def test_ttl_zero_disables_the_cache(source: ScriptedSource) -> None:
    token, found = source.add()
    cache = TokenCache(source, ttl=0)
    assert _ask(cache, token) == found and _ask(cache, token) == found
    assert source.calls == 2 and len(cache) == 0


def test_drop_forgets_revoked_tokens(source: ScriptedSource) -> None:
    (a, fa), (b, _) = source.add(), source.add()
    cache = TokenCache(source, ttl=60)
    _ask(cache, a)
    _ask(cache, b)
    del source.answers[fa.digest]  # revoked at the server
    assert cache.drop([fa.digest, "f" * 64]) == 1
    assert _ask(cache, a) is None
    assert len(cache) == 2  # b, and a's brief negative
    cache.clear()
    assert len(cache) == 0


def test_a_revocation_during_a_lookup_wins(source: ScriptedSource) -> None:
    token, found = source.add()
    cache = TokenCache(source, ttl=60)
    source.before_answer = lambda: cache.drop([found.digest])  # the event lands while the source answers
    assert _ask(cache, token) == found  # that one request began before the revocation
    assert len(cache) == 0  # but the answer is not kept


def test_bad_settings_are_refused(source: ScriptedSource) -> None:
    with pytest.raises(ValueError):
        TokenCache(source, ttl=-1)
    with pytest.raises(ValueError):
        TokenCache(source, max_entries=0)


def test_many_threads_share_one_cache(source: ScriptedSource) -> None:
    tokens = [source.add() for _ in range(50)]
    cache = TokenCache(source, ttl=60, max_entries=20)
    errors: list[BaseException] = []

    def hammer(offset: int) -> None:
        try:
            for i in range(2000):
                token, found = tokens[(i * 7 + offset) % len(tokens)]
                assert cache.lookup(token, found.digest) == found
                if i % 97 == 0:
                    cache.drop([found.digest])
                assert len(cache) <= 20
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 20


# "not before" events: every cached token of a user, a client, or a user for a client


def _with_client(source: ScriptedSource, client_id: str, subject: str | None) -> tuple[str, str]:
    token, found = source.add(username=None if subject is None else f"user{subject}")
    changed = dataclasses.replace(found, client_id=client_id, subject=subject or client_id)
    source.answers[found.digest] = changed
    return token, found.digest


def test_drop_matching_drops_a_users_tokens_and_nothing_else(source: ScriptedSource) -> None:
    cache = TokenCache(source, ttl=300)
    mine = [_with_client(source, "app", "7"), _with_client(source, "other-app", "7")]
    theirs = [_with_client(source, "app", "8"), _with_client(source, "7", None)]  # a client whose id is "7"
    for token, token_digest in mine + theirs:
        cache.lookup(token, token_digest)
    assert cache.drop_matching(subject="7") == 2
    assert all(cache.cached(d) is MISS for _, d in mine)
    assert all(cache.cached(d) is not MISS for _, d in theirs)


def test_drop_matching_drops_a_clients_tokens_or_one_users_for_that_client(source: ScriptedSource) -> None:
    cache = TokenCache(source, ttl=300)
    tokens = {
        name: _with_client(source, client, subject)
        for name, client, subject in [
            ("alice-app", "app", "1"),
            ("bob-app", "app", "2"),
            ("alice-other", "other", "1"),
            ("app-itself", "app", None),
        ]
    }
    for token, token_digest in tokens.values():
        cache.lookup(token, token_digest)
    assert cache.drop_matching(subject="1", client_id="app") == 1
    assert cache.cached(tokens["alice-app"][1]) is MISS and cache.cached(tokens["alice-other"][1]) is not MISS
    assert cache.drop_matching(client_id="app") == 2
    assert len(cache) == 1 and cache.cached(tokens["alice-other"][1]) is not MISS
    assert cache.drop_matching(subject="nobody") == 0
    with pytest.raises(ValueError):
        cache.drop_matching()


def test_the_indexes_follow_evictions_expiry_and_clears(source: ScriptedSource, clock: Clock) -> None:
    cache = TokenCache(source, ttl=10, max_entries=3, clock=clock)
    first = _with_client(source, "app", "1")
    cache.lookup(*first)
    for _ in range(3):
        cache.lookup(*_with_client(source, "app", "2"))  # evicts the first
    assert cache.drop_matching(subject="1") == 0
    clock.now += 11  # every entry expires; reading one removes it
    assert cache.cached(cache_digests(cache)[0]) is MISS
    assert cache.drop_matching(client_id="app") == 2
    cache.lookup(*_with_client(source, "app", "3"))
    cache.clear()
    assert cache.drop_matching(client_id="app") == 0 and len(cache) == 0


def test_a_not_before_drop_stops_an_answer_in_flight_from_being_cached(source: ScriptedSource) -> None:
    cache = TokenCache(source, ttl=300)
    token, token_digest = _with_client(source, "app", "1")
    source.before_answer = lambda: cache.drop_matching(subject="1")
    cache.lookup(token, token_digest)
    source.before_answer = None
    assert cache.cached(token_digest) is MISS


def cache_digests(cache: TokenCache) -> list[str]:
    return list(cache._entries)
