"""Several WSGI apps served from one process on 127.0.0.1, each by a threaded Werkzeug server in a thread of
its own, started and stopped together.

Every port is bound before any server starts, so a port in use fails at once with :class:`PortInUse` and
nothing is left running. Each request is logged on the ``tessera.demo`` logger as ``<site> METHOD path status``,
without the query string (a callback's query carries an authorization code), so the conversation between the
three services can be followed.
"""

import errno
import logging
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tessera.errors import TesseraError

__all__ = ["PortInUse", "Servers", "Site"]

log = logging.getLogger("tessera.demo")


class PortInUse(TesseraError):
    """A port the demo needs is taken (or may not be used)."""


@dataclass(frozen=True)
class Site:
    """One app to serve: a short name for the log, the port, and what to tell a person when the port is taken."""

    name: str
    port: int
    app: Any
    taken_hint: str = ""


class _Handler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]
        log.info("%-4s %s %s %s", getattr(self.server, "site_name", "?"), self.command, path, code)

    def log(self, type: str, message: str, *args: Any) -> None:
        getattr(log, type, log.info)("%s " + message.rstrip(), getattr(self.server, "site_name", "?"), *args)


def _bind(host: str, site: Site) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # rebinding just after an earlier demo stopped (TIME_WAIT) must work; a port someone listens on still fails
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, site.port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {site.port} is already in use{site.taken_hint}") from None
        raise PortInUse(f"cannot listen on {host}:{site.port}: {exc.strerror}") from None
    return sock


class Servers:
    """Serve ``sites`` until :meth:`stop`; use as a context manager.

    >>> with Servers([Site("app", 8002, wsgi_app)]):  # doctest: +SKIP
    ...     ...  # the app answers on http://127.0.0.1:8002/
    """

    def __init__(self, sites: Sequence[Site], host: str = "127.0.0.1") -> None:
        self.sites = list(sites)
        self.host = host
        self._servers: list[BaseWSGIServer] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        sockets: list[socket.socket] = []
        try:
            for site in self.sites:
                sockets.append(_bind(self.host, site))
        except PortInUse:
            for sock in sockets:
                sock.close()
            raise
        try:
            for site, sock in zip(self.sites, sockets, strict=True):
                self._serve(site, sock)
        except BaseException:
            self.stop()  # never leave some servers running
            raise
        finally:
            for sock in sockets:
                sock.close()  # each server holds its own duplicate of its socket

    def _serve(self, site: Site, sock: socket.socket) -> None:
        server = make_server(self.host, site.port, site.app, threaded=True, request_handler=_Handler, fd=sock.fileno())
        server.site_name = site.name  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=f"demo-{site.name}")
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)

    def port(self, name: str) -> int:
        """The port the site ``name`` listens on (the one the OS chose, for a site given port 0)."""
        for server in self._servers:
            if getattr(server, "site_name", None) == name:
                return int(server.socket.getsockname()[1])
        raise KeyError(name)

    def stop(self) -> None:
        """Stop accepting, wait for each serving loop to end, close the sockets. Safe to call twice."""
        # all at once: each shutdown waits up to one poll interval for its loop to notice
        stoppers = [threading.Thread(target=server.shutdown) for server in self._servers]
        for stopper in stoppers:
            stopper.start()
        for thread in [*stoppers, *self._threads]:
            thread.join()
        for server in self._servers:
            server.server_close()
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> "Servers":
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
