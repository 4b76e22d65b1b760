"""The audit table on SQLite and PostgreSQL: a batch in one statement, listed newest first with its filters,
purged by age."""

import json

from tessera.store import AuditRecord, AuditRow, Store


def _event(at: float, event: str, *, user: str | None = None, client_id: str | None = None) -> AuditRecord:
    return AuditRecord(at=at, event=event, outcome="success", client_id=client_id, user=user,
                       address="127.0.0.1", request_id=f"r-{at}", detail={"scope": "api", "n": 2})  # fmt: skip


def _row(e: AuditRecord) -> AuditRow:
    detail = None if e.detail is None else json.dumps(e.detail)
    return (e.at, e.event, e.outcome, e.client_id, e.user, e.address, e.request_id, e.reason, detail)


def test_a_batch_is_listed_newest_first_with_filters_and_purged(db_store: Store) -> None:
    audit = db_store.audit
    audit.add(
        [
            _row(_event(100.5, "token.issued", user="alice", client_id="c1")),
            _row(_event(200.25, "token.issued", client_id="c2")),
            _row(_event(300.125, "user.sign_in.failed", user="alice")),
        ]
    )
    audit.add([])
    listed = audit.list()
    assert [e.event for e in listed] == ["user.sign_in.failed", "token.issued", "token.issued"]
    assert listed[0] == _event(300.125, "user.sign_in.failed", user="alice")  # every field as it was written
    assert [e.at for e in audit.list(user="alice")] == [300.125, 100.5]
    assert [e.at for e in audit.list(client_id="c2")] == [200.25]
    assert [e.at for e in audit.list(since=200.25)] == [300.125, 200.25]
    assert [e.at for e in audit.list(limit=1)] == [300.125]
    assert audit.purge(200.25) == 1
    assert [e.at for e in audit.list()] == [300.125, 200.25]
