"""The authorization endpoint as people see it (RFC 6749 §4.1.1): validate, sign in, ask for consent once,
answer the client. Authlib validates the request and builds every redirect; this module only decides which
page to show.

An unknown client or an unregistered redirect URI is shown here and never redirected (RFC 6749 §4.1.2.1).
"""

from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from flask import Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tessera.server.authorization import TesseraServer
from tessera.server.grants import Approval
from tessera.store import UserRecord
from tessera.web.context import current_server
from tessera.web.security import allow_form_redirect, check_csrf, csrf_token, current_user

__all__ = ["authorize"]


def _error_page(error: OAuth2Error) -> tuple[str, int]:
    if error.error == "invalid_client":
        message = "The application that sent you here is not registered with this server."
    elif error.error == "invalid_request" and "redirect" in (error.description or "").lower():
        message = "The application asked to send you back to an address it has not registered."
    else:
        message = error.description or "The application sent an invalid request."
    page = render_template("errors/error.html", title="This request cannot be completed", message=message, status=400)
    return page, 400


def _redirect_with_error(error: OAuth2Error) -> Response:
    """The client is known and its redirect URI registered: tell it, with ``iss`` (RFC 9207)."""
    server = current_server()
    response: Response = server.handle_error_response(None, error)
    server.issuer_parameter.add_issuer_parameter(server, response)
    return response


def authorize() -> ResponseReturnValue:
    server = current_server()
    if len(request.query_string) > 8192:
        return render_template(
            "errors/error.html", title="Request too long", message="The request is too long.", status=414
        ), 414
    user = current_user()
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return _redirect_with_error(error) if error.redirect_uri else _error_page(error)
    except ValueError:
        # Authlib quotes the request's own response_type or redirect_uri in an error description and refuses to
        # build one holding characters RFC 6749 §4.1.2.1 forbids there; such a request is malformed anyway
        return _error_page(InvalidRequestError("The request contains characters that are not allowed."))
    if user is None:
        return redirect(url_for("login", next=request.full_path), code=302)

    client = grant.client
    requested = (grant.request.scope or "").split()
    consents = server.context.store.consents
    descriptions = server.context.settings.scope_descriptions
    if request.method == "POST":
        check_csrf()
        if request.form.get("decision") != "allow":
            return server.create_authorization_response(grant=grant, grant_user=None)
        chosen = [s for s in requested if s in request.form.getlist("grant_scope")]
        if not chosen:
            return server.create_authorization_response(grant=grant, grant_user=None)
        consents.save(user.id, client.client_id, chosen)
        return _issue(server, grant, user, chosen)

    remembered = set((consents.get(user.id, client.client_id) or "").split())
    if remembered.issuperset(requested):
        return _issue(server, grant, user, requested)
    if grant.redirect_uri:  # validated: one the client registered; the form's answer redirects there
        allow_form_redirect(grant.redirect_uri)
    return render_template(
        "consent/consent.html",
        csrf_token=csrf_token(),
        client_name=client.name,
        username=user.username,
        scopes=[(s, descriptions.get(s, "")) for s in requested],
        form_action=request.full_path,
        logout_url=url_for("logout"),
    )


def _issue(server: TesseraServer, grant: Any, user: UserRecord, scopes: list[str]) -> Response:
    approval = Approval(user, " ".join(scopes))
    response: Response = server.create_authorization_response(grant=grant, grant_user=approval)
    if request.method == "POST":
        response.status_code = 303  # after a POST, never 307 (RFC 9700 §4.12)
    return response
