"""``tessera serve``: the app under granian (a Rust HTTP server with a WSGI interface), one app per worker
process, built after the fork (no shared connections).

Why granian and not gunicorn's sync worker: the sync worker closes the connection after every response and
then waits for the client's FIN before it accepts the next one, so a worker spends more time on TCP than on
OAuth (measured with py-spy in ``bench/``). granian keeps HTTP/1.1 connections alive and parses HTTP in Rust.
Each worker runs the app on a few threads, enough to overlap database round trips, few enough that the
connection pool never makes a request wait.
"""

import logging
import sys
from typing import Any

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

from tessera.config import Settings

__all__ = ["THREADS_PER_WORKER", "run"]

#: WSGI threads per worker process (the engine's pool holds 5 connections plus 10 overflow)
THREADS_PER_WORKER = 4

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
        from tessera.server.app import create_app

        return create_app(settings)

    server = Server(
        "tessera.server.app:create_app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=THREADS_PER_WORKER,
        log_level=LogLevels.warning,
        log_dictconfig=_GRANIAN_LOGGING,
        log_access=False,  # Tessera writes its own access line, with the client id
        workers_kill_timeout=10,
    )
    server.serve(target_loader=load_app, wrap_loader=False)
