"""Storage: models, the repository (the only code that queries) and migrations."""

from tessera.store.db import make_engine
from tessera.store.migrate import upgrade
from tessera.store.records import (
    ActiveToken,
    ClientRecord,
    CodeRecord,
    NewToken,
    RefreshRecord,
    TokenRef,
    UserRecord,
)
from tessera.store.repositories import Store

__all__ = [
    "ActiveToken",
    "ClientRecord",
    "CodeRecord",
    "NewToken",
    "RefreshRecord",
    "Store",
    "TokenRef",
    "UserRecord",
    "make_engine",
    "upgrade",
]
