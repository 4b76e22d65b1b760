"""The end-session endpoint as people see it (OpenID Connect RP-Initiated Logout 1.0): the request is checked by
:mod:`tessera.server.end_session`, the person confirms with a ``Sign out`` button (a form with the CSRF token, so no
other site can sign people out), the server session ends, and the browser goes back to the client's registered
``post_logout_redirect_uri`` with ``state``, or to the "signed out" page.

A request that fails a check gets an error page (400) and is never redirected (§4). A client's form POST is
answered as its GET (:func:`tessera.web.boundary.as_get`); the confirmation form posts back to the same URL.
"""

from authlib.oauth2 import OAuth2Error
from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tessera.server.audit import Event
from tessera.web.boundary import as_get
from tessera.web.context import current_server
from tessera.web.security import allow_form_redirect, check_csrf, csrf_token, current_user, sign_out

__all__ = ["end_session"]

_MAX_QUERY = 8192


def end_session() -> ResponseReturnValue:
    if request.method == "POST" and "csrf_token" not in request.form:
        return as_get()  # the client's own POST, not the confirmation form
    if len(request.query_string) > _MAX_QUERY:
        return render_template(
            "errors/error.html", title="Request too long", message="The request is too long.", status=414
        ), 414
    # with Authlib's OpenID Connect modules, joserfc and cryptography: imported by the first sign-out request
    from tessera.server.end_session import EndSession

    server = current_server()
    try:
        ending = EndSession(server).check(server.create_oauth2_request(request))
    except OAuth2Error as error:
        message = error.description or "The request cannot be completed."
        page = render_template("errors/error.html", title="This sign-out request cannot be completed",
                               message=message, status=400)  # fmt: skip
        return page, 400
    client_id = None if ending.client is None else ending.client.client_id
    if request.method == "POST":
        check_csrf()
        user = current_user()
        sign_out()
        if user is not None:
            detail = {"via": "end_session", "redirected": ending.redirect_uri is not None}
            server.context.audit.emit(Event.SIGNED_OUT, user=user.username, client_id=client_id, detail=detail)
        return redirect(ending.redirect_uri or url_for("logged_out"), code=303)
    if ending.redirect_uri:  # registered for this client: the confirmation form ends there
        allow_form_redirect(ending.redirect_uri)
    user = current_user()
    return render_template(
        "auth/end_session.html",
        csrf_token=csrf_token(),
        username=None if user is None else user.username,
        client_name=None if ending.client is None else ending.client.name,
        returns=ending.redirect_uri is not None,
        form_action=request.full_path,
    )
