"""The scopes repository, on both databases: what it stores and refuses, and a deletion that keeps clients and
consents in step, all or nothing."""

from collections.abc import Mapping

import pytest

from tessera.errors import AlreadyExists, NotFound
from tessera.passwords import hash_password
from tessera.store import ScopeRecord, Store
from tests.conftest import register_client


def _declare(store: Store, *names: str) -> None:
    for name in names:
        store.scopes.create(ScopeRecord(name, f"About {name}", False, 0))


def test_create_get_list_describe_and_update(db_store: Store) -> None:
    _declare(db_store, "contacts", "billing:read")
    with pytest.raises(AlreadyExists, match="scope 'contacts' already exists"):
        _declare(db_store, "contacts")
    assert _without_openid(db_store.scopes.names()) == ["api", "billing:read", "contacts"]
    assert _without_openid([s.name for s in db_store.scopes.all()]) == ["api", "billing:read", "contacts"]
    assert db_store.scopes.get("contacts") == ScopeRecord("contacts", "About contacts", False, 0)
    assert db_store.scopes.get("nope") is None
    assert db_store.scopes.described(["contacts", "nope", "billing:read"]) == {
        "contacts": "About contacts",
        "billing:read": "About billing:read",
    }
    assert db_store.scopes.described([]) == {}
    changed = db_store.scopes.update("contacts", default=True)
    assert changed == ScopeRecord("contacts", "About contacts", True, 0) == db_store.scopes.get("contacts")
    assert db_store.scopes.update("contacts", description="Your name").description == "Your name"
    assert db_store.scopes.update("contacts") == db_store.scopes.get("contacts")  # nothing to change
    with pytest.raises(NotFound, match="no scope 'nope'"):
        db_store.scopes.update("nope", default=True)


def test_delete_removes_the_scope_from_clients_and_consents_in_one_go(db_store: Store) -> None:
    _declare(db_store, "a%", "a_b", "ab", "read")
    holder = register_client(db_store, scope="api read a%")
    only = register_client(db_store, scope="read")
    other = register_client(db_store, scope="api ab a_b")  # "ab" and "a_b" look like "a%" to LIKE: not holders
    alice = db_store.users.create("alice", hash_password("pw"))
    db_store.consents.save(alice.id, holder.client_id, ["api", "a%"])
    db_store.consents.save(alice.id, other.client_id, ["ab", "a_b"])
    db_store.consents.save(alice.id, only.client_id, ["a%"])  # held by no client any more: forgotten too
    seen: list[Mapping[str, tuple[str, ...]]] = []
    changed = db_store.scopes.delete("a%", seen.append)
    assert seen == [{holder.client_id: ("api", "read", "a%")}] and changed == [holder.client_id]
    assert db_store.clients.get(holder.client_id).scope == "api read"
    assert db_store.clients.get(other.client_id).scope == "api ab a_b"
    assert db_store.consents.get(alice.id, holder.client_id) == "api"
    assert db_store.consents.get(alice.id, other.client_id) == "a_b ab"
    assert db_store.consents.get(alice.id, only.client_id) is None  # left with nothing: the row is gone
    assert _without_openid(db_store.scopes.names()) == ["a_b", "ab", "api", "read"]
    with pytest.raises(NotFound, match="no scope 'a%'"):
        db_store.scopes.delete("a%", seen.append)
    assert len(seen) == 1  # not asked about a scope that is not there


def test_a_check_that_refuses_changes_nothing(db_store: Store) -> None:
    _declare(db_store, "read")
    holder = register_client(db_store, scope="api read")
    alice = db_store.users.create("alice", hash_password("pw"))
    db_store.consents.save(alice.id, holder.client_id, ["read"])

    def refuse(holders: object) -> None:
        raise AlreadyExists("refused")

    with pytest.raises(AlreadyExists, match="refused"):
        db_store.scopes.delete("read", refuse)
    assert db_store.clients.get(holder.client_id) == holder.record
    assert db_store.consents.get(alice.id, holder.client_id) == "read"
    assert _without_openid(db_store.scopes.names()) == ["api", "read"]


def _without_openid(names: list[str]) -> list[str]:
    """The names besides the OpenID Connect scopes every database declares."""
    return [name for name in names if name not in ("openid", "profile", "email")]
