"""The small API that S6 measures: one endpoint, served three ways (see ``bench/s6.py``).

``/cached`` and ``/uncached`` require scope ``api`` through ``tessera.resource``, validating by introspection
at ``BENCH_INTROSPECT_URL`` with the client ``BENCH_CLIENT_ID``/``BENCH_CLIENT_SECRET``; ``/cached`` keeps
answers in the toolkit's bounded cache, ``/uncached`` asks on every call. ``/open`` is the same view with no
protection. Everything this file needs from ``tessera.resource`` is in :func:`_guards`, the one place to follow
that package's API.
"""

import importlib
import os
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify

__all__ = ["create_app"]

View = Callable[[], Response]


def _guards() -> tuple[Callable[[View], View], Callable[[View], View]]:
    """(cached, uncached) decorators requiring scope ``api``, built with ``tessera.resource``'s Flask adapter."""
    flask_adapter: Any = importlib.import_module("tessera.resource.flask")
    common = {
        "introspection_url": os.environ["BENCH_INTROSPECT_URL"],
        "client_id": os.environ["BENCH_CLIENT_ID"],
        "client_secret": os.environ["BENCH_CLIENT_SECRET"],
    }
    cached = flask_adapter.TokenGuard.by_introspection(**common)
    uncached = flask_adapter.TokenGuard.by_introspection(**common, cache_size=0)
    return cached.require_token("api"), uncached.require_token("api")


def create_app() -> Flask:
    app = Flask("s6_api")
    cached, uncached = _guards()

    def data() -> Response:
        return jsonify(status="ok")

    app.add_url_rule("/open", "open", data)
    app.add_url_rule("/cached", "cached", cached(data))
    app.add_url_rule("/uncached", "uncached", uncached(data))
    return app
