"""Control characters: which are refused where, and why.

A control character is one of C0 (U+0000 to U+001F: NUL, TAB, LF, CR, ESC among them) or DEL (U+007F). None of
them belongs in anything a client or a browser sends here, and they do harm on the way: PostgreSQL cannot store a
NUL in text and fails the statement; CR and LF split log lines and headers; ESC drives terminals that show logs.
So they are refused where a request comes in, before any lookup, rather than wherever each would hurt:

* **OAuth parameters**, in the form bodies of the token, introspection and revocation endpoints
  (:mod:`tessera.server.request`) and in the query of the authorization endpoint: every control character, in
  names and in values. RFC 6749 Appendix A allows none in any parameter Tessera reads (``client_id``, ``code``,
  ``state``, tokens: VSCHAR, printable ASCII; ``scope``: NQCHAR; ``redirect_uri``: a URI). The only
  parameters it lets hold one (a TAB in the password grant's ``username`` and ``password``) belong to a grant
  Tessera refuses. Parameters the server does not read are held to the same rule: RFC 6749 §3.1 asks to ignore
  unknown parameters, but no OAuth client produces a control character, and one anywhere in a form says the
  request was made up or mangled. Answered 400 ``invalid_request``.
* **Basic credentials** (:mod:`tessera.server.authorization`): every control character in the client id or
  secret, as sent or once form-decoded (RFC 6749 §2.3.1 has them form-encoded, so ``%00`` is a NUL). Answered
  401 ``invalid_client``, as any Basic credentials that cannot be right.
* **The pages' query strings** (``next`` at sign-in, the authorization request): every control character;
  a link never carries one.
* **The pages' form fields** (sign-in, consent, sign-out): every control character but TAB. A person types
  these, and RFC 6749 Appendix A's ``UNICODECHARNOCRLF`` (what it allows in a person's username and password)
  includes TAB, so a password with a tab is a password, not an attack. A browser cannot submit CR or LF in a
  single-line field, and nobody types NUL. Pages answer 400 with an error page.

Other characters (non-ASCII, U+0080 to U+009F) harm nothing here: a ``client_id`` that holds one is an unknown
client, and :meth:`~tessera.server.authorization.TesseraServer.query_client` never looks one up that is not
printable ASCII. A value that still reaches the database and is refused there is
:class:`~tessera.errors.ValueRefused`, answered 400 (:func:`tessera.server.errors.failure`), never a 500.
"""

import re

__all__ = ["has_control", "has_control_but_tab", "is_visible_ascii"]

_CONTROL = re.compile("[\x00-\x1f\x7f]")
_CONTROL_BUT_TAB = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def has_control(text: str) -> bool:
    """Whether ``text`` holds a C0 control character or DEL."""
    return _CONTROL.search(text) is not None


def has_control_but_tab(text: str) -> bool:
    """Whether ``text`` holds a C0 control character other than TAB, or DEL: the rule for what people type."""
    return _CONTROL_BUT_TAB.search(text) is not None


def is_visible_ascii(text: str) -> bool:
    """Whether every character of ``text`` is VSCHAR (RFC 6749 Appendix A: U+0020 to U+007E)."""
    return text.isascii() and text.isprintable()
