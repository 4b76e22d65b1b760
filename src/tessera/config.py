"""Settings: one frozen, typed object read from the ``TESSERA_*`` variables once, validated at start.

    >>> settings = Settings.from_env({"TESSERA_ACCESS_TOKEN_TTL": "600"})
    >>> settings.access_token_ttl
    600

Nothing here runs at import time. A bad value raises :class:`~tessera.errors.ConfigError` with a one-line
message naming the variable.

Production rules apply where the value is used. The secret key signs session cookies and CSRF tokens and the
issuer is the URL people and clients reach, so only a server needs them: :meth:`Settings.from_env` applies their
production rules by default (``for_server=True``), and the commands that run no server (``tessera users create``
on an administrator's machine) read the settings with ``for_server=False``. ``TESSERA_ENV`` itself always
counts: the production rules for redirect URIs apply to every command that registers one.
"""

import dataclasses
import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from limits import RateLimitItem, parse_many

from tessera import redisurl
from tessera.errors import ConfigError

__all__ = ["Secret", "Settings", "is_loopback", "parse_limits", "read_dotenv"]

Env = Literal["development", "production"]
Registration = Literal["off", "token", "open"]


class Secret(str):
    """A string whose ``repr`` never shows its value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('**********')"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _database_url(url: str) -> str:
    """Only the drivers Tessera installs: anything else would fail later, with a traceback, in SQLAlchemy."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"):
        # the scheme only: the rest of the URL may hold a password
        raise ConfigError(f"TESSERA_DATABASE_URL must be sqlite:///path.db or postgresql+psycopg://..., not {scheme!r}")
    if scheme.startswith("sqlite") and rest and not rest.startswith("/"):
        raise ConfigError("TESSERA_DATABASE_URL: a SQLite URL has no host: sqlite:///relative.db or sqlite:////abs.db")
    if scheme.startswith("postgresql"):
        _postgres_hosts(rest)
    if scheme == "postgresql":
        # plain postgresql:// means psycopg2 to SQLAlchemy 2.0; psycopg 3 is the driver we ship
        return f"postgresql+psycopg://{rest}"
    return url


def _postgres_hosts(rest: str) -> None:
    """Several hosts go in the query, as SQLAlchemy reads them; every connection must reach the primary."""
    netloc, _, tail = rest.partition("/")
    if "," in netloc.rpartition("@")[2]:
        raise ConfigError(
            "TESSERA_DATABASE_URL: name several hosts in the query, "
            "postgresql+psycopg://user@/db?host=h1:5432&host=h2:5432&target_session_attrs=read-write"
        )
    attrs = parse_qs(tail.partition("?")[2]).get("target_session_attrs", ["read-write"])[-1]
    if attrs not in ("read-write", "primary"):
        raise ConfigError(
            f"TESSERA_DATABASE_URL: target_session_attrs must be read-write or primary (a standby may not have "
            f"replayed the latest revocations), not {attrs!r}"
        )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, unit: str = "seconds") -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of {unit}, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """A number of seconds that may have a fraction (``0.05``)."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not low <= value <= high:  # NaN too
        raise ConfigError(f"{name} must be between {low:g} and {high:g} seconds, not {raw.strip()}")
    return value


def parse_limits(value: str) -> tuple[RateLimitItem, ...]:
    """``"5/minute;20/hour"`` -> limit items; ``""``, ``"off"`` or ``"none"`` -> none. Raises ``ValueError`` if
    malformed."""
    if value.strip().lower() in ("", "off", "none"):
        return ()
    return tuple(parse_many(value))


def _limits(env: Mapping[str, str], name: str, default: str) -> str:
    """A ``limits`` rate string such as ``5/minute;20/hour``, or ``off``."""
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return value if parse_limits(value) else "off"
    except ValueError:
        raise ConfigError(f"{name} must look like '5/minute;20/hour' or be 'off', not {value!r}") from None


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value: str) -> str:
    if value.upper() not in _LOG_LEVELS:
        raise ConfigError(f"TESSERA_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, not {value!r}")
    return value.upper()


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first is the default), in any case."""
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {env.get(name)!r}")
    return value


def _prefix(value: str) -> str:
    if len(value) > 64 or not all(c.isalnum() or c in "-_.:" for c in value):
        raise ConfigError("TESSERA_REDIS_PREFIX must be up to 64 letters, digits or '-_.:'")
    return value


_YEAR = 31_536_000


def _switch(env: Mapping[str, str], name: str) -> bool:
    """``on`` or ``off`` (also ``true``/``false``, ``1``/``0``, ``yes``/``no``); unset is off."""
    value = env.get(name, "").strip().lower()
    if value in ("", "off", "false", "0", "no"):
        return False
    if value in ("on", "true", "1", "yes"):
        return True
    raise ConfigError(f"{name} must be 'on' or 'off', not {value!r}")


def _registration(value: str) -> Registration:
    value = value.strip().lower() or "off"
    if value not in ("off", "token", "open"):
        raise ConfigError(f"TESSERA_REGISTRATION must be off, token or open, not {value!r}")
    return value  # type: ignore[return-value]


#: RFC 6749 §3.3 scope-token characters (config imports nothing of the server)
_SCOPE_CHARACTERS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}


def _scopes(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    names = tuple(dict.fromkeys(raw.split()))
    if not all(set(n) <= _SCOPE_CHARACTERS for n in names):
        raise ConfigError(f"{name} must be space-separated scope names, not {raw!r}")
    return names


def _path(value: str) -> Path | None:
    """A file named by a setting; whoever reads it says so if it cannot be read."""
    return Path(value.strip()) if value.strip() else None


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything Tessera reads from its environment. Build it with :meth:`from_env`."""

    database_url: str = "sqlite:///tessera.db"
    issuer: str = "http://127.0.0.1:8000"
    secret_key: Secret = dataclasses.field(default_factory=lambda: Secret(secrets.token_urlsafe(32)))
    redis_url: str | None = None
    # the same default as tessera.events.REVOCATION_CHANNEL (a test keeps them equal); config imports no redis
    revocation_channel: str = "tessera:revoked"
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 2_592_000
    env: Env = "development"
    code_ttl: int = 60
    #: ID-token lifetime, seconds (OpenID Connect)
    id_token_ttl: int = 600
    #: what encrypts the ID-token signing keys at rest: TESSERA_KEY_ENCRYPTION_KEY, else TESSERA_SECRET_KEY as
    #: set (never the random one a development process makes up), else None (tessera.server.keys says what then)
    key_encryption_key: Secret | None = None
    client_cache_ttl: float = 5.0
    count_sql: bool = False
    #: failed sign-ins per account and per client address: a ladder of windows (see tessera.ratelimit)
    login_limit_account: str = "5/minute;10/10minutes;20/hour;100/day"
    login_limit_address: str = "20/minute;100/hour;1000/day"
    #: device authorizations (RFC 8628): how long a device code and its user code live, in seconds
    device_code_ttl: int = 600
    #: user codes entered that match no pending sign-in, per client address and over the whole code space
    user_code_limit_address: str = "10/minute;50/hour;200/day"
    user_code_limit: str = "1000/hour;10000/day"
    #: requests per authenticated client; off by default (see docs/security.md for why)
    token_limit: str = "off"
    introspection_limit: str = "off"
    #: prefix of every Redis key and channel name this deployment uses
    redis_prefix: str = "tessera"
    #: how many reverse proxies in front set X-Forwarded-For/-Proto (werkzeug's ProxyFix); 0: none
    trusted_proxies: int = 0
    #: seconds a client has to send a request's body before it is answered 408 (``tessera serve``)
    body_timeout: int = 10
    #: worker threads per ``tessera serve`` process, for the pages and the machine routes that write
    threads: int = 4
    #: PostgreSQL connections each process keeps open (up to twice as many more for a burst)
    pool_size: int = 5
    #: PostgreSQL server-side prepared statements (psycopg prepares a statement on a connection the fifth time it
    #: runs there); off behind a pooler in transaction mode that cannot keep them (PgBouncer before 1.21)
    prepared_statements: bool = True
    #: the level of every logger Tessera configures (the access line is INFO)
    log_level: str = "INFO"
    #: ``text`` (one readable line per record) or ``json`` (one JSON object per line; tessera.logs)
    log_format: Literal["text", "json"] = "text"
    #: the audit trail (tessera.server.audit): ``on`` (the log and the table), ``log`` (the log only), ``off``
    audit: Literal["on", "log", "off"] = "on"
    #: a sign-in session ends after this many seconds without a page (checked against its last-seen time)
    session_idle_timeout: int = 1800
    #: ... and this many seconds after the sign-in, however busy (the cookie expires then too)
    session_max_age: int = 43_200
    #: the operator's own list of refused passwords, read by the commands that set a password
    #: (:class:`tessera.server.accounts.PasswordPolicy`), not by the server, which sets none
    password_blocklist: Path | None = None
    #: GitHub's published list of the keys that sign leak reports (tessera.server.leaks); unset: no reports
    leak_report_keys: Path | None = None
    #: leak reports per client address
    leak_report_limit: str = "60/minute"
    #: the token endpoint demands a server nonce in every DPoP proof (RFC 9449 §8)
    dpop_nonce: bool = False
    #: client registration over HTTP (RFC 7591): off, token (an initial access token needed) or open
    registration: Registration = "off"
    #: the most a client registered over HTTP may hold, intersected with the declared scopes
    registration_scopes: tuple[str, ...] = ("openid", "profile", "email", "api")
    #: registrations per client address (RFC 7591 §5 leaves it to the server; open registration needs it)
    registration_limit: str = "10/hour;50/day"
    #: a client registered over HTTP that has no token, code or consent this long after registering is deleted
    #: by ``tessera tokens purge``, so that open registration cannot grow the client table without bound
    registration_unused_ttl: int = 86_400
    #: a client_id that is an https:// URL names a client ID metadata document, fetched and used as the client's
    #: registration (tessera.server.client_documents)
    client_id_metadata: bool = False
    #: client ID metadata documents a client address may make a server process fetch that it does not hold yet
    client_document_limit: str = "30/minute;300/hour"
    #: seconds between two purges that ``tessera serve`` runs itself (one node at a time); 0: none
    purge_interval: int = 0
    #: seconds that purge waits after each batch, leaving the database's CPU to requests (see docs/deployment.md)
    purge_pause: float = 0.05
    #: whether the production rules a server needs (secret key, issuer) were applied; a server refuses settings
    #: read without them (:meth:`check_for_server`)
    for_server: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, for_server: bool = True) -> "Settings":
        """Read and validate the ``TESSERA_*`` variables (``os.environ`` by default). With ``for_server=False``
        (a command that runs no server), the production rules for the secret key and the issuer are not applied:
        such a command uses neither."""
        env = os.environ if environ is None else environ
        mode = env.get("TESSERA_ENV", "development").strip() or "development"
        if mode not in ("development", "production"):
            raise ConfigError(f"TESSERA_ENV must be 'development' or 'production', not {mode!r}")
        issuer = env.get("TESSERA_ISSUER", "").strip().rstrip("/") or cls.issuer
        try:
            parts = urlsplit(issuer)
            parts.port  # noqa: B018 - a non-numeric or out-of-range port raises ValueError here
        except ValueError:
            raise ConfigError(f"TESSERA_ISSUER must be an http(s) URL, not {issuer!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"TESSERA_ISSUER must be an http(s) URL, not {issuer!r}")
        if parts.query or parts.fragment:
            raise ConfigError("TESSERA_ISSUER must not have a query or fragment (RFC 8414 §2)")
        key = env.get("TESSERA_SECRET_KEY", "")
        if mode == "production" and for_server:
            if not key:
                raise ConfigError("TESSERA_SECRET_KEY is required when TESSERA_ENV=production")
            if len(key) < 32:
                raise ConfigError("TESSERA_SECRET_KEY must be at least 32 characters in production")
            if parts.scheme == "http" and not is_loopback(parts.hostname):
                raise ConfigError("TESSERA_ISSUER must be https:// in production (http only on loopback)")
        database_url = _database_url(env.get("TESSERA_DATABASE_URL", "").strip() or cls.database_url)
        redis_url = env.get("TESSERA_REDIS_URL", "").strip() or None
        if redis_url is not None:
            try:
                redisurl.check(redis_url)
            except ValueError as exc:
                raise ConfigError(f"TESSERA_REDIS_URL: {exc}") from None
        kek = env.get("TESSERA_KEY_ENCRYPTION_KEY", "")
        if kek and len(kek) < 32:
            raise ConfigError("TESSERA_KEY_ENCRYPTION_KEY must be at least 32 characters")
        channel = env.get("TESSERA_REVOCATION_CHANNEL", "").strip() or cls.revocation_channel
        if len(channel) > 200 or not channel.isprintable() or " " in channel:
            raise ConfigError("TESSERA_REVOCATION_CHANNEL must be at most 200 printable characters without spaces")
        return cls(
            database_url=database_url,
            issuer=issuer,
            secret_key=Secret(key) if key else Secret(secrets.token_urlsafe(32)),
            redis_url=redis_url,
            revocation_channel=channel,
            access_token_ttl=_int(env, "TESSERA_ACCESS_TOKEN_TTL", cls.access_token_ttl, 1, 86_400 * 366),
            refresh_token_ttl=_int(env, "TESSERA_REFRESH_TOKEN_TTL", cls.refresh_token_ttl, 1, 86_400 * 3660),
            id_token_ttl=_int(env, "TESSERA_ID_TOKEN_TTL", cls.id_token_ttl, 60, 86_400),
            key_encryption_key=Secret(kek or key) if (kek or key) else None,
            env=mode,  # type: ignore[arg-type]
            count_sql=env.get("TESSERA_BENCH_COUNT_SQL", "") == "1",
            login_limit_account=_limits(env, "TESSERA_LOGIN_LIMIT_ACCOUNT", cls.login_limit_account),
            login_limit_address=_limits(env, "TESSERA_LOGIN_LIMIT_ADDRESS", cls.login_limit_address),
            device_code_ttl=_int(env, "TESSERA_DEVICE_CODE_TTL", cls.device_code_ttl, 60, 3600),
            user_code_limit_address=_limits(env, "TESSERA_USER_CODE_LIMIT_ADDRESS", cls.user_code_limit_address),
            user_code_limit=_limits(env, "TESSERA_USER_CODE_LIMIT", cls.user_code_limit),
            token_limit=_limits(env, "TESSERA_TOKEN_LIMIT", cls.token_limit),
            introspection_limit=_limits(env, "TESSERA_INTROSPECTION_LIMIT", cls.introspection_limit),
            redis_prefix=_prefix(env.get("TESSERA_REDIS_PREFIX", "").strip() or cls.redis_prefix),
            trusted_proxies=_int(env, "TESSERA_TRUSTED_PROXIES", 0, 0, 10, unit="proxies"),
            body_timeout=_int(env, "TESSERA_BODY_TIMEOUT", cls.body_timeout, 1, 300),
            purge_interval=_int(env, "TESSERA_PURGE_INTERVAL", cls.purge_interval, 0, 7 * 86_400),
            purge_pause=_seconds(env, "TESSERA_PURGE_PAUSE", cls.purge_pause, 0, 10),
            threads=_int(env, "TESSERA_THREADS", cls.threads, 1, 64, unit="threads"),
            pool_size=_int(env, "TESSERA_POOL_SIZE", cls.pool_size, 1, 100, unit="connections"),
            prepared_statements=_choice(env, "TESSERA_PREPARED_STATEMENTS", ("on", "off")) == "on",
            log_level=_log_level(env.get("TESSERA_LOG_LEVEL", "").strip() or cls.log_level),
            log_format=_choice(env, "TESSERA_LOG_FORMAT", ("text", "json")),  # type: ignore[arg-type]
            audit=_choice(env, "TESSERA_AUDIT", ("on", "log", "off")),  # type: ignore[arg-type]
            # at least a minute: a shorter idle timeout would sign people out while they read the consent page
            session_idle_timeout=_int(env, "TESSERA_SESSION_IDLE_TIMEOUT", cls.session_idle_timeout, 60, _YEAR),
            session_max_age=_int(env, "TESSERA_SESSION_MAX_AGE", cls.session_max_age, 60, _YEAR),
            password_blocklist=_path(env.get("TESSERA_PASSWORD_BLOCKLIST", "")),
            leak_report_keys=_path(env.get("TESSERA_LEAK_REPORT_KEYS", "")),
            leak_report_limit=_limits(env, "TESSERA_LEAK_REPORT_LIMIT", cls.leak_report_limit),
            dpop_nonce=_switch(env, "TESSERA_DPOP_NONCE"),
            registration=_registration(env.get("TESSERA_REGISTRATION", "")),
            registration_scopes=_scopes(env, "TESSERA_REGISTRATION_SCOPES", cls.registration_scopes),
            registration_limit=_limits(env, "TESSERA_REGISTRATION_LIMIT", cls.registration_limit),
            registration_unused_ttl=_int(
                env, "TESSERA_REGISTRATION_UNUSED_TTL", cls.registration_unused_ttl, 60, _YEAR
            ),
            client_id_metadata=_switch(env, "TESSERA_CLIENT_ID_METADATA"),
            client_document_limit=_limits(env, "TESSERA_CLIENT_DOCUMENT_LIMIT", cls.client_document_limit),
            for_server=for_server,
        )

    def check_for_server(self) -> None:
        """Refuse to run a server on settings read without the server's production rules (``for_server=False``):
        in production they may hold a random secret key or a plain-http issuer."""
        if self.production and not self.for_server:
            raise ConfigError("these settings were read for a command, not a server: read them with for_server=True")

    @property
    def production(self) -> bool:
        return self.env == "production"


def read_dotenv(path: Path, environ: dict[str, str]) -> None:
    """Add ``NAME=value`` lines of ``path`` to ``environ`` where not already set (the environment wins)."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        name = name.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        environ.setdefault(name, value)
