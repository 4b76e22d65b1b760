"""``Store``: every table's repository over one :class:`~tessera.store.database.Database`.

Only the modules of this package issue SQL; everything else talks to the protocols in
:mod:`tessera.store.protocols`, which ``Store`` and its parts implement::

    store = Store(make_engine("sqlite:///tessera.db"))
    store.tokens.active(digest)            # tessera.store.tokens
    store.clients.get(client_id)           # tessera.store.clients
    store.users.by_name("alice")           # tessera.store.users
    store.consents.get(user_id, client_id) # tessera.store.consents
    store.sessions.find(digest)            # tessera.store.sessions
    store.scopes.described(["api"])        # tessera.store.scopes
    store.audit.list(user="alice")         # tessera.store.audit
    store.devices.get(digest)              # tessera.store.devices
    store.resources.find([uri])            # tessera.store.resources
    store.registrations.by_token(digest)   # tessera.store.registrations
"""

from contextlib import AbstractContextManager

from sqlalchemy import Engine

from tessera.store.audit import AuditTable
from tessera.store.clients import ClientTable
from tessera.store.consents import ConsentTable
from tessera.store.database import ChangeListener, Database
from tessera.store.devices import DEVICE_STATEMENTS, DeviceTable
from tessera.store.purge import purge_lock
from tessera.store.registrations import RegistrationTable
from tessera.store.resources import ResourceTable
from tessera.store.scopes import ScopeTable
from tessera.store.sessions import SessionTable
from tessera.store.signing_keys import SigningKeyTable
from tessera.store.tokens import HOT_STATEMENTS, TokenTable
from tessera.store.users import USER_STATEMENTS, UserTable

__all__ = ["Store"]


class Store:
    """Typed access to Tessera's tables over one engine (:class:`~tessera.store.protocols.Storage`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._db = Database(engine, (*HOT_STATEMENTS, *DEVICE_STATEMENTS, *USER_STATEMENTS))
        self.tokens = TokenTable(self._db)
        self.clients = ClientTable(self._db)
        self.users = UserTable(self._db)
        self.consents = ConsentTable(self._db)
        self.sessions = SessionTable(self._db)
        self.scopes = ScopeTable(self._db)
        self.audit = AuditTable(self._db)
        self.devices = DeviceTable(self._db)
        self.signing_keys = SigningKeyTable(self._db)
        self.resources = ResourceTable(self._db)
        self.registrations = RegistrationTable(self._db)

    def listen(self, listener: ChangeListener) -> None:
        """Call ``listener(kind, id)`` after every committed change to a client (``"client"``, its id) or a user
        (``"user"``, the user's id as a string): a deletion, new metadata or secret, disabling, a new password."""
        self._db.listeners.append(listener)

    def ping(self) -> None:
        """Raise :class:`~tessera.errors.StoreUnavailable` unless the database answers."""
        self._db.ping()

    def purge_lock(self) -> AbstractContextManager[bool]:
        return purge_lock(self.engine)

    def close(self) -> None:
        """Close every pooled connection (the engine stays usable and reconnects when asked)."""
        self.engine.dispose()
