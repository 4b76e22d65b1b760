"""The keys that sign ID tokens (OpenID Connect Core §10.1), kept encrypted at rest and published as a JWKS.

**At rest.** A private key is stored only as AES-256-GCM ciphertext (``cryptography``) of its JWK, with its ``kid``
as associated data, so a ciphertext moved to another row does not decrypt either. The 256-bit key is derived with
HKDF-SHA256 from ``TESSERA_KEY_ENCRYPTION_KEY`` if set, else from ``TESSERA_SECRET_KEY`` (a dedicated key lets the
session secret change without touching the signing keys). With neither, in development only, a fixed development
key is used: the keys are then as good as in clear, which is what development means. A key that does not decrypt
(another secret, a corrupt row) stops :func:`tessera.app.build`, hence ``tessera serve``, at start with one line.

**Rotation.** ``tessera keys rotate`` adds a key and retires the previous active key of its algorithm in one
transaction. A retired key signs nothing more but stays in the JWKS until every ID token it signed has expired
(``TESSERA_ID_TOKEN_TTL`` after its retirement), then leaves it. Each server process looks at the table's
``(kid, state)`` list at most once a second, when it signs an ID token or serves the JWKS, and decrypts only keys
it has not seen: every process signs with a new key within a second of the rotation, with or without Redis, and
no thread or subscription is needed for it. The JWKS is kept as bytes and rebuilt only when the set changes.

**First key.** ``tessera db upgrade`` makes one RS256 and one ES256 key when there is none; a server that finds no
active key for an algorithm makes one the first time it needs it (the demo, the tests).

Keys are made and used with ``joserfc``; nothing here signs or verifies anything itself. ``joserfc`` and
``cryptography`` (about 10 MiB in each process) are imported by the first key decrypted or made: ``tessera serve``
decrypts every key once in a child process before the workers start (:func:`tessera.app.serve.check_signing_keys`),
and a worker reads its keys when it first signs an ID token or serves the JWKS.
"""

import base64
import dataclasses
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tessera.config import Settings
from tessera.errors import ConfigError
from tessera.store import SigningKeyRecord, SigningKeys

__all__ = ["ALGORITHMS", "DEFAULT_ALG", "KeyEncryption", "Keyring", "SigningKey", "ensure_keys", "rotate"]

#: the ID-token signing algorithms a client may be registered for; the first is the default
ALGORITHMS = ("RS256", "ES256")
DEFAULT_ALG = "RS256"
ACTIVE, RETIRED = "active", "retired"

_INFO = b"tessera: ID-token signing keys at rest, v1"
#: development only, with neither TESSERA_KEY_ENCRYPTION_KEY nor TESSERA_SECRET_KEY set: see the docstring
_DEVELOPMENT_KEY = "tessera development key-encryption key: not a secret"
_NONCE = 12
#: how often a process looks for a rotation
REFRESH_SECONDS = 1.0

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from joserfc.jwk import ECKey, RSAKey

    Key = RSAKey | ECKey


class KeyEncryption:
    """AES-256-GCM with a key derived (HKDF-SHA256) from the configured secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._made: AESGCM | None = None

    @property
    def _aead(self) -> "AESGCM":
        """The cipher, made by the first key encrypted or decrypted (``cryptography`` is imported then)."""
        if self._made is None:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF

            hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
            self._made = AESGCM(hkdf.derive(self._secret.encode("utf-8")))
        return self._made

    @classmethod
    def from_settings(cls, settings: Settings) -> "KeyEncryption":
        if settings.key_encryption_key:
            return cls(settings.key_encryption_key)
        if settings.production:
            raise ConfigError("TESSERA_KEY_ENCRYPTION_KEY or TESSERA_SECRET_KEY is needed to use the signing keys")
        return cls(_DEVELOPMENT_KEY)

    def encrypt(self, kid: str, private_jwk: dict[str, Any]) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, json.dumps(private_jwk).encode(), kid.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, kid: str, blob: str) -> dict[str, Any]:
        """The private JWK; :class:`~tessera.errors.ConfigError` (one line) if it cannot be decrypted."""
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(blob.encode("ascii"))
            value = json.loads(self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], kid.encode()))
        except (InvalidTag, ValueError, UnicodeError):
            raise ConfigError(
                f"the signing key {kid!r} cannot be decrypted: TESSERA_KEY_ENCRYPTION_KEY (or TESSERA_SECRET_KEY) is "
                "not the one it was encrypted with, or the stored key is corrupt"
            ) from None
        if not isinstance(value, dict):
            raise ConfigError(f"the signing key {kid!r} is corrupt")
        return value


@dataclasses.dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    key: "Key" = dataclasses.field(repr=False)


def _generate(alg: str) -> "Key":
    from joserfc.jwk import ECKey, RSAKey

    parameters: Any = {"alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=parameters, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=parameters, private=True)
    raise ConfigError(f"the signing algorithm must be one of {', '.join(ALGORITHMS)}, not {alg!r}")


def _new_record(alg: str, encryption: KeyEncryption, now: int) -> SigningKeyRecord:
    key = _generate(alg)
    # random rather than the thumbprint: a kid says nothing about the key, and two keys never share one
    kid = f"{alg.lower()}-{secrets.token_urlsafe(12)}"
    public: dict[str, object] = {**key.as_dict(private=False), "kid": kid}
    private = {**key.as_dict(private=True), "kid": kid}
    return SigningKeyRecord(kid, alg, ACTIVE, now, None, public, encryption.encrypt(kid, private))


def rotate(
    keys: SigningKeys, encryption: KeyEncryption, alg: str = DEFAULT_ALG, *, now: int | None = None
) -> SigningKeyRecord:
    """A new active key for ``alg``; the previous active one of ``alg`` is retired in the same transaction."""
    record = _new_record(alg, encryption, int(time.time()) if now is None else now)
    keys.add(record, retire_others=True)
    return record


def ensure_keys(keys: SigningKeys, encryption: KeyEncryption, *, now: int | None = None) -> list[SigningKeyRecord]:
    """An active key for every algorithm that has none (``tessera db upgrade``); the keys made."""
    active = {record.alg for record in keys.all() if record.state == ACTIVE}
    made = []
    for alg in ALGORITHMS:
        if alg not in active:
            record = _new_record(alg, encryption, int(time.time()) if now is None else now)
            keys.add(record, retire_others=False)
            made.append(record)
    return made


def published(record: SigningKeyRecord, now: float, id_token_ttl: int) -> bool:
    """Whether the JWKS lists the key: active, or retired so recently that ID tokens it signed may be alive."""
    return record.state == ACTIVE or (record.retired_at is not None and now < record.retired_at + id_token_ttl)


class Keyring:
    """The keys of one process: the signing key per algorithm and the JWKS bytes, kept in step with the table."""

    def __init__(
        self,
        keys: SigningKeys,
        encryption: KeyEncryption,
        *,
        id_token_ttl: int,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        refresh: float = REFRESH_SECONDS,
    ) -> None:
        self._keys = keys
        self._encryption = encryption
        self._ttl = id_token_ttl
        self._clock = clock
        self._monotonic = monotonic
        self._refresh = refresh
        self._lock = threading.Lock()
        self._version: tuple[tuple[str, str], ...] | None = None
        self._records: list[SigningKeyRecord] = []
        self._decrypted: dict[str, SigningKey] = {}
        self._signing: dict[str, SigningKey] = {}
        self._published: tuple[str, ...] | None = None
        self._jwks = b'{"keys":[]}'
        self._checked = float("-inf")

    def load(self) -> None:
        """Read and decrypt every published key now: a key that cannot be decrypted fails here, at start."""
        with self._lock:
            self._reload(self._keys.version())
            self._checked = self._monotonic()

    def signing_key(self, alg: str) -> SigningKey:
        """The key that signs with ``alg`` now; one is made if there is none."""
        self._maybe_refresh()
        key = self._signing.get(alg)
        if key is None:
            with self._lock:
                if alg not in self._signing:
                    self._keys.add(_new_record(alg, self._encryption, int(self._clock())), retire_others=False)
                    self._reload(self._keys.version())
                key = self._signing[alg]
        return key

    def jwks(self) -> bytes:
        """The JWKS (RFC 7517 §5) as JSON bytes: every published key's public half. On a database with no key
        yet, the default algorithm's key is made first, so that a client never caches an empty set."""
        self._maybe_refresh()
        if DEFAULT_ALG not in self._signing:
            self.signing_key(DEFAULT_ALG)
        return self._jwks

    def verification_keys(self) -> dict[str, SigningKey]:
        """Every published key by kid (to check an ``id_token_hint``)."""
        self._maybe_refresh()
        return {kid: self._decrypted[kid] for kid in self._published or ()}

    def _maybe_refresh(self) -> None:
        now = self._monotonic()
        if now - self._checked < self._refresh:
            return
        with self._lock:
            if now - self._checked >= self._refresh:
                version = self._keys.version()
                if version != self._version:
                    self._reload(version)
                else:
                    self._publish()  # a retired key's time may have run out
                self._checked = now

    def _reload(self, version: tuple[tuple[str, str], ...]) -> None:
        records = self._keys.all()
        now = self._clock()
        for record in records:
            if record.kid not in self._decrypted and published(record, now, self._ttl):
                from joserfc.jwk import ECKey, RSAKey

                jwk = self._encryption.decrypt(record.kid, record.encrypted_private_key)
                key: Key = RSAKey.import_key(jwk) if record.alg == "RS256" else ECKey.import_key(jwk)
                self._decrypted[record.kid] = SigningKey(record.kid, record.alg, key)
        self._records = records
        signing: dict[str, SigningKey] = {}
        for record in records:  # oldest first: the newest active key of each algorithm wins
            if record.state == ACTIVE:
                signing[record.alg] = self._decrypted[record.kid]
        self._signing = signing
        self._version = version
        self._publish()

    def _publish(self) -> None:
        now = self._clock()
        kids = tuple(r.kid for r in self._records if published(r, now, self._ttl) and r.kid in self._decrypted)
        if kids != self._published:
            by_kid = {r.kid: r for r in self._records}
            document = {"keys": [by_kid[kid].public_jwk for kid in kids]}
            self._jwks = json.dumps(document, separators=(",", ":")).encode()
            self._published = kids
