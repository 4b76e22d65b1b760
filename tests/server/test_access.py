"""The access line as queued by ``tessera serve``: written by the writer thread, each line its own request's."""

import logging
import time

import pytest

from tessera.server.access import AccessLog


def test_queued_lines_are_each_their_own_request(caplog: pytest.LogCaptureFixture) -> None:
    log = AccessLog(logging.getLogger("tessera.access"), interval=3600)
    log.start()
    for i in range(3):
        log("POST", f"/oauth/{i}", 200 + i, time.perf_counter(), f"client-{i}", f"rid-{i}")
        time.sleep(0.002)
    with caplog.at_level(logging.INFO, logger="tessera.access"):
        log.close()  # the three written in one batch
    records = [r for r in caplog.records if r.name == "tessera.access"]
    assert [r.getMessage().split(" duration_ms=")[0] for r in records] == [
        f"request method=POST path=/oauth/{i} status={200 + i}" for i in range(3)
    ]
    assert [r.getMessage().endswith(f"client_id=client-{i}") for i in range(3) for r in records[i : i + 1]] == [
        True
    ] * 3
    assert [(r.tessera["path"], r.tessera["client_id"], r.tessera["request_id"]) for r in records] == [  # type: ignore[attr-defined]
        (f"/oauth/{i}", f"client-{i}", f"rid-{i}") for i in range(3)
    ]
    created = [r.created for r in records]
    assert created == sorted(created) and len(set(created)) == 3  # each line timed when its request ended
    assert all(r.levelno == logging.INFO and r.pathname == records[0].pathname for r in records)
