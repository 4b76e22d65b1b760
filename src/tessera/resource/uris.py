"""Resource identifiers: how the toolkit checks and compares the URIs that name an API.

An audience (RFC 8707 §2: the ``resource`` a token was requested for, which the authorization server reports as
``aud``) and the ``resource`` of protected-resource metadata (RFC 9728 §1.2) are URIs compared **exactly, as
strings**, with a single exception: an empty path and ``/`` are the same path (RFC 3986 §6.2.3), so
``https://api.example`` and ``https://api.example/`` name one resource, written here as the latter. Nothing else is
normalised: not the case of the scheme or host, not a default port, not a trailing slash after a path
(``https://api.example/mcp`` and ``https://api.example/mcp/`` are two resources), not percent-encoding. A client
that asks for a token with a differently spelled URI gets a token this API refuses; that is the point of
comparing exactly, since any looser rule is one more way for two resources to be taken for one.
"""

import re

__all__ = ["check_audience", "normal_resource"]

# scheme://authority with an empty path, then perhaps a query or fragment: the one case that gets its "/"
_EMPTY_PATH = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*)((?:[?#].*)?)", re.DOTALL)
# RFC 3986 §4.3 absolute-URI, loosely: a scheme, then characters a URI may hold (§2), but no "#" (RFC 8707 §2)
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]+")


def normal_resource(uri: str) -> str:
    """``uri`` in the form the toolkit compares: with ``/`` for an empty path, otherwise as it is.

    >>> normal_resource("https://api.example"), normal_resource("https://api.example/mcp")
    ('https://api.example/', 'https://api.example/mcp')
    """
    match = _EMPTY_PATH.fullmatch(uri)
    return uri if match is None else f"{match[1]}/{match[2]}"


def check_audience(audience: str) -> str:
    """``audience`` if it can name a resource (an absolute URI without a fragment, RFC 8707 §2); else ``ValueError``."""
    if not isinstance(audience, str) or not _ABSOLUTE_URI.fullmatch(audience):
        raise ValueError(
            f"audience must be an absolute URI without a fragment (https://api.example/), not {audience!r}"
        )
    return audience
