"""Storage: the schema, the repositories (the only code that issues SQL), their protocols, and migrations."""

from tessera.store.db import make_engine
from tessera.store.migrate import upgrade
from tessera.store.protocols import (
    Clients,
    Consents,
    Registrations,
    Resources,
    Scopes,
    Sessions,
    Storage,
    TokenReader,
    Tokens,
    Users,
)
from tessera.store.records import (
    ActiveToken,
    ClientRecord,
    CodeRecord,
    InitialAccessToken,
    NewToken,
    RefreshRecord,
    RegistrationRecord,
    ResourceRecord,
    ScopeRecord,
    SessionRecord,
    TokenRef,
    UserRecord,
)
from tessera.store.repositories import Store

__all__ = [
    "ActiveToken",
    "ClientRecord",
    "Clients",
    "CodeRecord",
    "InitialAccessToken",
    "Consents",
    "NewToken",
    "RefreshRecord",
    "RegistrationRecord",
    "Registrations",
    "ResourceRecord",
    "Resources",
    "ScopeRecord",
    "Scopes",
    "SessionRecord",
    "Sessions",
    "Storage",
    "Store",
    "TokenReader",
    "TokenRef",
    "Tokens",
    "UserRecord",
    "Users",
    "make_engine",
    "upgrade",
]
