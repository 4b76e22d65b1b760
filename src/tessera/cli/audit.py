"""``tessera audit``: reading the audit trail (:mod:`tessera.server.audit`) and keeping it to a size."""

import datetime
import time

import click

from tessera.cli.base import fail, handled, main, print_json, shown, store_of
from tessera.server.audit import as_json as event_json


def _instant(value: str, option: str) -> float:
    """ISO 8601 (``2026-12-01``, ``2026-12-01T10:00:00Z``, with an offset or without: UTC) as Unix seconds."""
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be an ISO 8601 date or time such as 2026-12-01T10:00:00Z, not {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


@main.group()
def audit() -> None:
    """The audit trail: sign-ins, consents, tokens issued and revoked, changes to clients and users."""


@audit.command("list")
@click.option("--user", help="Only events about this user (their username).")
@click.option("--client", "client_id", help="Only events about this client (its client_id).")
@click.option("--since", metavar="ISO-8601", help="Only events at or after this time (UTC unless it says).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@handled
def audit_list(user: str | None, client_id: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """List audit events, the newest first."""
    after = None if since is None else _instant(since, "--since")
    events = store_of().audit.list(user=user, client_id=client_id, since=after, limit=limit)
    if as_json:
        print_json([event_json(e) for e in events])
        return
    for e in events:
        fields = event_json(e)
        parts = [str(fields["time"]), e.event, e.outcome]
        for name in ("client_id", "user", "address", "reason", "request_id"):
            if fields[name] is not None:
                parts.append(f"{name}={shown(str(fields[name]))}")
        if e.detail:
            parts.extend(f"{key}={shown(str(value))}" for key, value in e.detail.items())
        click.echo("  ".join(parts))


@audit.command("purge")
@click.option("--before", metavar="ISO-8601", help="Delete the events before this time (UTC unless it says).")
@click.option("--older-than", "days", type=click.IntRange(1, 36_500), metavar="DAYS", help="... or older than this.")
@handled
def audit_purge(before: str | None, days: int | None) -> None:
    """Delete old audit events (give exactly one of --before or --older-than)."""
    if (before is None) == (days is None):
        fail("give exactly one of --before or --older-than")
    cutoff = _instant(before, "--before") if before is not None else time.time() - (days or 0) * 86_400
    removed = store_of().audit.purge(cutoff)
    click.echo(f"Purged {removed} audit event(s).")
