"""The authorization endpoint as people see it (RFC 6749 §4.1.1): validate, sign in, ask for consent once,
answer the client. Authlib validates the request and builds every redirect; this module only decides which
page to show.

The page names every resource (RFC 8707) the request asks for, by its name and URI: the person allows the client
to reach those APIs, with the checked scopes. A remembered consent is used only when it covers the scopes and
the resources asked for.

An unknown client or an unregistered redirect URI is shown here and never redirected (RFC 6749 §4.1.2.1); so is
a client ID metadata document that cannot be used. For a client such a document describes, the page names the
host the document came from first, and the name the document gives itself only beside it: the server vouches
for the host, not the name.

The endpoint takes GET and POST (OpenID Connect Core §3.1.2.1). A POST is either the consent form's answer (to the
request's own URL, the parameters in its query; the form holds the CSRF token, the decision and the scopes) or a
client's authorization request sent as a form, its parameters in the body: one that names ``client_id`` or
``response_type`` in its body is the latter, and is answered as its GET (:func:`tessera.web.boundary.as_get`), so
that it is never read as consent and the rest of this page handles one kind of request.
"""

from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tessera.server.audit import Event
from tessera.server.authorization import TesseraServer
from tessera.server.client_documents import ClientDocumentError
from tessera.server.grants import Approval, AuthorizationCodeGrant
from tessera.web import prompt
from tessera.web.boundary import as_get
from tessera.web.context import current_server
from tessera.web.security import SignedIn, allow_form_redirect, check_csrf, csrf_token, current_session

__all__ = ["authorize"]


#: the parameters the authorization endpoint refuses to see twice (RFC 6749 §3.1), as Authlib checks them
_SINGLE = ("response_type", "client_id", "redirect_uri", "scope", "state")
#: what only an authorization request carries in its body, never the consent form
_REQUEST_IN_BODY = ("client_id", "response_type")
_CHARACTERS = "The request contains characters that are not allowed."


def _explain(error: OAuth2Error) -> str:
    """What the error page says, in our own words: it names the parameter at fault and never shows its value.

    Authlib's descriptions quote the request (``response_type`` verbatim, the redirect URI), and this page is the
    server speaking to a person: anyone could otherwise make it say whatever they like on a link to this server.
    The errors that reach this page are the ones raised before a redirect is allowed (RFC 6749 §4.1.2.1): the
    client is missing or unknown, the redirect URI is missing or not registered, a parameter is repeated, or
    the response type is not ``code`` while there is nowhere to redirect. Which of these it was is read from the
    request and the error code, never from the description.
    """
    if error.error == "unsupported_response_type":
        return "The application asked for a kind of answer this server does not give ('response_type' must be 'code')."
    repeated = next((name for name in _SINGLE if len(request.args.getlist(name)) > 1), None)
    if repeated is not None:
        return f"The application sent '{repeated}' more than once."
    if isinstance(error, ClientDocumentError):  # its reason is in the server's words, never the document's
        return f"The application's metadata document (its 'client_id') cannot be used: {error.reason}."
    if error.error == "invalid_client":
        if not request.args.get("client_id"):
            return "The application that sent you here did not say which application it is ('client_id' is missing)."
        return "The application that sent you here is not registered with this server ('client_id' is unknown)."
    if error.error == "invalid_request":
        if not request.args.get("redirect_uri"):
            return "The application did not say where to send you back ('redirect_uri' is missing)."
        return "The application asked to send you back to an address it has not registered ('redirect_uri')."
    return f"The application sent a request this server cannot answer ({error.error})."


def _error_page(message: str, status: int = 400) -> tuple[str, int]:
    page = render_template(
        "errors/error.html", title="This request cannot be completed", message=message, status=status
    )
    return page, status


def _redirect_with_error(error: OAuth2Error) -> Response:
    """The client is known and its redirect URI registered: tell it, with ``iss`` (RFC 9207)."""
    server = current_server()
    response: Response = server.handle_error_response(None, error)
    server.issuer_parameter.add_issuer_parameter(server, response)
    return response


def authorize() -> ResponseReturnValue:
    if request.method == "POST" and any(name in request.form for name in _REQUEST_IN_BODY):
        return as_get()  # a client's authorization request sent as a form POST, not consent
    server = current_server()
    if len(request.query_string) > 8192:
        return render_template(
            "errors/error.html", title="Request too long", message="The request is too long.", status=414
        ), 414
    signed_in = current_session()
    user = None if signed_in is None else signed_in.user
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        if isinstance(error, ClientDocumentError) and error.retry_after is not None:
            page, _ = _error_page(_explain(error), 429)
            return page, 429, {"Retry-After": str(error.retry_after)}
        return _redirect_with_error(error) if error.redirect_uri else _error_page(_explain(error))
    except ValueError:
        # Authlib quotes the request's own response_type or redirect_uri in an error description and refuses to
        # build one holding characters RFC 6749 §4.1.2.1 forbids there; such a request is malformed anyway
        return _error_page(_CHARACTERS)
    decision = prompt.decide(grant, signed_in, server.context.now())
    if decision.error is not None:
        return _redirect_with_error(decision.error)
    if signed_in is None:
        return redirect(url_for("login", next=request.full_path), code=302)
    user = signed_in.user
    if decision.sign_in_again and request.method == "GET":
        # the request comes back here once signed in, without the prompt that sent it: auth_time is now
        return redirect(url_for("login", next=prompt.without_login_prompt(request.path, request.args)), code=302)

    client = grant.client
    requested = (grant.request.scope or "").split()
    # the registered resources (RFC 8707) asked for, checked by the grant
    resources = grant.resources if isinstance(grant, AuthorizationCodeGrant) else ()
    consents = server.context.store.consents
    if request.method == "POST":
        check_csrf()
        audit = server.context.audit
        chosen = [s for s in requested if s in request.form.getlist("grant_scope")]
        if request.form.get("decision") != "allow" or not chosen:
            reason = "denied" if request.form.get("decision") != "allow" else "no scope chosen"
            audit.emit(Event.CONSENT_DENIED, outcome="failure", client_id=client.client_id, user=user.username,
                       reason=reason)  # fmt: skip
            return server.create_authorization_response(grant=grant, grant_user=None)
        consents.save(user.id, client.client_id, chosen, [r.uri for r in resources])
        audit.emit(
            Event.CONSENT_GRANTED, client_id=client.client_id, user=user.username, detail={"scope": " ".join(chosen)}
        )
        return _issue(server, grant, signed_in, chosen)

    remembered = set((consents.get(user.id, client.client_id) or "").split())
    reached = set((consents.resources(user.id, client.client_id) or "").split()) if resources else set()
    if remembered.issuperset(requested) and reached.issuperset(r.uri for r in resources) and not decision.ask_consent:
        return _issue(server, grant, signed_in, requested)
    if decision.silent:  # prompt=none: never a page
        return _redirect_with_error(prompt.consent_required(grant))
    if grant.redirect_uri:  # validated: one the client registered; the form's answer redirects there
        allow_form_redirect(grant.redirect_uri)
    # every requested scope's description in one read; one that is not declared is shown by its name alone
    descriptions = server.context.store.scopes.described(requested)
    return render_template(
        "consent/consent.html",
        csrf_token=csrf_token(),
        client_name=client.name,
        client_host=client.document_host,
        username=user.username,
        scopes=[(s, descriptions.get(s, "")) for s in requested],
        resources=[(r.name, r.uri) for r in resources],
        form_action=request.full_path,
        logout_url=url_for("logout"),
    )


def _issue(server: TesseraServer, grant: Any, signed_in: SignedIn, scopes: list[str]) -> Response:
    resources = grant.resources if isinstance(grant, AuthorizationCodeGrant) else ()
    approval = Approval(signed_in.user, " ".join(scopes), signed_in.session.auth_time, resources)
    response: Response = server.create_authorization_response(grant=grant, grant_user=approval)
    if request.method == "POST":
        response.status_code = 303  # after a POST, never 307 (RFC 9700 §4.12)
    return response
