"""The CLI's tests beyond ``tests/test_cli.py``: the same ``cli`` fixture (click's runner, a temporary SQLite
database, no TESSERA_* variable of the calling shell) and the same way of storing a token."""

from tests.test_cli import cli  # noqa: F401 - the fixture, shared

__all__: list[str] = []
