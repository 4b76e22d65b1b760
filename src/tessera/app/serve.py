"""``tessera serve``: the server under granian (a Rust HTTP server), one process per worker, each built after
the fork (no shared connections), through its RSGI interface (:mod:`tessera.server.rsgi`: bodies are read on
the event loop before a thread is taken).

Each worker runs the pages and the writing machine routes on a few threads, enough to overlap database round
trips and commits, few enough that the connection pool (5 connections plus 10 overflow) never makes a request
wait; introspection and the documents run on the event loop itself.
"""

import logging
import sys
from typing import Any

from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server

from tessera.config import Settings

__all__ = ["HEADER_TIMEOUT", "THREADS_PER_WORKER", "run"]

#: worker threads per process for the pages and the writing machine routes
THREADS_PER_WORKER = 4
#: seconds a client has to send a request's headers (the body has ``TESSERA_BODY_TIMEOUT``)
HEADER_TIMEOUT = 10

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# granian's own messages (start, stop, worker exits) on stderr beside ours, at warning and above
_GRANIAN_LOGGING: dict[str, Any] = {
    "formatters": {"generic": {"()": "logging.Formatter", "fmt": _LOG_FORMAT}},
    "handlers": {
        "console": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
    },
}


def run(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve until stopped (SIGTERM or Ctrl-C); one access line per request goes to stderr at info level."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=_LOG_FORMAT)

    def load_app() -> Any:
        # runs in each worker after the fork, with the settings the command validated
        from tessera.app import build

        return build(settings).rsgi(threads=THREADS_PER_WORKER)

    server = Server(
        "tessera.app:build",
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        workers=workers,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_TIMEOUT * 1000),
        log_level=LogLevels.warning,
        log_dictconfig=_GRANIAN_LOGGING,
        log_access=False,  # Tessera writes its own access line, with the client id
        workers_kill_timeout=10,
    )
    server.serve(target_loader=load_app, wrap_loader=False)
