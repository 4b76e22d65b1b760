"""``tessera tokens``: revoking and purging issued tokens."""

import sys
import time

import click

from tessera.cli.base import (
    announce_revoked,
    audit,
    fail,
    handled,
    load_settings,
    main,
    print_json,
    revoked_pairs,
    store_of,
    subject_of,
    username_of,
)
from tessera.server.audit import Event
from tessera.store import Budget


@main.group()
def tokens() -> None:
    """Issued tokens."""


@tokens.command("revoke")
@click.option("--user", "username", help="Revoke every token of this user.")
@click.option("--client", "client_id", help="Revoke every token of this client.")
@handled
def tokens_revoke(username: str | None, client_id: str | None) -> None:
    """Revoke tokens of a user or a client."""
    if (username is None) == (client_id is None):
        fail("give exactly one of --user or --client")
    settings = load_settings()
    store = store_of(settings)
    tokens = store.tokens
    if username is not None:
        name = username_of(store, username)
        subject = subject_of(store, name)
        revoked = tokens.revoke_for_user(name)
        audit(store, Event.TOKEN_REVOKED, settings=settings, user=name, detail={"revoked": len(revoked)})
        announce_revoked(settings, revoked, subject=subject)
    else:
        revoked = tokens.revoke_for_client(client_id or "")
        audit(store, Event.TOKEN_REVOKED, settings=settings, client_id=client_id, detail={"revoked": len(revoked)})
        announce_revoked(settings, revoked, client_id=client_id)
    click.echo(revoked_pairs(revoked))


@tokens.command("purge")
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(10, 100_000),
    help="Rows looked at per transaction: each batch is a short transaction of its own.",
)
@click.option(
    "--max-seconds",
    type=click.IntRange(1),
    help="Start no new batch after this many seconds; the next run carries on.  [default: no limit]",
)
@click.option(
    "--pause",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 10),
    help="Seconds to wait after each batch, leaving the database to requests meanwhile.",
)
@handled
def tokens_purge(batch_size: int, max_seconds: int | None, pause: float) -> None:
    """Delete expired and revoked rows that are no longer needed, ended or expired sign-in sessions, device
    authorizations that expired a day ago, initial access tokens that expired or have no use left, and clients
    registered over HTTP or stored from a client ID metadata document that were never used.

    Safe to run while servers run, and to interrupt: it deletes in batches, each its own short transaction. On
    PostgreSQL one purge runs at a time (an advisory lock): while another one runs, on any node, it does nothing."""
    from tessera.server.purge import purge

    settings = load_settings()
    store = store_of(settings)
    try:
        report = purge(store, settings, Budget.for_seconds(batch_size, max_seconds, pause))
    finally:
        store.close()
    if not report.ran:
        click.echo("Another purge is running on this database: nothing done.")
        return
    for name, count in report.counts:
        click.echo(f"{name}: {count}")
    if not report.finished:
        click.echo(f"Stopped after --max-seconds {max_seconds}: run it again to delete the rest.")
    click.echo(f"Purged {report.total} row(s).")


@tokens.command("report-leak")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def tokens_report_leak(as_json: bool) -> None:
    """Revoke leaked tokens read from standard input, one a line, as a leak report would.

    Each live access or refresh token is revoked with its whole family (every token of that authorization), the
    revocation is announced to resource-server caches, and the audit trail records it.
    Anything else (another issuer's string, a token already revoked or expired) is a false positive."""
    from tessera.server.leaks import TRUE_POSITIVE, LeakJudge, Reported

    try:
        lines = [line.strip() for line in sys.stdin.read().splitlines()]
    except UnicodeDecodeError:
        fail("standard input is not valid UTF-8")
    reported = [Reported(line, type="cli") for line in lines if line]
    settings = load_settings()
    store = store_of(settings)

    def revoke_grant(grant_id: str) -> list[str]:
        revoked = store.tokens.revoke_grant(grant_id)
        announce_revoked(settings, revoked)
        return revoked

    from tessera.server.audit import AuditTrail

    trail = AuditTrail(store.audit if settings.audit == "on" else None, enabled=settings.audit != "off")
    judge = LeakJudge(store.tokens, revoke_grant, now=lambda: int(time.time()), audit=trail)
    verdicts = judge.judge(reported, via="cli")
    if as_json:
        print_json([{"token": n, "label": v.label} for n, v in enumerate(verdicts, 1)])
        return
    for n, verdict in enumerate(verdicts, 1):
        done = " (revoked with its family)" if verdict.label == TRUE_POSITIVE else ""
        click.echo(f"token {n}: {verdict.label}{done}")
    live = sum(v.label == TRUE_POSITIVE for v in verdicts)
    click.echo(f"{live} of {len(verdicts)} reported token(s) were live and are revoked.")
