"""What every page refuses before its view runs: control characters in the query string or a form field (the
rule and its reasons are in :mod:`tessera.server.characters`). Answered 400 with the error page, so no view
looks up, stores or logs such a value. And how a page takes a protocol request sent as a form POST
(:func:`as_get`)."""

from urllib.parse import urlencode

from flask import redirect, request
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from tessera.server.characters import has_control, has_control_but_tab

__all__ = ["WORDS", "as_get", "refuse_control_characters"]

#: what the page says
WORDS = "The request holds a control character, which no page of this server sends."


def refuse_control_characters() -> None:
    """A ``before_request`` hook: :class:`BadRequest` if a query parameter holds any control character, or a
    form field any but TAB (what people type may hold a tab)."""
    if any(has_control(name) or has_control(value) for name, value in request.args.items(multi=True)):
        raise BadRequest(WORDS)
    if request.method == "POST" and any(
        has_control_but_tab(name) or has_control_but_tab(value) for name, value in request.form.items(multi=True)
    ):
        raise BadRequest(WORDS)


def as_get() -> Response:
    """A protocol request a client sent as a form POST (the authorization endpoint, OpenID Connect Core §3.1.2.1;
    the end-session endpoint, RP-Initiated Logout 1.0 §2), answered with a 303 to the same path with the same
    parameters in the query: the page then handles one method, whatever the client used. It also lets the session
    cookie through: the browser withholds a ``SameSite=Lax`` cookie from another site's POST, but sends it on the
    top-level GET that follows. The target is this server's own path, never anywhere else."""
    pairs = [*request.args.items(multi=True), *request.form.items(multi=True)]
    target = request.path + ("?" + urlencode(pairs) if pairs else "")
    return redirect(target, code=303)
