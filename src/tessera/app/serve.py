"""``tessera serve``: the server under granian (a Rust HTTP server), one process per worker, each built after
the fork (no shared connections), through its RSGI interface (:mod:`tessera.server.rsgi`: bodies are read on
the event loop before a thread is taken).

Each worker runs the pages and the writing machine routes on a few threads, enough to overlap database round
trips and commits, few enough that the connection pool (5 connections plus 10 overflow) never makes a request
wait; introspection and the documents run on the event loop itself.

With ``--metrics-port``, Prometheus metrics (:mod:`tessera.server.metrics`): each worker counts into
``prometheus_client``'s multiprocess files in a directory of this run's own (made at start, removed at the end),
and this process, the master, serves their sum on ``http://127.0.0.1:PORT/metrics`` from a thread: on loopback
only, and never on the public listener. A worker that dies and is replaced leaves its files, so the totals keep
counting across restarts. The master creates every series at zero before the workers start.

With ``--purge-interval`` (or ``TESSERA_PURGE_INTERVAL``), a thread of the master runs ``tessera tokens purge``
every that many seconds (:class:`tessera.server.purge.Purger`), off the request path, on a connection pool of its
own; on PostgreSQL an advisory lock lets one node purge at a time. The workers are forked from the master while
that thread may hold a connection: they never use its pool, a worker ends with ``os._exit`` (multiprocessing's
way), which finalises nothing it inherited, and psycopg would not close a parent's connection in a child anyway.

Logs go to stderr as text or, with ``TESSERA_LOG_FORMAT=json``, one JSON object per line (:mod:`tessera.logs`),
granian's messages included.

HTTP/1.1 only. granian's default would also take cleartext HTTP/2 from clients that know to ask for it (no
browser does without TLS, and ``tessera serve`` has no TLS), and its protocol detection left two holes: a
connection that never sent a byte was kept open for ever, because the header timeout only starts once the
protocol is known (each worker serves a bounded number of connections at once, so enough of them shut everyone
else out); and an HTTP/2 request body without a ``Content-Length`` was never read, the request answered as if it
had none. With HTTP/1.1 alone the header timeout runs from the moment a connection is accepted.
"""

import logging
import os
import shutil
import tempfile
from typing import Any
from urllib.parse import urlsplit

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server

from tessera import __version__
from tessera.config import Settings
from tessera.errors import ConfigError, TesseraError
from tessera.logs import configure

__all__ = ["HEADER_TIMEOUT", "MULTIPROC_VARIABLE", "describe", "run"]

#: seconds a client has to send a request's headers (the body has ``TESSERA_BODY_TIMEOUT``)
HEADER_TIMEOUT = 10
#: where prometheus_client's multiprocess mode keeps its files; it must be set before prometheus_client is imported
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def _granian_logging(log_format: str) -> dict[str, Any]:
    """granian's own messages (start, stop, worker exits) on stderr beside ours, at warning and above."""
    generic = {"()": "tessera.logs.formatter_factory", "log_format": log_format}
    return {
        "formatters": {"generic": generic},
        "handlers": {
            "console": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            "access": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        },
    }


class MetricsPortInUse(TesseraError):
    """The metrics port cannot be bound."""


def describe(settings: Settings, *, host: str, port: int, workers: int) -> str:
    """The start-up line: where it listens, how many workers and threads, which database (never its
    credentials), whether Redis is used, and the environment."""
    url = urlsplit(settings.database_url)
    if url.scheme.startswith("sqlite"):
        database = f"SQLite {url.path.removeprefix('/') or ':memory:'}"
    else:
        database = f"PostgreSQL {url.hostname or 'localhost'}:{url.port or 5432}{url.path}"
    return (
        f"Tessera {__version__} on http://{host}:{port} (issuer {settings.issuer}): {workers} worker(s) x "
        f"{settings.threads} thread(s), {database}, Redis {'on' if settings.redis_url else 'off'}, {settings.env}"
    )


def check_signing_keys(settings: Settings) -> None:
    """Decrypt every published ID-token signing key once, before any worker starts:
    :class:`~tessera.errors.ConfigError` (one line) if one cannot be, rather than workers failing one by one.

    The decrypting is done by a child process, and only its verdict comes back: ``cryptography`` and joserfc, which
    it takes (about 10 MiB), stay out of this process, and so out of the workers forked from it, which load them
    only if they ever sign an ID token, check a DPoP proof or a client's assertion, or serve the JWKS."""
    import multiprocessing

    context = multiprocessing.get_context("fork")  # the settings as they are, nothing imported again
    verdict, reply = context.Pipe(duplex=False)
    child = context.Process(target=_check_in_child, args=(settings, reply), name="tessera-check-keys")
    child.start()
    reply.close()
    try:
        message = verdict.recv()
    except EOFError:  # the child died without a word
        message = "the signing keys could not be checked"
    finally:
        verdict.close()
        child.join()
    if message:
        raise ConfigError(message)


def _check_in_child(settings: Settings, reply: Any) -> None:
    try:
        _decrypt_signing_keys(settings)
        reply.send("")
    except ConfigError as exc:
        reply.send(str(exc))
    except BaseException as exc:  # one line from the parent; the kind only, as a driver's message may hold the URL
        reply.send(f"the signing keys could not be checked ({type(exc).__name__})")
    finally:
        reply.close()


def _decrypt_signing_keys(settings: Settings) -> None:
    from tessera.errors import StoreError
    from tessera.server.keys import KeyEncryption, Keyring
    from tessera.store import Store, make_engine

    engine = make_engine(settings.database_url, prepared_statements=settings.prepared_statements)
    try:
        store = Store(engine)
        keyring = Keyring(store.signing_keys, KeyEncryption.from_settings(settings), id_token_ttl=settings.id_token_ttl)
        try:
            keyring.load()
        except StoreError:
            pass  # no database (yet): the server starts and answers 503 until there is one, as it always has
    finally:
        engine.dispose()


def run(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    metrics_port: int | None = None,
    purge_interval: int = 0,
) -> None:
    """Serve until stopped (SIGTERM or Ctrl-C); one access line per request goes to stderr at info level. With
    ``metrics_port``, Prometheus metrics on ``127.0.0.1:metrics_port`` (:class:`MetricsPortInUse` if taken).
    With ``purge_interval`` (seconds, 0: none), a purge that often, one node at a time."""
    configure(settings.log_level, settings.log_format)
    check_signing_keys(settings)  # before any worker starts: a key that does not decrypt is one line, here
    log = logging.getLogger("tessera")
    log.info("%s", describe(settings, host=host, port=port, workers=workers))
    metrics_dir = None
    metrics_server = None
    purger = _purger(settings, purge_interval)
    try:
        if metrics_port is not None:
            metrics_dir = tempfile.mkdtemp(prefix="tessera-metrics-")
            os.environ[MULTIPROC_VARIABLE] = metrics_dir  # before prometheus_client is imported, here or in a worker
            metrics_server = _serve_metrics(metrics_port, metrics_dir)
            log.info("Prometheus metrics on http://127.0.0.1:%d/metrics", metrics_port)
        _serve(settings, host=host, port=port, workers=workers, metrics=metrics_port is not None)
    finally:
        if purger is not None:
            purger.stop()
        if metrics_server is not None:
            metrics_server.shutdown()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _purger(settings: Settings, interval: int) -> Any:
    """The started purge thread, or None without an interval."""
    if not interval:
        return None
    from tessera.server.purge import Purger
    from tessera.store import Store, make_engine

    engine = make_engine(settings.database_url, pool_size=1, prepared_statements=settings.prepared_statements)
    purger = Purger(Store(engine), settings, interval)
    purger.start()
    logging.getLogger("tessera").info("purging every %d s, one node at a time", interval)
    return purger


def _serve_metrics(port: int, directory: str) -> Any:
    import sys

    if "prometheus_client" in sys.modules:  # it would have picked in-process storage: the workers' counts never add up
        raise RuntimeError("prometheus_client was imported before its multiprocess directory was set")
    from tessera.app import new_metrics
    from tessera.server.metrics import serve_metrics

    new_metrics()  # every series at zero, in this process's files, before any worker has started
    try:
        return serve_metrics(port, directory)
    except OSError as exc:
        raise MetricsPortInUse(f"cannot serve metrics on 127.0.0.1:{port}: {exc.strerror or exc}") from None


def _serve(settings: Settings, *, host: str, port: int, workers: int, metrics: bool) -> None:
    from tessera.store.db import load_driver

    load_driver(settings.database_url)  # before the fork, as everything else the workers use: see load_driver

    def load_app() -> Any:
        # runs in each worker after the fork, with the settings the command validated
        from tessera.app import build, new_metrics

        # the keys were checked before the fork (check_signing_keys): read when first used
        built = build(settings, metrics=new_metrics() if metrics else None, load_keys=False)
        return built.rsgi(threads=settings.threads)

    server = Server(
        "tessera.app:build",
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        http=HTTPModes.http1,  # see above: no protocol detection, so the header timeout starts at once
        workers=workers,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_TIMEOUT * 1000),
        log_level=LogLevels.warning,
        log_dictconfig=_granian_logging(settings.log_format),
        log_access=False,  # Tessera writes its own access line, with the client id
        workers_kill_timeout=10,
    )
    server.serve(target_loader=load_app, wrap_loader=False)
