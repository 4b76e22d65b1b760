"""What every page refuses before its view runs: control characters in the query string or a form field (the
rule and its reasons are in :mod:`tessera.server.characters`). Answered 400 with the error page, so no view
looks up, stores or logs such a value."""

from flask import request
from werkzeug.exceptions import BadRequest

from tessera.server.characters import has_control, has_control_but_tab

__all__ = ["WORDS", "refuse_control_characters"]

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
