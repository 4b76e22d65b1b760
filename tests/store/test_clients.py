"""The clients repository: what it refuses, on both databases."""

import dataclasses

import pytest

from tessera.errors import AlreadyExists, NotFound
from tessera.store import Store
from tests.conftest import register_client


def test_a_taken_id_an_unknown_client_and_an_update_leave_the_rest_alone(db_store: Store) -> None:
    registered = register_client(db_store)
    with pytest.raises(AlreadyExists):
        db_store.clients.create(registered.record)
    unknown = dataclasses.replace(registered.record, client_id="no-such-client")
    with pytest.raises(NotFound):
        db_store.clients.update(unknown)
    with pytest.raises(NotFound):
        db_store.clients.set_secret("no-such-client", "0" * 64)
    with pytest.raises(NotFound):
        db_store.clients.delete("no-such-client")
    renamed = dataclasses.replace(registered.record, name="Renamed", secret_digest=None, created_at=0)
    db_store.clients.update(renamed)
    stored = db_store.clients.get(registered.record.client_id)
    # the name changed; the secret and the creation time are not update's to change
    assert stored == dataclasses.replace(registered.record, name="Renamed")
