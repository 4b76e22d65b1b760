"""Consents given at the same moment (two tabs, two devices) all land, on SQLite and PostgreSQL."""

import threading

from tessera.passwords import hash_password
from tessera.store import Store
from tests.conftest import register_client


def test_concurrent_first_consents_all_land_and_merge(db_store: Store) -> None:
    user = db_store.users.create("alice", hash_password("correct horse"))
    client = register_client(db_store, scope=" ".join(f"s{i}" for i in range(8)))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def consent(scope: str) -> None:
        barrier.wait()
        try:
            db_store.consents.save(user.id, client.client_id, [scope])
        except BaseException as exc:  # the test reports every failure, not only the first
            errors.append(exc)

    for _ in range(3):  # a race is a matter of luck: give it a few chances, each on a fresh row
        threads = [threading.Thread(target=consent, args=(f"s{i}",)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert db_store.consents.get(user.id, client.client_id) == " ".join(sorted(f"s{i}" for i in range(8)))
        with db_store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM consents")
