"""The purge ``tessera serve`` runs itself: a thread of the main process purges every interval, skips its turn
while another purger (another node) holds the lock, and ``tessera serve --purge-interval`` really does it."""

import logging
import os
import secrets
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tessera.server.purge import Purger
from tessera.store import Store
from tessera.store.purge import PURGE_LOCK_KEY
from tessera.tokens import digest
from tests.conftest import open_store, register_client, reset_postgres, settings_for
from tests.server.test_serve import TESSERA, _free_port, _tessera
from tests.test_cli import _insert_token


def _wait_for(condition: object, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_the_thread_purges_every_interval_until_stopped(store: Store, sqlite_url: str) -> None:
    client_id = register_client(store).client_id
    expired, _, _ = _insert_token(store, client_id, expires_in=-5)
    live, _, _ = _insert_token(store, client_id)
    purger = Purger(store, settings_for(sqlite_url), 0.05, batch_size=10)
    purger.start()
    try:
        assert _wait_for(lambda: store.tokens.ref(digest(expired), refresh=False) is None)
        expired_later, _, _ = _insert_token(store, client_id, expires_in=-5)
        assert _wait_for(lambda: store.tokens.ref(digest(expired_later), refresh=False) is None)  # every interval
    finally:
        purger.stop()
    assert store.tokens.active(digest(live)) is not None
    after_stop, _, _ = _insert_token(store, client_id, expires_in=-5)
    time.sleep(0.3)
    assert store.tokens.ref(digest(after_stop), refresh=False) is not None


def test_the_thread_leaves_the_purge_pause_between_batches(store: Store, sqlite_url: str) -> None:
    """``TESSERA_PURGE_PAUSE``: the servers' own purge waits that long after each batch, leaving the database to
    requests (a purge from the command line pauses only with ``--pause``)."""
    client_id = register_client(store).client_id
    for _ in range(4):
        _insert_token(store, client_id, expires_in=-5)
    purger = Purger(store, settings_for(sqlite_url, TESSERA_PURGE_PAUSE="0.25"), 3600, batch_size=1)
    started = time.monotonic()
    report = purger.run_once()
    assert report is not None and report.finished and dict(report.counts)["tokens"] == 4
    assert time.monotonic() - started >= 4 * 0.25  # a pause after each of the 4 token batches, at least


@pytest.mark.postgres
def test_two_nodes_one_purges_the_other_skips_its_turn(postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    reset_postgres(postgres_url)
    settings = settings_for(postgres_url)
    with open_store(postgres_url) as node_a, open_store(postgres_url) as node_b:
        client_id = register_client(node_a).client_id
        expired, _, _ = _insert_token(node_a, client_id, expires_in=-5)
        a, b = Purger(node_a, settings, 3600), Purger(node_b, settings, 3600)
        caplog.set_level(logging.INFO, "tessera.purge")
        with node_a.purge_lock() as mine:  # node A is purging (held as its purge holds it)
            assert mine
            skipped = b.run_once()
        assert skipped is not None and not skipped.ran
        assert "purge skipped: another process is purging this database" in caplog.text
        assert node_a.tokens.ref(digest(expired), refresh=False) is not None

        with node_b.engine.connect() as conn:  # a purge of node B in progress, on its own connection
            assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": PURGE_LOCK_KEY}).scalar_one()
            report = a.run_once()
            assert report is not None and not report.ran
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PURGE_LOCK_KEY})
        report = a.run_once()
        assert report is not None and report.ran and dict(report.counts)["tokens"] == 1
        assert "purged 1 row(s)" in caplog.text
        assert node_a.tokens.ref(digest(expired), refresh=False) is None


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_tessera_serve_purges_every_purge_interval(tmp_path: Path) -> None:
    port = _free_port()
    settings = {
        "TESSERA_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "TESSERA_ISSUER": f"http://127.0.0.1:{port}",
        "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
    }
    _tessera(["db", "upgrade"], settings)
    with open_store(settings["TESSERA_DATABASE_URL"]) as store:
        client_id = register_client(store).client_id
        expired, _, _ = _insert_token(store, client_id, expires_in=-5)
        live, _, _ = _insert_token(store, client_id)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | settings
        log_path = tmp_path / "serve.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(TESSERA), "serve", "--port", str(port), "--workers", "1", "--purge-interval", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            assert _wait_for(lambda: store.tokens.ref(digest(expired), refresh=False) is None), log_path.read_text()
            assert _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz")), log_path.read_text()
            assert store.tokens.active(digest(live)) is not None
        finally:
            process.terminate()
            assert process.wait(timeout=30) == 0, log_path.read_text()
    out = log_path.read_text()
    assert "purging every 1 s, one node at a time" in out
    assert "purged 1 row(s)" in out and "Traceback" not in out
