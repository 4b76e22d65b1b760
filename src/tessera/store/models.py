"""The schema. Tokens, codes and client secrets appear only as SHA-256 digests; times are Unix seconds.

``grant_id`` ties together every token minted from one authorization (the family), so a replayed code or a
reused refresh token can revoke all of them in one statement.

``sessions`` are people's sign-ins to the pages: the cookie holds a random secret, the table its digest (the key,
so a page finds its session in one indexed read) and a public ``sid`` that is not the secret (OpenID Connect
sends it in ID tokens).

``audit_events`` is the audit trail (:mod:`tessera.server.audit`): who did what, when, from where. It names
clients and users by their id and name, not by foreign key: an event outlives the client or user it is about.

``dpop_jkt`` is the RFC 7638 thumbprint of the key a token is bound to (RFC 9449), beside the token so that
introspection stays one indexed read; a code's is the key ``dpop_jkt`` named at the authorization endpoint.

``signing_keys`` sign ID tokens (OpenID Connect): the public JWK in clear, the private one only encrypted.

``resources`` are the protected resources (APIs) the operator registered (RFC 8707): a client may ask for a token
restricted to one of them. What a token is restricted to is kept on its row (``audience``, space-separated URIs),
so introspection stays one indexed read; ``resources`` on a token row, a code and a consent is what the grant
covers, which a refresh may narrow again. URIs hold no space (RFC 3986), so a space-separated string holds them
as it holds scopes.

``scopes`` are the scopes the operator declared: a client may hold only these, the consent page describes them,
the metadata lists them. A client's ``scope`` stays a space-separated string (what the grants read on every
request), not a join table; :mod:`tessera.store.scopes` keeps the two in step when a scope is deleted. Names and
descriptions are ``Text``: the rules for new ones (:mod:`tessera.server.scopes`) are the application's, and the
migration declares whatever clients held before them.

``device_authorizations`` are RFC 8628's pending sign-ins from devices: the device code's digest is the key (a
poll is one indexed read), the user code's digest is unique (the verification page finds it in one), and
``approved_at``/``denied_at``/``used_at`` are the one-way steps, each set once by a conditional ``UPDATE``.

Plain SQLAlchemy Core tables: :mod:`tessera.store.repositories` only ever runs Core statements, and leaving the
ORM out keeps it from being imported at all (about 6 MiB per server worker). The Alembic migrations create
exactly this schema; a test compares them.
"""

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, false

__all__ = [
    "audit_events",
    "authorization_codes",
    "clients",
    "consents",
    "device_authorizations",
    "metadata",
    "resources",
    "scopes",
    "sessions",
    "signing_keys",
    "tokens",
    "users",
]

_DIGEST = String(64)
#: up to 255 characters: a client ID metadata document's URL; SQLite keeps the declared 64 it was created with and
#: does not enforce it (migration 0012_cimd_client_ids)
_CLIENT_ID = String(255).with_variant(String(64), "sqlite")

metadata = MetaData()


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(150), unique=True, nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, default=False, nullable=False),
    Column("created_at", Integer, nullable=False),
    # OpenID Connect's ``sub``: random, unique, never reassigned (nullable only as a column added to a table)
    Column("subject", String(32), nullable=True),
    Column("email", String(254), nullable=True),
    Column("name", String(200), nullable=True),
    Index("ix_users_subject", "subject", unique=True),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", _CLIENT_ID, primary_key=True),
    Column("secret_digest", _DIGEST, nullable=True),
    Column("name", String(200), nullable=False),
    Column("redirect_uris", JSON, nullable=False),
    Column("grant_types", JSON, nullable=False),
    Column("scope", Text, nullable=False),
    Column("public", Boolean, default=False, nullable=False),
    Column("may_introspect", Boolean, default=False, nullable=False),
    Column("created_at", Integer, nullable=False),
    # the secret a rotation with a grace period replaced, and when it stops working
    Column("previous_secret_digest", _DIGEST, nullable=True),
    Column("previous_secret_expires_at", Integer, nullable=True),
    # every token request of the client must carry a DPoP proof (RFC 9449)
    Column("require_dpop", Boolean, nullable=False, server_default=false()),
    # private_key_jwt (RFC 7523): the method, and the public keys or where to fetch them
    Column("auth_method", String(32), nullable=True),
    Column("jwks", JSON, nullable=True),
    Column("jwks_uri", Text, nullable=True),
    # the ID token's signing algorithm when not RS256
    Column("id_token_alg", String(8), nullable=True),
    # where the end-session endpoint may send people after sign-out (RP-Initiated Logout 1.0 §3.1)
    Column("post_logout_redirect_uris", JSON, nullable=True),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("digest", _DIGEST, primary_key=True),
    Column("client_id", ForeignKey("clients.client_id", ondelete="CASCADE"), index=True, nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("code_challenge", String(128), nullable=True),
    Column("code_challenge_method", String(16), nullable=True),
    Column("grant_id", String(64), nullable=False),
    Column("expires_at", Integer, nullable=False),
    Column("used_at", Integer, nullable=True),
    # the thumbprint of the key the code was bound to with dpop_jkt (RFC 9449 §10)
    Column("dpop_jkt", String(43), nullable=True),
    Column("nonce", Text, nullable=True),
    Column("auth_time", Integer, nullable=True),
    # the resources (RFC 8707) the person allowed, space-separated; NULL: none was asked for
    Column("resources", Text, nullable=True),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("access_digest", _DIGEST, unique=True, nullable=False),
    Column("refresh_digest", _DIGEST, unique=True, nullable=True),
    Column("client_id", ForeignKey("clients.client_id", ondelete="CASCADE"), index=True, nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True),
    Column("scope", Text, nullable=False),
    Column("grant_id", String(64), nullable=False),
    Column("issued_at", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False),
    Column("refresh_expires_at", Integer, nullable=True),
    Column("refresh_used_at", Integer, nullable=True),
    Column("revoked_at", Integer, nullable=True),
    # the thumbprint of the DPoP key the access token (and a public client's refresh token) is bound to
    Column("dpop_jkt", String(43), nullable=True),
    # the access token's audience (RFC 8707), space-separated URIs; NULL: none, as before resources existed
    Column("audience", Text, nullable=True),
    # every resource the grant covers, which a refresh may ask for (the audience may be fewer of them)
    Column("resources", Text, nullable=True),
    # the scope the refresh token carries on, when the access token's was narrowed to its audience; NULL: ``scope``
    Column("grant_scope", Text, nullable=True),
    Index("ix_tokens_grant_id", "grant_id"),
    Index("ix_tokens_refresh_expires_at", "refresh_expires_at"),
    # when the person signed in, for the ID token of a refresh
    Column("auth_time", Integer, nullable=True),
)

consents = Table(
    "consents",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("client_id", ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True),
    Column("scope", Text, nullable=False),
    Column("granted_at", Integer, nullable=False),
    # the resources the user allowed the client to reach, space-separated
    Column("resources", Text, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("digest", _DIGEST, primary_key=True),
    Column("sid", String(64), unique=True, nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("auth_time", Integer, nullable=False),
    Column("last_seen", Integer, nullable=False),
    Column("ended_at", Integer, nullable=True),
)

scopes = Table(
    "scopes",
    metadata,
    Column("name", Text, primary_key=True),
    Column("description", Text, nullable=False),
    Column("is_default", Boolean, default=False, nullable=False),
    Column("created_at", Integer, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    # Unix seconds with the fraction: events of one second keep their order
    Column("at", Float, nullable=False),
    Column("event", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("client_id", Text, nullable=True),
    Column("username", String(150), nullable=True),
    Column("address", String(64), nullable=True),
    Column("request_id", String(128), nullable=True),
    Column("reason", Text, nullable=True),
    Column("detail", JSON, nullable=True),
    # what `tessera audit list` asks for: the newest first, all of them or one user's or one client's
    Index("ix_audit_events_at", "at"),
    Index("ix_audit_events_username_at", "username", "at"),
    Index("ix_audit_events_client_id_at", "client_id", "at"),
)


device_authorizations = Table(
    "device_authorizations",
    metadata,
    Column("digest", _DIGEST, primary_key=True),
    Column("user_code_digest", _DIGEST, unique=True, nullable=False),
    Column("client_id", ForeignKey("clients.client_id", ondelete="CASCADE"), index=True, nullable=False),
    # what the device asked for, narrowed to the client's scope; once approved, what the person granted
    Column("scope", Text, nullable=False),
    Column("grant_id", String(64), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True),
    Column("approved_at", Integer, nullable=True),
    Column("denied_at", Integer, nullable=True),
    Column("used_at", Integer, nullable=True),
)


signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(8), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("retired_at", Integer, nullable=True),
    Column("public_jwk", JSON, nullable=False),
    # AES-GCM of the private JWK (tessera.server.keys); never the key in clear
    Column("encrypted_private_key", Text, nullable=False),
)


resources = Table(
    "resources",
    metadata,
    Column("uri", Text, primary_key=True),
    Column("name", Text, nullable=False),
    # the scopes a token for this resource may carry, space-separated; NULL: any the client holds
    Column("scope", Text, nullable=True),
    Column("created_at", Integer, nullable=False),
)

registrations = Table(
    "registrations",
    metadata,
    # a client registered over HTTP (RFC 7591); deleting the client deletes this row
    Column("client_id", ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True),
    # SHA-256 of its registration access token (RFC 7592 §1): never the token
    Column("token_digest", _DIGEST, unique=True, nullable=False),
    Column("token_endpoint_auth_method", String(32), nullable=False),
    Column("created_at", Integer, nullable=False),
)

initial_access_tokens = Table(
    "initial_access_tokens",
    metadata,
    # SHA-256 of a token that lets its holder register clients (RFC 7591 §3), from `tessera registration-tokens`
    Column("digest", _DIGEST, primary_key=True),
    # registrations it still allows; NULL: any number
    Column("uses_left", Integer, nullable=True),
    # Unix seconds; NULL: never
    Column("expires_at", Integer, nullable=True),
    Column("created_at", Integer, nullable=False),
)
