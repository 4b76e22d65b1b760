"""The rules for declared scopes (:mod:`tessera.server.scopes`), in the functions the CLI and the demo call."""

import pytest

from tessera.errors import AlreadyExists, InvalidScope, NotFound, ScopeInUse
from tessera.passwords import hash_password
from tessera.server.scopes import MAX_DESCRIPTION, MAX_NAME, create_scope, delete_scope, update_scope
from tessera.store import ScopeRecord, Store
from tests.conftest import register_client


def test_a_scope_is_declared_with_its_description_trimmed(store: Store) -> None:
    record = create_scope(store.scopes, "billing:read", "  Read your invoices ", default=True, clock=lambda: 1234.5)
    assert record == ScopeRecord("billing:read", "Read your invoices", True, 1234)
    assert store.scopes.get("billing:read") == record
    with pytest.raises(AlreadyExists, match="scope 'billing:read' already exists"):
        create_scope(store.scopes, "billing:read", "Again")


@pytest.mark.parametrize(
    "name",
    ["", "two words", 'say"', "back\\slash", "tab\t", "café", "x" * (MAX_NAME + 1), "nul\x00", "del\x7f"],
)
def test_a_name_outside_rfc_6749_or_too_long_is_refused(store: Store, name: str) -> None:
    with pytest.raises(InvalidScope, match="RFC 6749 §3.3"):
        create_scope(store.scopes, name, "Something")
    assert _declared(store) == ["api"]


def test_every_name_rfc_6749_allows_may_be_declared(store: Store) -> None:
    every = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\')
    create_scope(store.scopes, every, "All of them")
    create_scope(store.scopes, "x" * MAX_NAME, "The longest")
    assert every in store.scopes.names()


@pytest.mark.parametrize(
    "description",
    ["", "   ", "x" * (MAX_DESCRIPTION + 1), "two\nlines", "bell\x07", "\u202eesrever", "zero\u200bwidth"],
)
def test_a_description_must_be_printable_and_not_too_long(store: Store, description: str) -> None:
    with pytest.raises(InvalidScope, match=f"1 to {MAX_DESCRIPTION} printable characters"):
        create_scope(store.scopes, "profile", description)
    with pytest.raises(InvalidScope, match=f"1 to {MAX_DESCRIPTION} printable characters"):
        update_scope(store.scopes, "api", description=description)
    assert _declared(store) == ["api"] and store.scopes.get("api").description == "Use the API on your behalf"


def test_an_update_changes_what_is_given(store: Store) -> None:
    assert update_scope(store.scopes, "api", default=False).default is False
    record = update_scope(store.scopes, "api", description=" Call the API ")
    assert (record.description, record.default) == ("Call the API", False)
    with pytest.raises(InvalidScope, match="nothing to change"):
        update_scope(store.scopes, "api")
    with pytest.raises(NotFound, match="no scope 'nope'"):
        update_scope(store.scopes, "nope", default=True)


def test_a_scope_clients_hold_is_deleted_only_when_forced(store: Store) -> None:
    create_scope(store.scopes, "read", "Read things")
    first = register_client(store, scope="api read")
    second = register_client(store, scope="read api")
    with pytest.raises(ScopeInUse) as refused:
        delete_scope(store.scopes, "read")
    assert str(refused.value) == (
        "scope 'read' is held by 2 clients: change their scope first (tessera clients update CLIENT_ID --scope ...), "
        "or delete it with --force"
    )
    assert _declared(store) == ["api", "read"] and store.clients.get(first.client_id) == first.record
    assert sorted(delete_scope(store.scopes, "read", force=True)) == sorted([first.client_id, second.client_id])
    assert [store.clients.get(c.client_id).scope for c in (first, second)] == ["api", "api"]
    assert _declared(store) == ["api"]


def test_a_scope_no_client_holds_is_deleted_and_forgotten_by_consents(store: Store) -> None:
    create_scope(store.scopes, "read", "Read things")
    web = register_client(store, scope="api")
    alice = store.users.create("alice", hash_password("pw"))
    store.consents.save(alice.id, web.client_id, ["api", "read"])  # held once, by consent
    assert delete_scope(store.scopes, "read") == []
    assert store.consents.get(alice.id, web.client_id) == "api"
    with pytest.raises(NotFound, match="no scope 'read'"):
        delete_scope(store.scopes, "read")


def test_forcing_never_leaves_a_client_without_a_scope(store: Store) -> None:
    create_scope(store.scopes, "read", "Read things")
    alone = [register_client(store, scope="read") for _ in range(5)]
    shared = register_client(store, scope="api read")
    with pytest.raises(ScopeInUse) as refused:
        delete_scope(store.scopes, "read", force=True)
    oldest_first = sorted(alone, key=lambda c: (c.record.created_at, c.client_id))
    named = ", ".join(c.client_id for c in oldest_first[:3])
    assert str(refused.value) == (
        f"scope 'read' is the only scope of 5 clients ({named} and 2 more): give them another scope first, or "
        "delete them"
    )
    assert store.clients.get(shared.client_id).scope == "api read"  # nothing changed, not even for the others
    assert _declared(store) == ["api", "read"]


def _declared(store: Store) -> list[str]:
    """The declared scopes besides the OpenID Connect ones every database declares."""
    return [name for name in store.scopes.names() if name not in ("openid", "profile", "email")]
