"""Request ids: one per request, in the ``X-Request-Id`` response header, the access line and every audit event
the request causes, so that a log line, an audit row and what a client saw can be matched.

The id a client (or a proxy in front) sent in ``X-Request-Id`` is kept when it is sane: 1 to 128 characters among
letters, digits and ``-._:``; anything else is replaced, never echoed (a header value is no place for whatever a
client likes). A new one is this process's random prefix and a counter (``5f1c9a0e3b7d-2a``): unique across
processes and restarts, and about 0.2 µs to make, where ``uuid4`` costs ten times that on every request.

The request being answered is :func:`current` (a context variable, so each thread and each coroutine sees its
own): the adapters set it around the handler or page (:func:`entered`), and the audit trail reads it.

    >>> request_id("abc-123")
    'abc-123'
    >>> request_id("no spaces please") != "no spaces please"
    True
"""

import dataclasses
import itertools
import os
import re
import secrets
from contextvars import ContextVar, Token

__all__ = ["HEADER", "RequestInfo", "current", "entered", "left", "request_id"]

#: the header's name, as sent in every response
HEADER = "X-Request-Id"

_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclasses.dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the audit trail takes from the request it is told of."""

    request_id: str
    address: str | None


_CURRENT: ContextVar[RequestInfo | None] = ContextVar("tessera_request", default=None)


class _Ids:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = secrets.token_hex(6) + "-"
        self.counter = itertools.count(1)  # next() on it is atomic under the GIL

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter):x}"


_IDS = _Ids()
# a forked worker must not hand out its parent's ids
os.register_at_fork(after_in_child=_IDS.reset)


def request_id(sent: str | None) -> str:
    """``sent`` if it is a sane id, else a new one."""
    if sent and _SANE.fullmatch(sent):
        return sent
    return _IDS.new()


def current() -> RequestInfo | None:
    """The request this thread or coroutine is answering, if any."""
    return _CURRENT.get()


def entered(info: RequestInfo) -> "Token[RequestInfo | None]":
    """Make ``info`` the current request until :func:`left` is called with what this returns."""
    return _CURRENT.set(info)


def left(token: "Token[RequestInfo | None]") -> None:
    _CURRENT.reset(token)
