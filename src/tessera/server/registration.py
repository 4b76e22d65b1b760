"""Client registration: every rule for a client's metadata, in one place. The CLI (``tessera clients``), the demo,
the tests, and registration over HTTP (RFC 7591) all call :func:`register_client` and :func:`update_client`.

    >>> metadata = ClientMetadata(name="Billing", grant_types=("client_credentials",))
    >>> registered = register_client(store.clients, metadata, scopes=catalogue(store.scopes))  # doctest: +SKIP
    >>> registered.secret  # shown once; only its digest is stored                  # doctest: +SKIP
    'tsr_cs_...'

The rules:

- a name of 1 to 200 characters, shown to people on the consent page;
- redirect URIs: absolute ``http(s)`` URLs with a host and no fragment (RFC 6749 §3.1.2), matched exactly
  (RFC 9700 §4.1.3), that every URL parser reads alike (see :func:`check_redirect_uri`); with ``production``,
  ``http://`` only for loopback hosts (RFC 9700 §2.6); or a native app's private-use URI scheme
  (RFC 8252 §7.1, ``com.example.app:/callback``);
- post-logout redirect URIs (RP-Initiated Logout 1.0 §3.1), where the end-session endpoint may send people after
  they signed out: every rule of redirect URIs, matched exactly too;
- grant types among those the server offers (:data:`tessera.server.grants.GRANT_TYPES`); by default the
  authorization code with refresh tokens when a redirect URI is given, else client credentials; the
  authorization code needs a redirect URI;
- a scope of one or more scope tokens (RFC 6749 §3.3), each one the operator declared
  (:mod:`tessera.server.scopes`); without one, the scopes declared as granted by default. The functions take
  the declared scopes as a :class:`~tessera.server.scopes.Catalogue` read by the caller, so that they need no
  storage but the clients' and a test can hand them any catalogue. An update checks the scope only when it
  changes it: a client keeps what it holds while its name or redirect URIs change;
- a public client has no secret, authenticates with ``none`` and must use PKCE: it cannot use client
  credentials or introspect, both of which need a secret;
- ``require_dpop`` (RFC 9449 §5.2 ``dpop_bound_access_tokens``): every token request of the client must carry a
  DPoP proof, so none of its access tokens is a bearer token;
- ``auth_method="private_key_jwt"`` (RFC 7523 §2.2): a confidential client with no secret, which authenticates with
  a JWT signed by its own key; it registers its public keys, either as a JWKS (``jwks``: 1 to 20 public EC or RSA
  keys, never a private one) or as a ``jwks_uri`` (``https://``; ``http://`` on loopback outside production),
  exactly one of the two (:mod:`tessera.server.client_keys`).

A confidential client's secret is replaced by :func:`rotate_secret`, with a grace period of at most
:data:`MAX_GRACE` seconds (30 days) during which the previous secret works too: long enough to roll the new one
out to every instance of a client, short enough that a secret someone else learnt stops working within a month.

A rule broken raises :class:`~tessera.errors.InvalidClientMetadata` (or :class:`~tessera.errors.InvalidRedirectUri`),
whose ``error`` is the RFC 7591 error code and whose message says what to change.
"""

import dataclasses
import ipaddress
import re
import string
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tessera.config import is_loopback
from tessera.errors import InvalidClientMetadata, InvalidRedirectUri, NotFound
from tessera.server.client_keys import JwksError, check_jwks, check_jwks_uri
from tessera.server.clients import NONE, PRIVATE_KEY_JWT, SECRET_METHODS
from tessera.server.grants import GRANT_TYPES
from tessera.server.keys import ALGORITHMS, DEFAULT_ALG
from tessera.server.scopes import Catalogue, is_scope_token
from tessera.store import ClientRecord, Clients
from tessera.tokens import TokenKind, digest, mint, random_id

#: where the request map serves registration; the client URI is this path with ``?client_id=``
REGISTER_PATH = "/oauth/register"

__all__ = [
    "REGISTER_PATH",
    "MAX_GRACE",
    "ClientChanges",
    "ClientMetadata",
    "Registered",
    "Rotated",
    "describe",
    "check_redirect_uri",
    "register_client",
    "rotate_secret",
    "update_client",
]

MAX_NAME = 200
#: undeclared scopes named in a refusal; the rest are counted
_NAMED = 3
#: the longest a previous secret may keep working after a rotation: 30 days
MAX_GRACE = 30 * 86_400
#: RFC 3986 §2: unreserved and reserved characters, and '%' to start a percent-encoding
_URI_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~" + ":/?#[]@" + "!$&'()*+,;=" + "%")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DNS_NAME = re.compile(r"[a-z0-9_.-]+")
#: what the WHATWG URL standard reads as a number in a host's last label (decimal, or hex after 0x)
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")
#: a private-use URI scheme (RFC 8252 §7.1): a reverse domain name, so at least one dot; never http(s)
_PRIVATE_USE = re.compile(r"[a-z][a-z0-9-]*(\.[a-z0-9-]+)+:", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class ClientMetadata:
    """What a client is registered with. An empty ``grant_types`` and a ``scope`` of ``None`` mean the defaults
    (see the module)."""

    name: str
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()
    scope: str | None = None
    public: bool = False
    introspect: bool = False
    require_dpop: bool = False
    #: ``None`` (a secret, or ``none`` if public) or ``private_key_jwt`` with ``jwks`` or ``jwks_uri``
    auth_method: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    #: the ID token's signing algorithm (OpenID Connect Registration's ``id_token_signed_response_alg``)
    id_token_alg: str | None = None
    #: where the end-session endpoint may send people after sign-out (RP-Initiated Logout 1.0 §3.1)
    post_logout_redirect_uris: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ClientChanges:
    """What :func:`update_client` changes; ``None`` leaves a field as it is."""

    name: str | None = None
    redirect_uris: tuple[str, ...] | None = None
    grant_types: tuple[str, ...] | None = None
    scope: str | None = None
    introspect: bool | None = None
    require_dpop: bool | None = None
    post_logout_redirect_uris: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Registered:
    """A new client, and its secret (``None`` for a public client): the only time the secret exists in clear."""

    record: ClientRecord
    secret: str | None


def register_client(
    clients: Clients,
    metadata: ClientMetadata,
    *,
    scopes: Catalogue,
    production: bool = False,
    clock: Callable[[], float] = time.time,
    save: Callable[[ClientRecord], None] | None = None,
    client_id: str | None = None,
) -> Registered:
    """Check ``metadata`` against every rule, ``scopes`` being the declared ones, and store the client with a new
    id (and secret, if confidential): with ``clients.create``, or ``save`` when the caller stores more with it in
    one transaction (registration over HTTP stores its registration access token). ``client_id`` is the id a
    client ID metadata document gives itself, its URL (:mod:`tessera.server.client_documents`); else a new one."""
    checked, scope = _checked(metadata, production=production, scopes=scopes)
    with_key = checked.auth_method == PRIVATE_KEY_JWT
    secret = None if checked.public or with_key else mint(TokenKind.CLIENT_SECRET)
    record = ClientRecord(
        client_id=client_id or random_id(),
        secret_digest=None if secret is None else digest(secret),
        name=checked.name,
        redirect_uris=checked.redirect_uris,
        grant_types=checked.grant_types,
        scope=scope,
        public=checked.public,
        may_introspect=checked.introspect,
        created_at=int(clock()),
        require_dpop=checked.require_dpop,
        auth_method=checked.auth_method,
        jwks=checked.jwks,
        jwks_uri=checked.jwks_uri,
        id_token_alg=_id_token_alg(metadata.id_token_alg),
        post_logout_redirect_uris=checked.post_logout_redirect_uris,
    )
    (save or clients.create)(record)
    return Registered(record, secret)


def _id_token_alg(alg: str | None) -> str | None:
    """``None`` for the default (``RS256``), else an algorithm the server signs ID tokens with."""
    if alg is None or alg == DEFAULT_ALG:
        return None
    if alg not in ALGORITHMS:
        raise InvalidClientMetadata(f"the ID-token algorithm must be one of {', '.join(ALGORITHMS)}, not {alg!r}")
    return alg


def update_client(
    clients: Clients,
    client_id: str,
    changes: ClientChanges,
    *,
    scopes: Catalogue,
    production: bool = False,
    save: Callable[[ClientRecord], None] | None = None,
) -> ClientRecord:
    """Apply ``changes`` to a registered client, checked against the same rules as a new one (``scopes`` being
    the declared ones), and store it with ``clients.update`` or ``save``. A client's id, secret, kind (public or
    confidential) and creation time never change here."""
    current = clients.get(client_id)
    if current is None:
        raise NotFound(f"no client {client_id!r}")
    merged = ClientMetadata(
        name=current.name if changes.name is None else changes.name,
        redirect_uris=current.redirect_uris if changes.redirect_uris is None else changes.redirect_uris,
        grant_types=current.grant_types if changes.grant_types is None else changes.grant_types,
        scope=current.scope if changes.scope is None else changes.scope,
        public=current.public,
        introspect=current.may_introspect if changes.introspect is None else changes.introspect,
        require_dpop=current.require_dpop if changes.require_dpop is None else changes.require_dpop,
        auth_method=current.auth_method,
        jwks=current.jwks,
        jwks_uri=current.jwks_uri,
        post_logout_redirect_uris=current.post_logout_redirect_uris
        if changes.post_logout_redirect_uris is None
        else changes.post_logout_redirect_uris,
    )
    checked, scope = _checked(merged, production=production, scopes=None if changes.scope is None else scopes)
    record = dataclasses.replace(
        current,
        name=checked.name,
        redirect_uris=checked.redirect_uris,
        grant_types=checked.grant_types,
        scope=scope,
        may_introspect=checked.introspect,
        require_dpop=checked.require_dpop,
        post_logout_redirect_uris=checked.post_logout_redirect_uris,
    )
    (save or clients.update)(record)
    return record


@dataclasses.dataclass(frozen=True)
class Rotated:
    """A new secret (the only time it exists in clear), and until when (Unix seconds) the previous one still
    works: ``None`` when it stopped at once."""

    secret: str
    previous_works_until: int | None


def rotate_secret(
    clients: Clients, client_id: str, *, grace: int = 0, clock: Callable[[], float] = time.time
) -> Rotated:
    """Give a confidential client a new secret. With ``grace`` seconds (1 to :data:`MAX_GRACE`), the secret it
    had keeps working until then beside the new one; with 0, it stops at once. A secret still in the grace of an
    earlier rotation stops at once either way: a client has at most two secrets."""
    if not 0 <= grace <= MAX_GRACE:
        raise InvalidClientMetadata(f"the grace period must be 0 to {MAX_GRACE} seconds (30 days), not {grace}")
    client = clients.get(client_id)
    if client is None:
        raise NotFound(f"no client {client_id!r}")
    if client.public:
        raise InvalidClientMetadata(f"client {client_id!r} is public and has no secret")
    secret = mint(TokenKind.CLIENT_SECRET)
    until = int(clock()) + grace if grace else None
    clients.set_secret(client_id, digest(secret), keep_previous_until=until)
    return Rotated(secret, until)


def describe(record: ClientRecord) -> dict[str, Any]:
    """A client's metadata as RFC 7591 names it (and ``introspect``, Tessera's own), never its secret."""
    return {
        "client_id": record.client_id,
        "name": record.name,
        "redirect_uris": list(record.redirect_uris),
        "grant_types": list(record.grant_types),
        "scope": record.scope,
        "public": record.public,
        "introspect": record.may_introspect,
        "token_endpoint_auth_method": NONE if record.public else (record.auth_method or SECRET_METHODS[0]),
        "dpop_bound_access_tokens": record.require_dpop,
        **({"jwks": record.jwks} if record.jwks is not None else {}),
        **({"jwks_uri": record.jwks_uri} if record.jwks_uri is not None else {}),
        "id_token_signed_response_alg": record.id_token_alg or DEFAULT_ALG,
        "post_logout_redirect_uris": list(record.post_logout_redirect_uris),
    }


def _checked(metadata: ClientMetadata, *, production: bool, scopes: Catalogue | None) -> tuple[ClientMetadata, str]:
    """``metadata`` checked and tidied, and the scope to store: checked against ``scopes``, or, if ``None``, kept
    as it is (an update that does not change it)."""
    name = metadata.name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidClientMetadata(f"the name must be 1 to {MAX_NAME} printable characters")
    redirect_uris = tuple(dict.fromkeys(metadata.redirect_uris))
    for uri in redirect_uris:
        check_redirect_uri(uri, production=production)
    post_logout_redirect_uris = tuple(dict.fromkeys(metadata.post_logout_redirect_uris))
    for uri in post_logout_redirect_uris:
        check_redirect_uri(uri, production=production, what="post-logout redirect URI")
    scope = _scope(metadata.scope, scopes)
    grant_types = tuple(dict.fromkeys(metadata.grant_types))
    unknown = [g for g in grant_types if g not in GRANT_TYPES]
    if unknown:
        raise InvalidClientMetadata(f"unknown grant type {unknown[0]!r}: use one of {', '.join(GRANT_TYPES)}")
    if not grant_types:
        grant_types = ("authorization_code", "refresh_token") if redirect_uris else ("client_credentials",)
    if "authorization_code" in grant_types and not redirect_uris:
        raise InvalidRedirectUri("the authorization_code grant needs at least one redirect URI")
    if metadata.public and "client_credentials" in grant_types:
        raise InvalidClientMetadata("a public client cannot use client_credentials: it has no secret")
    if metadata.public and metadata.introspect:
        raise InvalidClientMetadata("a public client cannot introspect: introspection needs a client secret")
    _check_keys(metadata, production=production)
    tidied = dataclasses.replace(
        metadata,
        name=name,
        redirect_uris=redirect_uris,
        grant_types=grant_types,
        post_logout_redirect_uris=post_logout_redirect_uris,
    )
    return tidied, scope


def _check_keys(metadata: ClientMetadata, *, production: bool) -> None:
    """The rules for ``private_key_jwt`` (see the module)."""
    if metadata.auth_method is None:
        if metadata.jwks is not None or metadata.jwks_uri is not None:
            raise InvalidClientMetadata("keys (jwks, jwks_uri) are for private_key_jwt: give that method too")
        return
    if metadata.auth_method != PRIVATE_KEY_JWT:
        raise InvalidClientMetadata(f"unknown authentication method {metadata.auth_method!r}: use private_key_jwt")
    if metadata.public:
        raise InvalidClientMetadata("a public client has no key to authenticate with: private_key_jwt is not for it")
    if (metadata.jwks is None) == (metadata.jwks_uri is None):
        raise InvalidClientMetadata("private_key_jwt needs the client's public keys: a jwks or a jwks_uri, one of them")
    try:
        if metadata.jwks is not None:
            check_jwks(metadata.jwks)
        else:
            check_jwks_uri(str(metadata.jwks_uri), production=production)
    except JwksError as exc:
        raise InvalidClientMetadata(str(exc)) from None


def _scope(scope: str | None, catalogue: Catalogue | None) -> str:
    """The scope to store: ``scope`` if every name in it is a scope token the operator declared (repeats
    dropped), the default scopes if it is ``None``, ``scope`` as it is with no catalogue to check it against."""
    if scope is None:
        if catalogue is None or not catalogue.defaults:
            raise InvalidClientMetadata("no scope was given, and no declared scope is granted by default: name one")
        return " ".join(catalogue.defaults)
    names = list(dict.fromkeys(scope.split()))
    if not names or not all(is_scope_token(s) for s in names):
        raise InvalidClientMetadata("the scope must be one or more space-separated scope names")
    undeclared = [] if catalogue is None else [s for s in names if s not in catalogue.declared]
    if undeclared:
        named = ", ".join(repr(s) for s in undeclared[:_NAMED])
        more = f" and {len(undeclared) - _NAMED} more" if len(undeclared) > _NAMED else ""
        what, it = (f"scope {named} is", "it") if len(undeclared) == 1 else (f"scopes {named}{more} are", "them")
        raise InvalidClientMetadata(f"{what} not declared on this server: declare {it} first (tessera scopes create)")
    return " ".join(names)


def check_redirect_uri(uri: str, *, production: bool, what: str = "redirect URI") -> None:
    """Raise :class:`~tessera.errors.InvalidRedirectUri` unless ``uri`` may be registered (as a ``what``: the
    message names it so).

    The server checks a redirect URI with Python's parser and the browser follows it with its own (the WHATWG URL
    standard); where the two disagree about the host, a URI that looks like the client's sends the code
    elsewhere. So a redirect URI must be one both read alike, and one a browser sends back exactly as registered:

    - only the characters RFC 3986 §2 allows in a URI, as ASCII: no control character or space (browsers drop
      tabs and newlines, Python keeps or drops them by version), no backslash (a browser reads it as ``/``, so
      ``http://evil.example\\@good.example`` goes to ``evil.example`` while Python sees ``good.example``), none
      of ``"<>^`{|}``, nothing beyond ASCII (browsers convert hosts to their ``xn--`` form and percent-encode
      paths, so the URI they send would not be the one registered);
    - ``%`` only as a percent-encoding (two hex digits);
    - no user name or password before the host (``@``): deprecated (RFC 3986 §3.2.1) and made to fool people,
      ``https://good.example@evil.example`` goes to ``evil.example``;
    - a host that is a DNS name of letters, digits, ``-``, ``_`` and dots, or an IPv6 address in brackets: a
      browser percent-decodes a host and reads some punctuation in it differently;
    - a host whose last label is a number is an IPv4 address in its plain dotted form: browsers read
      ``127.1``, ``0x7f.1`` or ``2130706433`` as 127.0.0.1, Python as a name;
    - a port that is a number from 0 to 65535.

    A native app's private-use URI scheme (RFC 8252 §7.1) is a reverse domain name of at least two labels
    (``com.example.app:/callback``): no browser reads a host in it, so it needs none of the host rules, only a
    path and no fragment. ``javascript:``, ``data:`` and every other scheme without a dot are refused.
    """
    _check_characters(uri, what)
    if _PRIVATE_USE.match(uri):
        _check_private_use(uri, what)
        return
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise InvalidRedirectUri(f"{what} {uri!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidRedirectUri(f"{what} {uri!r} must be an absolute http(s) URL")
    if parts.fragment or "#" in uri:
        raise InvalidRedirectUri(f"{what} {uri!r} must not have a fragment (RFC 6749 §3.1.2)")
    if "@" in parts.netloc:
        raise InvalidRedirectUri(f"{what} {uri!r} must not name a user before the host (no '@' there)")
    _check_host(uri, parts.netloc, host, what)
    if production and parts.scheme == "http" and not is_loopback(host):
        # RFC 9700 §2.6: plain http only for loopback; elsewhere the code would cross the network in clear
        raise InvalidRedirectUri(f"{what} {uri!r} must be https:// in production (http:// only for loopback addresses)")


def _check_private_use(uri: str, what: str) -> None:
    scheme, _, rest = uri.partition(":")
    if "#" in rest:
        raise InvalidRedirectUri(f"{what} {uri!r} must not have a fragment (RFC 6749 §3.1.2)")
    if not rest.startswith("/") or rest.startswith("//"):
        # RFC 8252 §7.1: one slash after the scheme; with two, a parser reads an authority (a host) there
        raise InvalidRedirectUri(f"{what} {uri!r} must be scheme:/path for a private-use scheme (RFC 8252 §7.1)")


def _check_characters(uri: str, what: str) -> None:
    bad = next((c for c in uri if c not in _URI_CHARACTERS), None)
    if bad is None:
        if _LONE_PERCENT.search(uri):
            raise InvalidRedirectUri(f"{what} {uri!r} has a '%' that does not start a percent-encoding")
        return
    if bad == " ":
        found = "a space"
    elif bad < " " or bad == "\x7f":
        found = f"a control character (U+{ord(bad):04X})"
    elif bad == "\\":
        found = "a backslash, which browsers read as '/'"
    elif not bad.isascii():
        found = f"a non-ASCII character (U+{ord(bad):04X}): write the host in its xn-- form and percent-encode the rest"
    else:
        found = f"{bad!r}, which a URI cannot hold: percent-encode it"
    raise InvalidRedirectUri(f"{what} {uri!r} has {found}")


def _check_host(uri: str, netloc: str, host: str, what: str) -> None:
    """``host`` is Python's reading of it (lower case, brackets removed)."""
    if netloc.startswith("["):
        try:
            if "%" in host:  # a zone (fe80::1%25eth0): meaningless to a browser, which refuses the URL
                raise ValueError(host)
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidRedirectUri(
                f"{what} {uri!r} must have an IPv6 address between '[' and ']' as its host"
            ) from None
        return
    if not _DNS_NAME.fullmatch(host):
        raise InvalidRedirectUri(f"{what} {uri!r} must have a host name of letters, digits, '-', '_' and dots")
    last = host.removesuffix(".").rsplit(".", 1)[-1]
    if _NUMBER.fullmatch(last):
        try:
            plain = str(ipaddress.IPv4Address(host)) == host
        except ValueError:
            plain = False
        if not plain:
            raise InvalidRedirectUri(
                f"{what} {uri!r} has a host browsers read as an IPv4 address: write it as four decimal numbers"
            )
