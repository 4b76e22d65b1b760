"""A command lets go of the database when it is done: no connection outlives it (in a process that runs several
commands, as a test runner or a script importing the CLI does, they would pile up)."""

import os
from pathlib import Path

import pytest

from tessera.config import Settings
from tests.test_cli import Cli


def _open_files(path: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed since it was listed
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see open files")
def test_no_database_file_is_left_open_after_a_command(cli: Cli, settings: Settings) -> None:
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    cli.ok("db", "upgrade")
    assert _open_files(database) == []
    cli.ok("users", "create", "alice", input="correct horse battery\ncorrect horse battery\n")
    assert "alice" in cli.ok("users", "list").stdout
    assert "nobody" in cli.fails("users", "delete", "nobody", "--yes")
    assert _open_files(database) == []
