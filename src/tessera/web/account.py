"""``/account``: the applications a signed-in person has allowed, and taking that back.

Each application the person consented to is listed with the scopes they allowed, when, and when it last got a
token for them. ``Revoke`` (a form with the CSRF token) does, in one transaction, what signing out of that
application everywhere means: the consent is forgotten (the next sign-in through it asks again), every token the
application holds for the person is revoked, and so is any authorization code not yet redeemed. The revocation
is announced as one "not before" event for that person and application (resource-server caches listen for it)
and audited (``consent.revoked``). Other people's consents are out of reach: the form names a client, and the person is
always the one signed in.
"""

import datetime
from urllib.parse import urlsplit

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tessera.server.audit import Event
from tessera.server.clients import is_document_url
from tessera.web.context import current_server
from tessera.web.security import check_csrf, csrf_token, current_user

__all__ = ["account"]


def _day(at: int | None) -> str | None:
    if at is None:
        return None
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _shown(client_id: str, name: str) -> str:
    """What the page calls a client: its name, or for a client ID metadata document's client the host the
    document came from, which is what the server vouches for (the name is the document's own)."""
    return urlsplit(client_id).netloc if is_document_url(client_id) else name


def account() -> ResponseReturnValue:
    user = current_user()
    if user is None:
        return redirect(url_for("login", next=url_for("account")), code=302)
    context = current_server().context
    if request.method == "POST":
        check_csrf()
        client_id = request.form.get("client_id", "")
        app = next((a for a in context.store.consents.allowed(user.id) if a.client_id == client_id), None)
        revoked = context.store.consents.withdraw(user.id, client_id) if app is not None else None
        if app is None or revoked is None:
            flash("That application has no access to revoke.")
        else:
            context.revocations.revoked(revoked, subject=user.subject, client_id=client_id)
            context.audit.emit(
                Event.CONSENT_REVOKED,
                client_id=client_id,
                user=user.username,
                detail={"via": "account", "scope": app.scope, "revoked": len(revoked)},
            )
            flash(f"{_shown(app.client_id, app.name)} no longer has access to your account.")
        return redirect(url_for("account"), code=303)
    apps = [
        {
            "client_id": a.client_id,
            "name": _shown(a.client_id, a.name),
            # a client ID metadata document's client: the name it gives itself, beside its host
            "calls_itself": a.name if is_document_url(a.client_id) else None,
            "scopes": a.scope.split(),
            "granted": _day(a.granted_at),
            "last_used": _day(a.last_used),
        }
        for a in context.store.consents.allowed(user.id)
    ]
    return render_template(
        "account/account.html",
        username=user.username,
        apps=apps,
        messages=get_flashed_messages(),
        csrf_token=csrf_token(),
    )
