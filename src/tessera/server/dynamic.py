"""Client registration over HTTP: RFC 7591 (register) and RFC 7592 (read, update, delete), on Authlib's
``ClientRegistrationEndpoint`` and ``ClientConfigurationEndpoint``.

``TESSERA_REGISTRATION`` says who may register: nobody (``off``, the default: the endpoint does not exist),
the holder of an initial access token from ``tessera registration-tokens create`` (``token``), or anyone
(``open``). Whoever registers gets what this policy allows and nothing more, checked before anything is stored:

- grant types ``authorization_code`` and ``refresh_token`` only (both when none are named); response type
  ``code`` only;
- redirect URIs ``https://``, loopback ``http://127.0.0.1``, ``http://[::1]`` or ``http://localhost`` (any
  port, RFC 8252 §7.3), or a private-use scheme (``com.example.app:/cb``, RFC 8252 §7.1), each also passing
  every rule of :func:`tessera.server.registration.check_redirect_uri`; and so must ``post_logout_redirect_uris``
  (OpenID Connect RP-Initiated Logout 1.0 §3.1, optional), where sign-out may send people back to;
- scopes within ``TESSERA_REGISTRATION_SCOPES`` that the operator has declared: a requested scope outside them
  is dropped (RFC 7591 §3.2.1 lets the server replace a value), and a request left with none is refused;
  without ``scope``, the client gets every scope the policy allows;
- ``token_endpoint_auth_method`` ``none`` (a public client: no secret, PKCE required), ``client_secret_basic``
  (the default, RFC 7591 §2) or ``client_secret_post``.

A refusal is 400 ``invalid_redirect_uri`` or ``invalid_client_metadata`` with a description of what to change.
Registrations are counted per client address (``TESSERA_REGISTRATION_LIMIT``), refused ones too.

The client then manages itself at its ``registration_client_uri`` with its ``registration_access_token``
(RFC 7592), both in the answer. That URI is the registration endpoint with ``?client_id=...``: one path in the
request map, which matches exact paths, and a URL the client only ever copies (RFC 7592 §3 makes it opaque).
Only the token's digest is stored, so a read answers with the token the request presented and never with a
client secret, which the server does not have either. A client registered over HTTP is a client like any
other: ``tessera clients list`` shows it, ``tessera clients delete`` deletes it with its registration.
"""

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2.rfc6749 import InvalidRequestError, JsonPayload, JsonRequest
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7591 import (
    ClientMetadataClaims,
    ClientRegistrationEndpoint,
    InvalidClientMetadataError,
    InvalidRedirectURIError,
)
from authlib.oauth2.rfc7592 import ClientConfigurationEndpoint

from tessera.config import Settings, is_loopback
from tessera.errors import InvalidClientMetadata, InvalidInput, InvalidRedirectUri, NotFound
from tessera.server.audit import Event
from tessera.server.authorization import TesseraServer
from tessera.server.clients import NONE, SECRET_METHODS, OAuthClient
from tessera.server.errors import SlowDownError
from tessera.server.registration import (
    REGISTER_PATH,
    ClientChanges,
    ClientMetadata,
    check_redirect_uri,
    register_client,
    update_client,
)
from tessera.server.request import HttpRequest, Reply
from tessera.server.scopes import catalogue
from tessera.store import ClientRecord, InitialAccessToken, RegistrationRecord, Registrations, Scopes
from tessera.tokens import MalformedToken, TokenKind, digest, mint, parse

__all__ = [
    "AUTH_METHODS",
    "check_metadata",
    "safe_description",
    "GRANT_TYPES",
    "MAX_TTL",
    "MAX_USES",
    "ClientConfiguration",
    "ClientRegistration",
    "answer",
    "issue_initial_access_token",
]

#: what the server issues, which an update must not send (RFC 7592 §2.2)
_ISSUED = ("registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at")
#: what a client registered over HTTP may use
GRANT_TYPES = ("authorization_code", "refresh_token")
AUTH_METHODS = (NONE, *SECRET_METHODS)
_JSON = "application/json"
_MAX_NAME = 200


#: the JSON type of each RFC 7591 §2 member, checked before Authlib looks at the values (it assumes them)
_TYPES: dict[str, type] = {
    "redirect_uris": list,
    "post_logout_redirect_uris": list,
    "token_endpoint_auth_method": str,
    "grant_types": list,
    "response_types": list,
    "client_name": str,
    "client_uri": str,
    "logo_uri": str,
    "scope": str,
    "contacts": list,
    "tos_uri": str,
    "policy_uri": str,
    "jwks_uri": str,
    "jwks": dict,
    "software_id": str,
    "software_version": str,
}
_JSON_TYPES: dict[type, str] = {list: "an array", str: "a string", dict: "an object"}


class _Claims(ClientMetadataClaims):
    """Authlib's checks of RFC 7591 §2 metadata, after a check of each member's JSON type (Authlib assumes them:
    ``"client_uri": 5`` would be a 500); and for redirect URIs only that type, since Authlib takes only URLs with
    a host and :func:`_policy` checks them, private-use schemes included, more strictly. Post-logout redirect URIs
    (RP-Initiated Logout 1.0 §3.1) are kept too, and checked by :func:`_policy` as redirect URIs are."""

    REGISTERED_CLAIMS = [*ClientMetadataClaims.REGISTERED_CLAIMS, "post_logout_redirect_uris"]

    def validate(self, now: int | None = None, leeway: int = 0) -> None:
        for name, kind in _TYPES.items():
            value = self.get(name)
            if value is not None and not isinstance(value, kind):
                raise InvalidClientMetadataError(f"{name} must be {_JSON_TYPES[kind]}")
        super().validate(now, leeway)

    def validate_redirect_uris(self) -> None:
        for name in ("redirect_uris", "post_logout_redirect_uris"):
            uris = self.get(name)
            if uris is not None and (not isinstance(uris, list) or not all(isinstance(u, str) for u in uris)):
                raise InvalidClientMetadataError(f"{name} must be an array of strings")


def _json_request(server: TesseraServer, request: HttpRequest) -> JsonRequest:
    """Authlib's JSON request from ours; the body must be a JSON object where there is one (POST, PUT)."""
    uri = server.context.settings.issuer + request.path + (f"?{request.query}" if request.query else "")
    # HEAD is GET without the body, which the front leaves out
    method = "GET" if request.method == "HEAD" else request.method
    json_request = JsonRequest(method, uri, headers={"Authorization": request.headers.get("authorization", "")})
    data: Any = {}
    if request.method in ("POST", "PUT"):
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != _JSON:
            raise InvalidRequestError("The body must be application/json (RFC 7591 section 3.1).")
        try:
            data = json.loads(request.body)
        except (UnicodeDecodeError, ValueError, RecursionError):  # nesting deep enough to exhaust the stack
            raise InvalidClientMetadataError("The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise InvalidClientMetadataError("The body must be a JSON object of client metadata (RFC 7591 section 2).")
    if method == "POST" and not data:
        raise InvalidClientMetadataError("The body is empty: send the client's metadata, at least its redirect_uris.")
    json_request.payload = _Payload(data)
    return json_request


class _Payload(JsonPayload):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


def _bearer(request: JsonRequest, kind: TokenKind) -> str | None:
    """The digest of the request's Bearer token of ``kind``, or ``None`` if it has none of that shape."""
    scheme, _, token = str(request.headers.get("Authorization", "")).partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        parse(token.strip(), expected=kind)
    except MalformedToken:
        return None
    return digest(token.strip())


def check_metadata(settings: Settings, scopes: Scopes, metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` as the policy lets it be stored (see the module), or the RFC 7591 error that says what to
    change: Authlib's checks of each member (RFC 7591 §2), then :func:`_policy`. What a client ID metadata document
    says goes through here too (:mod:`tessera.server.client_documents`)."""
    _Claims(metadata, {}).validate()
    return _policy(settings, scopes, metadata)


def _policy(settings: Settings, scopes: Scopes, metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` (checked by Authlib) as it will be stored, or the OAuth error that says what to change."""
    uris = metadata.get("redirect_uris") or []
    if not uris:
        raise InvalidRedirectURIError("redirect_uris must name at least one redirect URI")
    _check_uris(uris, "redirect URI", production=settings.production)
    post_logout = metadata.get("post_logout_redirect_uris") or []
    _check_uris(post_logout, "post-logout redirect URI", production=settings.production)
    grant_types = _strings(metadata, "grant_types") or list(GRANT_TYPES)
    refused = [g for g in grant_types if g not in GRANT_TYPES]
    if refused:
        raise InvalidClientMetadataError(
            safe_description(
                f"grant type {refused[0]!r} cannot be registered here: use authorization_code and refresh_token"
            )
        )
    if "authorization_code" not in grant_types:
        raise InvalidClientMetadataError("grant_types must include authorization_code")
    response_types = _strings(metadata, "response_types") or ["code"]
    if response_types != ["code"]:
        raise InvalidClientMetadataError("response_types must be code, the only response type offered")
    method = metadata.get("token_endpoint_auth_method") or SECRET_METHODS[0]
    if method not in AUTH_METHODS:
        raise InvalidClientMetadataError(
            safe_description(f"token_endpoint_auth_method {method!r} is not offered: use {', '.join(AUTH_METHODS)}")
        )
    declared = catalogue(scopes).declared
    allowed = [s for s in settings.registration_scopes if s in declared]
    if not allowed:
        raise InvalidClientMetadataError("no scope may be registered on this server")
    requested = metadata.get("scope")
    if requested is not None and not isinstance(requested, str):
        raise InvalidClientMetadataError("scope must be a string of space-separated scope names")
    scope = allowed if requested is None else [s for s in dict.fromkeys(requested.split()) if s in allowed]
    if not scope:
        raise InvalidClientMetadataError(
            safe_description(f"none of the requested scopes may be registered: use {' '.join(allowed)}")
        )
    name = metadata.get("client_name")
    if name is None:
        # what the consent page can truthfully say of an unnamed client: where it sends people back to
        first = urlsplit(uris[0])
        name = first.hostname or first.scheme
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > _MAX_NAME or not name.isprintable():
        raise InvalidClientMetadataError(f"client_name must be 1 to {_MAX_NAME} printable characters")
    return {
        "client_name": name.strip(),
        "redirect_uris": list(dict.fromkeys(uris)),
        "post_logout_redirect_uris": list(dict.fromkeys(post_logout)),
        "grant_types": list(dict.fromkeys(grant_types)),
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "scope": " ".join(scope),
    }


def _check_uris(uris: list[str], what: str, *, production: bool) -> None:
    for uri in uris:
        try:
            check_redirect_uri(uri, production=production, what=what)
        except InvalidRedirectUri as exc:
            raise _refusal(exc) from None
        # whatever TESSERA_ENV says: nobody vouches for a client registered over HTTP, so nothing in clear text
        if uri.lower().startswith("http://") and not is_loopback(urlsplit(uri).hostname or ""):
            raise InvalidRedirectURIError(
                safe_description(f"{what} {uri!r} must be https:// (http:// only for 127.0.0.1, [::1] or localhost)")
            )


def safe_description(description: str) -> str:
    """``description`` in the characters RFC 6749 §5.2 allows in ``error_description`` (Authlib refuses others):
    a client's own odd characters, echoed in a message, become ``?``."""
    description = description.replace("§", "section ")
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in description)


def _refusal(exc: InvalidClientMetadata) -> InvalidClientMetadataError | InvalidRedirectURIError:
    """One of the rules of :mod:`tessera.server.registration`, broken: its RFC 7591 error, the same message."""
    error = InvalidRedirectURIError if isinstance(exc, InvalidRedirectUri) else InvalidClientMetadataError
    return error(safe_description(str(exc)))


def _strings(metadata: dict[str, Any], name: str) -> list[str]:
    value = metadata.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidClientMetadataError(f"{name} must be an array of strings")
    return value


def _stored(record: ClientRecord, method: str) -> dict[str, Any]:
    """A client's metadata as RFC 7591 §2 names it, as it is stored."""
    return {
        "client_id": record.client_id,
        "client_name": record.name,
        "redirect_uris": list(record.redirect_uris),
        "post_logout_redirect_uris": list(record.post_logout_redirect_uris),
        "grant_types": list(record.grant_types),
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "scope": record.scope,
        "client_id_issued_at": record.created_at,
    }


def _client_uri(server: TesseraServer, client_id: str) -> str:
    return f"{server.context.settings.issuer}{REGISTER_PATH}?client_id={client_id}"


#: the most uses and the longest life (a year) an initial access token may be given
MAX_USES = 1_000_000
MAX_TTL = 31_536_000


def issue_initial_access_token(
    registrations: Registrations, *, uses: int | None, ttl: int | None, now: int
) -> tuple[str, InitialAccessToken]:
    """A new initial access token for ``TESSERA_REGISTRATION=token`` (RFC 7591 §3), good for ``uses``
    registrations (``None``: any number) until ``ttl`` seconds from ``now`` (``None``: no end). Only its digest
    is stored; the token itself exists only in what this returns.

        >>> token, record = issue_initial_access_token(store.registrations, uses=1, ttl=3600, now=now)  # doctest: +SKIP
    """
    if uses is not None and not 1 <= uses <= MAX_USES:
        raise InvalidInput(f"--uses must be 1 to {MAX_USES}, not {uses}")
    if ttl is not None and not 1 <= ttl <= MAX_TTL:
        raise InvalidInput(f"--ttl must be 1 to {MAX_TTL} seconds (a year), not {ttl}")
    token = mint(TokenKind.INITIAL_ACCESS)
    record = InitialAccessToken(digest(token), uses, None if ttl is None else now + ttl, now)
    registrations.create_initial(record)
    return token, record


class _Checked:
    """What :func:`_policy` made of a registration request, and the digest of the initial access token that
    allowed it (``None`` in ``open`` mode)."""

    def __init__(self, metadata: dict[str, Any], initial: str | None) -> None:
        self.metadata = metadata
        self.initial = initial


class ClientRegistration(ClientRegistrationEndpoint):
    """RFC 7591 §3: ``POST`` client metadata, get a client."""

    server: TesseraServer

    def __init__(self, server: TesseraServer) -> None:
        super().__init__(server, claims_classes=[_Claims])
        self.server = server

    def get_server_metadata(self) -> dict[str, Any] | None:
        return None  # the policy checks the values against what is offered (_policy)

    def authenticate_token(self, request: JsonRequest) -> Any:
        context = self.server.context
        if context.settings.registration == "open":
            return _Checked({}, None)
        initial = _bearer(request, TokenKind.INITIAL_ACCESS)
        if initial is None or not context.store.registrations.initial_usable(initial, context.now()):
            raise InvalidTokenError(
                "An initial access token is needed to register a client, and this one is not valid."
            )
        return _Checked({}, initial)

    def extract_client_metadata(self, request: JsonRequest) -> dict[str, Any]:
        context = self.server.context
        return _policy(context.settings, context.store.scopes, super().extract_client_metadata(request))

    def generate_client_info(self, request: JsonRequest) -> dict[str, Any]:
        return {}  # the id and secret are minted when the client is stored (register_client)

    def save_client(self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: JsonRequest) -> Any:
        context = self.server.context
        checked: _Checked = request.credential
        token = mint(TokenKind.REGISTRATION_ACCESS)
        method = client_metadata["token_endpoint_auth_method"]
        metadata = ClientMetadata(
            name=client_metadata["client_name"],
            redirect_uris=tuple(client_metadata["redirect_uris"]),
            grant_types=tuple(client_metadata["grant_types"]),
            scope=client_metadata["scope"],
            public=method == NONE,
            post_logout_redirect_uris=tuple(client_metadata["post_logout_redirect_uris"]),
        )

        def save(record: ClientRecord) -> None:
            registration = RegistrationRecord(record.client_id, digest(token), method, record.created_at)
            try:
                context.store.registrations.register(record, registration, initial=checked.initial, now=context.now())
            except PermissionError:
                raise InvalidTokenError("The initial access token has no use left or has expired.") from None

        try:
            registered = register_client(
                context.store.clients,
                metadata,
                scopes=catalogue(context.store.scopes),
                production=context.settings.production,
                clock=context.clock,
                save=save,
            )
        except InvalidClientMetadata as exc:
            raise _refusal(exc) from None
        context.audit.emit(
            Event.CLIENT_REGISTERED,
            client_id=registered.record.client_id,
            detail={"via": "registration", "name": registered.record.name, "method": method},
        )
        return registered, token, method

    def generate_client_registration_info(self, client: Any, request: JsonRequest) -> dict[str, Any]:
        registered, token, method = client
        body = _stored(registered.record, method)
        if registered.secret is not None:
            body.update(client_secret=registered.secret, client_secret_expires_at=0)
        body.update(
            registration_access_token=token, registration_client_uri=_client_uri(self.server, body["client_id"])
        )
        return body


class _RegistrationToken:
    """A registration access token, found by its digest: good for its own client only."""

    def __init__(self, record: RegistrationRecord) -> None:
        self.record = record

    def check_client(self, client: OAuthClient) -> bool:
        return client.client_id == self.record.client_id


class ClientConfiguration(ClientConfigurationEndpoint):
    """RFC 7592 §2: ``GET``, ``PUT`` and ``DELETE`` on the registration client URI, with the registration access
    token as a Bearer token."""

    server: TesseraServer

    def __init__(self, server: TesseraServer) -> None:
        super().__init__(server, claims_classes=[_Claims])
        self.server = server

    def get_server_metadata(self) -> dict[str, Any] | None:
        return None

    def authenticate_token(self, request: JsonRequest) -> Any:
        found = _bearer(request, TokenKind.REGISTRATION_ACCESS)
        record = None if found is None else self.server.context.store.registrations.by_token(found)
        if record is None:
            raise InvalidTokenError("The registration access token is not valid.")
        return _RegistrationToken(record)

    def authenticate_client(self, request: JsonRequest) -> OAuthClient | None:
        token: _RegistrationToken = request.credential
        ids = parse_qs(request.uri.partition("?")[2]).get("client_id", [])
        if len(ids) != 1:
            raise InvalidRequestError("Use the registration_client_uri as given, with its one client_id.")
        if ids[0] != token.record.client_id:
            # the same answer as for no token at all: nothing said about another client, or whether it exists
            raise InvalidTokenError("The registration access token is not valid.")
        record = self.server.context.store.clients.get(ids[0])
        return None if record is None else OAuthClient(record, clock=self.server.context.clock)

    def revoke_access_token(self, token: Any, request: Any) -> None:
        # RFC 7592 §2 asks this when the URI names no client. Here the URI names the token's own client (checked
        # above), and a registration access token is deleted with its client, in the same transaction: a token
        # whose client is gone is already gone.
        return None

    def check_permission(self, client: OAuthClient, request: JsonRequest) -> bool:
        return True  # check_client has matched the token to this very client; it may read, change or delete it

    def introspect_client(self, client: OAuthClient) -> dict[str, Any]:
        registration = self.server.context.store.registrations.by_client(client.client_id)
        method = (
            registration.token_endpoint_auth_method
            if registration
            else (NONE if client.record.public else SECRET_METHODS[0])
        )
        return _stored(client.record, method)

    def generate_client_registration_info(self, client: OAuthClient, request: JsonRequest) -> dict[str, Any]:
        token = str(request.headers.get("Authorization", "")).partition(" ")[2].strip()
        return {
            "registration_access_token": token,
            "registration_client_uri": _client_uri(self.server, client.client_id),
        }

    def extract_client_metadata(self, request: JsonRequest) -> dict[str, Any]:
        context = self.server.context
        return _policy(context.settings, context.store.scopes, super().extract_client_metadata(request))

    def create_update_client_response(
        self, client: Any, request: JsonRequest
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Authlib's RFC 7592 §2.2 checks, said in words first (Authlib's ``invalid_request`` has none), and a
        ``client_secret`` that is not a string refused before Authlib hashes it."""
        data = request.payload.data
        issued = [m for m in _ISSUED if m in data]
        if issued:
            raise InvalidRequestError(f"An update must not send {issued[0]} (RFC 7592 section 2.2).")
        if data.get("client_id") != client.client_id:
            raise InvalidRequestError("An update must send the client's own client_id (RFC 7592 section 2.2).")
        if "client_secret" in data and not isinstance(data["client_secret"], str):
            raise InvalidRequestError("client_secret must be a string.")
        if "client_secret" in data and not client.check_client_secret(data["client_secret"]):
            raise InvalidRequestError("client_secret is not this client's secret.")
        return super().create_update_client_response(client, request)

    def update_client(self, client: OAuthClient, client_metadata: dict[str, Any], request: JsonRequest) -> OAuthClient:
        context = self.server.context
        method = client_metadata["token_endpoint_auth_method"]
        if (method == NONE) != client.record.public:
            kind = "public" if client.record.public else "confidential"
            raise InvalidClientMetadataError(
                f"this client is {kind}: token_endpoint_auth_method cannot change between none and a secret"
            )
        changes = ClientChanges(
            name=client_metadata["client_name"],
            redirect_uris=tuple(client_metadata["redirect_uris"]),
            grant_types=tuple(client_metadata["grant_types"]),
            scope=client_metadata["scope"],
            post_logout_redirect_uris=tuple(client_metadata["post_logout_redirect_uris"]),
        )
        try:
            record = update_client(
                context.store.clients,
                client.client_id,
                changes,
                scopes=catalogue(context.store.scopes),
                production=context.settings.production,
                save=lambda checked: context.store.registrations.update(checked, method),
            )
        except InvalidClientMetadata as exc:
            raise _refusal(exc) from None
        except NotFound:
            raise _gone() from None
        context.clients.forget(client.client_id)
        context.audit.emit(Event.CLIENT_UPDATED, client_id=client.client_id, detail={"via": "registration"})
        return OAuthClient(record, clock=context.clock)

    def delete_client(self, client: OAuthClient, request: JsonRequest) -> None:
        context = self.server.context
        try:
            revoked = context.store.clients.delete(client.client_id)
        except NotFound:
            raise _gone() from None
        context.clients.forget(client.client_id)
        # one "not before" event for every token of the client, as `tessera clients delete` sends
        context.revocations.revoked(revoked, client_id=client.client_id)
        context.audit.emit(
            Event.CLIENT_DELETED, client_id=client.client_id, detail={"via": "registration", "revoked": len(revoked)}
        )


def _gone() -> InvalidTokenError:
    """A client deleted by another request since this one found it: its registration access token went with it,
    and RFC 7592 section 2 answers a client that does not exist with 401."""
    return InvalidTokenError("The registration access token is not valid.")


def answer(server: TesseraServer, request: HttpRequest) -> Reply:
    """The registration endpoint: ``POST`` registers (RFC 7591); ``GET``, ``PUT`` and ``DELETE`` with
    ``?client_id=`` manage a registration (RFC 7592)."""
    context = server.context
    if request.method == "POST":
        if request.query:
            raise InvalidRequestError("Register by POST to the registration endpoint itself, with no query string.")
        verdict = context.rate_limits.registration_request(request.client_address(context.settings.trusted_proxies))
        if not verdict.allowed:
            raise SlowDownError(verdict.retry_after)
        registration = ClientRegistration(server)
        return registration(_json_request(server, request))
    configuration = ClientConfiguration(server)
    reply = configuration(_json_request(server, request))
    if reply is None:  # Authlib answers GET, PUT and DELETE; the request map lets no other method through
        raise InvalidRequestError("The method is not allowed here.")
    status, body, headers = reply
    return status, (body or b""), headers
