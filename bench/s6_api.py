"""The small API that S6 measures: one endpoint, served three ways (see ``bench/s6.py``).

``/cached`` and ``/uncached`` require scope ``api`` through ``tessera.resource.flask``, validating by
introspection against the authorization server at ``BENCH_AS_URL`` with the client
``BENCH_CLIENT_ID``/``BENCH_CLIENT_SECRET``; ``/cached`` keeps answers in the toolkit's bounded
:class:`~tessera.resource.TokenCache`, ``/uncached`` asks on every call. ``/local`` reads the server's database
(``TESSERA_DATABASE_URL``) on every call through :class:`~tessera.resource.LocalSource`, with no cache and no
HTTP hop. ``/open`` is the same view with no protection. Served by granian (``granian --interface wsgi
bench.s6_api:app``), as ``tessera serve`` is.
"""

import os

from flask import Flask, Response, jsonify

from tessera.resource import IntrospectionSource, LocalSource, TokenCache, TokenValidator
from tessera.resource.flask import ResourceProtector

__all__ = ["app", "create_app"]


def create_app() -> Flask:
    issuer = os.environ["BENCH_AS_URL"]
    credentials = (os.environ["BENCH_CLIENT_ID"], os.environ["BENCH_CLIENT_SECRET"])
    endpoint = issuer + "/oauth/introspect"
    cached = ResourceProtector(
        TokenValidator(TokenCache(IntrospectionSource(issuer, *credentials, endpoint=endpoint), ttl=60))
    )
    uncached = ResourceProtector(TokenValidator(IntrospectionSource(issuer, *credentials, endpoint=endpoint)))
    local = ResourceProtector(TokenValidator(LocalSource.from_url(os.environ["TESSERA_DATABASE_URL"])))
    api = Flask("s6_api")

    def data() -> Response:
        return jsonify(status="ok")

    api.add_url_rule("/open", "open", data)
    api.add_url_rule("/cached", "cached", cached("api")(data))
    api.add_url_rule("/uncached", "uncached", uncached("api")(data))
    api.add_url_rule("/local", "local", local("api")(data))
    return api


# granian imports this module in each worker process
app = create_app() if "BENCH_AS_URL" in os.environ else None
