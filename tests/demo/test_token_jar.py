from tessera.demo.token_jar import TokenJar


def test_keeps_replaces_and_forgets() -> None:
    jar = TokenJar()
    sid = jar.add({"access_token": "a"})
    assert jar.get(sid) == {"access_token": "a"}
    jar.replace(sid, {"access_token": "b"})
    assert jar.get(sid) == {"access_token": "b"}
    assert jar.pop(sid) == {"access_token": "b"}
    jar.replace(sid, {"access_token": "c"})  # a refresh that lands after logout does not bring the session back
    assert jar.get(sid) is None and jar.get(None) is None and jar.pop(None) is None


def test_copies_so_callers_cannot_change_what_is_kept() -> None:
    jar = TokenJar()
    sid = jar.add({"access_token": "a"})
    got = jar.get(sid)
    assert got is not None
    got["access_token"] = "changed"
    assert jar.get(sid) == {"access_token": "a"}


def test_forgets_the_oldest_beyond_capacity() -> None:
    jar = TokenJar(capacity=2)
    first, second, third = (jar.add({"n": n}) for n in range(3))
    assert jar.get(first) is None
    assert jar.get(second) == {"n": 1} and jar.get(third) == {"n": 2}
    assert len({first, second, third}) == 3


def test_each_session_has_its_own_lock_until_it_ends() -> None:
    jar = TokenJar(capacity=1)
    first = jar.add({"n": 1})
    assert jar.session_lock(first) is jar.session_lock(first)
    second = jar.add({"n": 2})  # forgets the first
    assert jar.session_lock(first) is not jar.session_lock(first)
    assert jar.session_lock(second) is jar.session_lock(second)
    jar.pop(second)
    assert jar.session_lock(second) is not jar.session_lock(second)
