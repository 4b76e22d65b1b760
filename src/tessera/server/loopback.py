"""Loopback redirect URIs on any port (RFC 8252 §7.3).

A native app (a command-line tool, a desktop app, an MCP client) receives its authorization response on a
listener it opens on the loopback interface, on a port the operating system picks when it starts: it cannot
know that port when it is registered. So a registered ``http://127.0.0.1/cb`` or ``http://[::1]:8080/cb``
matches the same URI with any port, or none, for every client. Everything else about the URI still matches
exactly, as every other redirect URI does (RFC 9700 §4.1.3): no case folding, no normalisation.

What gets the port wildcard, and why no more than that:

- the scheme ``http`` only: a loopback listener has no certificate, and RFC 8252 §7.3 speaks of ``http``;
- the hosts ``127.0.0.1`` and ``[::1]`` only, written exactly so: the IP literals §7.3 names. ``localhost`` is
  a name, which may resolve elsewhere (a hosts file, a resolver) and which §8.3 recommends against, so it keeps
  exact matching; so does any other spelling of a loopback address (``127.0.0.2``, ``[0:0:0:0:0:0:0:1]``);
- a port of 1 to 5 digits without a leading zero, up to 65535: the form a browser puts back in the URL, so that
  no two spellings of one port exist;
- after the port, nothing but the path and query: a user part (``http://127.0.0.1:8080@evil.example/cb``) or
  a longer host (``http://127.0.0.1.evil.example/cb``) is not a loopback URI at all, and matches exactly or not.

The server already refuses such URIs at registration (``tessera.server.registration``); this is about what a
request may send.
"""

import re

__all__ = ["without_port"]

# the scheme and host, an optional port, then nothing or a path or query; DOTALL so that "." takes anything the
# request sent (a control character never gets this far, but the match must not depend on that)
_LOOPBACK = re.compile(r"(http://(?:127\.0\.0\.1|\[::1\]))(?::([1-9][0-9]{0,4}))?((?:[/?].*)?)", re.DOTALL)


def without_port(uri: str) -> str | None:
    """``uri`` without its port if it is an ``http`` URI on ``127.0.0.1`` or ``[::1]``, else ``None``.

    >>> without_port("http://127.0.0.1:53682/cb?x=1")
    'http://127.0.0.1/cb?x=1'
    >>> without_port("http://localhost:53682/cb") is None
    True
    """
    match = _LOOPBACK.fullmatch(uri)
    if match is None:
        return None
    origin, port, rest = match.groups()
    if port is not None and int(port) > 65535:
        return None
    return origin + rest
