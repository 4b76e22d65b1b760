"""``tessera serve`` and ``tessera demo``: running the server, alone or with the demo's API and app."""

from pathlib import Path

import click

from tessera.cli.base import fail, handled, load_settings, main


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve Prometheus metrics, summed over the workers, on http://127.0.0.1:PORT/metrics.",
)
@click.option(
    "--purge-interval",
    type=click.IntRange(0, 7 * 86_400),
    metavar="SECONDS",
    help="Run `tessera tokens purge` every SECONDS, one node at a time; 0: never.  [default: TESSERA_PURGE_INTERVAL]",
)
@handled
def serve(host: str, port: int, workers: int, metrics_port: int | None, purge_interval: int | None) -> None:
    """Run the authorization server (granian, one process per worker)."""
    from tessera.app.serve import run

    settings = load_settings(for_server=True)  # the one command that needs the secret key and the issuer
    if metrics_port is not None and metrics_port == port:
        fail("--metrics-port must differ from --port")
    interval = settings.purge_interval if purge_interval is None else purge_interval
    run(settings, host=host, port=port, workers=workers, metrics_port=metrics_port, purge_interval=interval)


@main.command()
@click.option(
    "--auth-port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Authorization server."
)
@click.option("--api-port", default=8001, show_default=True, type=click.IntRange(1, 65535), help="Demo API.")
@click.option("--app-port", default=8002, show_default=True, type=click.IntRange(1, 65535), help="Demo client app.")
@click.option(
    "--metrics-port",
    default=0,
    type=click.IntRange(0, 65535),
    help="The authorization server's Prometheus metrics.  [default: a free port, shown at start]",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's database (tessera-demo.db) here; by default a temporary directory, deleted at the end.",
)
@handled
def demo(auth_port: int, api_port: int, app_port: int, metrics_port: int, data_dir: Path | None) -> None:
    """Run the authorization server, a demo API and a demo client app on 127.0.0.1, with the user demo/demo."""
    import os

    from tessera.demo.run import DemoPorts, run

    try:
        run(DemoPorts(auth_port, api_port, app_port, metrics_port), data_dir, os.environ)
    except OSError as exc:  # e.g. a --data-dir that cannot be created
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
