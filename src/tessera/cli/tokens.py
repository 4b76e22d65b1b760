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
@handled
def tokens_purge() -> None:
    """Delete expired and revoked rows that are no longer needed, ended or expired sign-in sessions, device
    authorizations that expired a day ago, initial access tokens that expired or have no use left, and clients
    registered over HTTP or stored from a client ID metadata document that were never used."""
    settings = load_settings()
    store = store_of(settings)
    removed = store.tokens.purge()
    removed += store.devices.purge()
    removed += store.sessions.purge(
        int(time.time()), idle_timeout=settings.session_idle_timeout, max_age=settings.session_max_age
    )
    removed += store.registrations.purge_initial(int(time.time()))
    removed += store.registrations.purge_unused(int(time.time()) - settings.registration_unused_ttl)
    click.echo(f"Purged {removed} row(s).")


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
