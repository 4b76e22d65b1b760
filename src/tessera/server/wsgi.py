"""``tessera serve``: the app under gunicorn, built in each worker after the fork (no shared connections)."""

import logging
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from tessera.config import Settings

__all__ = ["run"]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from tessera.server.app import create_app

        return create_app(self._settings)


def run(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve until stopped; one access line per request goes to stderr at info level."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "graceful_timeout": 10,
        "timeout": 30,
        "proc_name": "tessera",
        "control_socket_disable": True,
    }
    _Gunicorn(settings, options).run()
