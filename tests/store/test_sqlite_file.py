"""The SQLite file: made owner-only, by the migration step only, and never made again behind a running server's
back. (The server's side of a deleted file is in ``tests/server/test_database_file.py``.)"""

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera.errors import StoreError, StoreUnavailable
from tessera.store import Store, make_engine, upgrade

TESSERA = Path(sys.executable).with_name("tessera")


def _modes(directory: Path) -> dict[str, str]:
    return {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in sorted(directory.iterdir())}


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o177], indirect=True, ids=oct)
def test_the_file_and_its_wal_and_shm_are_owner_only_whatever_the_umask(umask: int, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tessera.db'}")
    try:
        upgrade(engine)
        Store(engine).users.create("alice", "not-a-real-hash")  # a write: the -wal and -shm files exist now
        assert _modes(tmp_path) == {"tessera.db": "0o600", "tessera.db-shm": "0o600", "tessera.db-wal": "0o600"}
    finally:
        engine.dispose()


def test_tessera_db_upgrade_makes_the_file_owner_only(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["TESSERA_DATABASE_URL"] = f"sqlite:///{tmp_path / 'data' / 'tessera.db'}"
    (tmp_path / "data").mkdir()
    done = subprocess.run(
        [str(TESSERA), "db", "upgrade"], env=env, cwd=tmp_path, umask=0, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert _modes(tmp_path / "data")["tessera.db"] == "0o600"


def test_only_the_migration_step_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tessera.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(
            StoreUnavailable, match=f"the database file {path} does not exist: run `tessera db upgrade`"
        ):
            Store(engine).ping()
        with pytest.raises(StoreUnavailable):
            Store(engine).tokens.active("d")  # the hot path on the driver's cursor too
        assert not path.exists()
        upgrade(engine)
        assert Store(engine).users.all() == []
    finally:
        engine.dispose()


def test_a_file_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'tessera.db'}")
    with pytest.raises(StoreError) as refused:
        upgrade(engine)
    assert (
        str(refused.value)
        == f"cannot create the database file {tmp_path / 'missing' / 'tessera.db'}: No such file or directory"
    )


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "tessera.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    assert _modes(tmp_path)["tessera.db"] == "0o640"
