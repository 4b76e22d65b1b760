"""Engines reach a PostgreSQL primary only: libpq's ``target_session_attrs`` is ``read-write`` unless the URL
says ``primary``, and any setting that could reach a standby is refused before a connection is made."""

from typing import Any

import pytest
from sqlalchemy import event

from tessera.errors import ConfigError
from tessera.store import make_engine


@pytest.mark.parametrize("attrs", ["any", "read-only", "standby", "prefer-standby"])
def test_a_url_that_could_reach_a_standby_is_refused(attrs: str) -> None:
    with pytest.raises(ConfigError, match="read-write or primary"):
        make_engine(f"postgresql+psycopg://u@/tessera?host=10.0.0.1&host=10.0.0.2&target_session_attrs={attrs}")


@pytest.mark.parametrize(
    ("url", "attrs"),
    [
        ("postgresql+psycopg://u@10.0.0.1/tessera", "read-write"),
        ("postgresql+psycopg://u@/tessera?host=10.0.0.1:5432&host=10.0.0.2:5433", "read-write"),
        ("postgresql+psycopg://u@/tessera?host=10.0.0.1&host=10.0.0.2&target_session_attrs=primary", "primary"),
    ],
)
def test_every_connection_asks_for_a_primary(url: str, attrs: str) -> None:
    engine = make_engine(url)
    asked: dict[str, Any] = {}

    def connecting(dialect: Any, record: Any, args: Any, params: dict[str, Any]) -> None:
        asked.update(params)  # what psycopg is handed for each connection the pool opens
        raise _Stop

    event.listen(engine, "do_connect", connecting)
    try:
        with pytest.raises(_Stop):
            engine.connect()
    finally:
        engine.dispose()
    assert asked["target_session_attrs"] == attrs


class _Stop(Exception):
    """Raised instead of connecting: nothing listens at these addresses."""
