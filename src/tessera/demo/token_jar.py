"""Where the demo client app keeps people's tokens: on the server, keyed by a random session id.

The browser only ever holds that id in the app's signed session cookie; the access and refresh tokens stay
here (the backend-for-frontend pattern), so no script and no copied cookie can read a bearer token.
In memory, because the demo app is one process that starts from scratch each time.

Each session also has a lock, held while its token may be refreshed: Tessera rotates refresh tokens and treats
a second use of one as theft (revoking the whole grant), so two requests of one session must not both refresh.
"""

import secrets
import threading
from collections import OrderedDict
from typing import Any

__all__ = ["TokenJar"]

Token = dict[str, Any]


class TokenJar:
    """A bounded, thread-safe map from session id to token; the oldest session is forgotten first.

    >>> jar = TokenJar(capacity=2)
    >>> sid = jar.add({"access_token": "tsr_at_..."})
    >>> jar.get(sid)["access_token"]
    'tsr_at_...'
    >>> jar.pop(sid) is not None, jar.get(sid)
    (True, None)
    """

    def __init__(self, capacity: int = 1000) -> None:
        self._capacity = capacity
        self._tokens: OrderedDict[str, Token] = OrderedDict()
        self._session_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def add(self, token: Token) -> str:
        """Keep ``token`` under a new session id and return the id."""
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[sid] = dict(token)
            self._session_locks[sid] = threading.Lock()
            while len(self._tokens) > self._capacity:
                forgotten, _ = self._tokens.popitem(last=False)
                self._session_locks.pop(forgotten, None)
        return sid

    def get(self, sid: str | None) -> Token | None:
        with self._lock:
            token = self._tokens.get(sid) if sid else None
            return None if token is None else dict(token)

    def replace(self, sid: str, token: Token) -> None:
        """Store a refreshed token; a session forgotten meanwhile stays forgotten."""
        with self._lock:
            if sid in self._tokens:
                self._tokens[sid] = dict(token)

    def pop(self, sid: str | None) -> Token | None:
        with self._lock:
            if not sid:
                return None
            self._session_locks.pop(sid, None)
            return self._tokens.pop(sid, None)

    def session_lock(self, sid: str) -> threading.Lock:
        """The lock of one session (a fresh, unshared one if the session is gone: nothing to protect then)."""
        with self._lock:
            return self._session_locks.get(sid) or threading.Lock()
