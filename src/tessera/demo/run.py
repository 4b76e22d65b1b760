"""``tessera demo``: the authorization server, the demo API and the demo client app on 127.0.0.1.

One process serves all three, each app on its own port from a thread of its own
(:mod:`tessera.demo.servers`), so stopping is one thing: Ctrl-C or SIGTERM stops the servers and the process
exits with nothing left behind and no traceback.

The demo keeps its own world. It starts from a fresh SQLite database, :data:`~tessera.demo.provision.DATABASE_FILE`
in ``--data-dir`` (a temporary directory, deleted at the end, unless one is given), and derives its issuer from
the auth port. The authorization server's Prometheus metrics are served on ``--metrics-port`` (by default a
free port the system picks), and the banner says where. Of the environment it reads only
``TESSERA_ACCESS_TOKEN_TTL`` and ``TESSERA_REFRESH_TOKEN_TTL`` (short lifetimes show refreshing);
``TESSERA_DATABASE_URL``, ``TESSERA_ISSUER``, ``TESSERA_REDIS_URL`` and the rest are ignored, and the secret
keys are random per run.
"""

import contextlib
import logging
import signal
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tessera.app import create_app, new_metrics
from tessera.config import Settings
from tessera.demo.api import create_api_app
from tessera.demo.client_app import ClientAppConfig, create_client_app
from tessera.demo.provision import PASSWORD, SCOPE, USERNAME, fresh_database, provision
from tessera.demo.servers import Servers, Site
from tessera.errors import ConfigError
from tessera.store import Store, make_engine, upgrade

__all__ = ["DemoPorts", "RunningDemo", "run", "running_demo"]

HOST = "127.0.0.1"
_READ_FROM_ENV = ("TESSERA_ACCESS_TOKEN_TTL", "TESSERA_REFRESH_TOKEN_TTL")


@dataclass(frozen=True)
class DemoPorts:
    auth: int = 8000
    api: int = 8001
    app: int = 8002
    #: the authorization server's metrics; 0: a free port the system picks
    metrics: int = 0

    def check(self) -> None:
        if len({self.auth, self.api, self.app}) != 3:
            raise ConfigError("the three ports must differ")
        if self.metrics in (self.auth, self.api, self.app):
            raise ConfigError("the metrics port must differ from the other three")


@dataclass(frozen=True)
class RunningDemo:
    """Where the running demo is."""

    data_dir: Path
    database_url: str
    auth_url: str
    api_url: str
    app_url: str
    metrics_url: str = ""


def demo_settings(database_url: str, auth_port: int, environ: Mapping[str, str]) -> Settings:
    env = {name: environ[name] for name in _READ_FROM_ENV if name in environ}
    env.update(TESSERA_DATABASE_URL=database_url, TESSERA_ISSUER=f"http://{HOST}:{auth_port}")
    return Settings.from_env(env)


@contextlib.contextmanager
def running_demo(ports: DemoPorts, data_dir: Path, environ: Mapping[str, str] | None = None) -> Iterator[RunningDemo]:
    """Provision a fresh database in ``data_dir`` and serve the three apps until the block ends."""
    ports.check()
    database_url = fresh_database(data_dir)
    settings = demo_settings(database_url, ports.auth, environ or {})
    app_url = f"http://{HOST}:{ports.app}"
    api_url = f"http://{HOST}:{ports.api}"
    redirect_uri = app_url + "/authorize"
    post_logout_redirect_uri = app_url + "/logged-out"  # where signing out at the server comes back to
    resource = api_url + "/"  # the API's URI, registered as a resource: its tokens are issued for it alone
    engine = make_engine(database_url)
    from prometheus_client import CollectorRegistry, make_wsgi_app

    registry = CollectorRegistry()
    try:
        upgrade(engine)
        store = Store(engine)
        clients = provision(
            store, redirect_uri=redirect_uri, resource=resource, post_logout_redirect_uri=post_logout_redirect_uri
        )
        client_app = create_client_app(
            ClientAppConfig(
                issuer=settings.issuer,
                client_id=clients.app_id,
                client_secret=clients.app_secret,
                redirect_uri=redirect_uri,
                api_base_url=api_url,
                scope=SCOPE,
                resource=resource,
                post_logout_redirect_uri=post_logout_redirect_uri,
            )
        )
        sites = [
            Site(
                "auth",
                ports.auth,
                create_app(settings, store=store, metrics=new_metrics(registry)),
                " (the authorization server: try --auth-port)",
            ),
            Site(
                "api",
                ports.api,
                create_api_app(settings.issuer, clients.api_id, clients.api_secret, resource),
                " (the API: try --api-port)",
            ),
            Site("app", ports.app, client_app, " (the demo app: try --app-port)"),
            Site("metrics", ports.metrics, make_wsgi_app(registry), " (the metrics: try --metrics-port)"),
        ]
        with Servers(sites, host=HOST) as servers:
            metrics_url = f"http://{HOST}:{servers.port('metrics')}/metrics"
            yield RunningDemo(data_dir, database_url, settings.issuer, api_url, app_url, metrics_url)
    finally:
        engine.dispose()


def _log_requests() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    demo_log = logging.getLogger("tessera.demo")
    demo_log.addHandler(handler)
    demo_log.setLevel(logging.INFO)
    demo_log.propagate = False
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _banner(demo: RunningDemo, temporary: bool) -> str:
    database = demo.database_url.removeprefix("sqlite:///")
    kept = "deleted when the demo stops" if temporary else "kept when the demo stops"
    return "\n".join(
        [
            "Tessera demo is running.",
            "",
            f"  Demo app              {demo.app_url}/   <- start here",
            f"  Authorization server  {demo.auth_url}/",
            f"  Demo API              {demo.api_url}/api/data",
            f"  Metrics               {demo.metrics_url}",
            "",
            f"  Sign in as user '{USERNAME}' with password '{PASSWORD}'.",
            f"  Database: {database} ({kept})",
            "",
            "Requests are logged below. Press Ctrl-C to stop.",
        ]
    )


def run(ports: DemoPorts, data_dir: Path | None, environ: Mapping[str, str]) -> None:
    """Run the demo until Ctrl-C or SIGTERM. Call from the main thread."""
    ports.check()
    # Block both signals before any thread starts, so every thread inherits the mask and the signal waits for
    # sigwait below: no KeyboardInterrupt in the middle of a request, no traceback. They stay blocked while the
    # servers stop, so a second Ctrl-C cannot interrupt the shutdown either.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    _log_requests()
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tessera-demo-")))
        else:
            directory = data_dir
            directory.mkdir(parents=True, exist_ok=True)
        demo = stack.enter_context(running_demo(ports, directory, environ))
        print(_banner(demo, temporary=data_dir is None), flush=True)
        received = signal.sigwait(stop_signals)
        print(f"\nStopping ({signal.Signals(received).name}).", flush=True)
    print("Stopped.", flush=True)
