"""Leaked tokens reported by secret scanners, in the format of GitHub's secret scanning partner program.

GitHub (or anyone who speaks its format) finds a string that looks like a Tessera token in a public place and
POSTs a JSON array of ``{"token", "type", "url", "source"}`` to the ``leak_report_endpoint`` of the metadata, signed
with ECDSA P-256 / SHA-256 over the raw body: the ``Github-Public-Key-Identifier`` header names the key, the
``Github-Public-Key-Signature`` header carries the signature, base64 of its DER encoding. The keys are those of
``TESSERA_LEAK_REPORT_KEYS``, a JSON file shaped like the list GitHub publishes
(``{"public_keys": [{"key_identifier": ..., "key": "-----BEGIN PUBLIC KEY-----...", "is_current": ...}]}``),
which may be saved as it is. A key no longer current still verifies (GitHub signs with the current one, and a
report in flight may have been signed just before a rotation).

The answer lists one ``{"token_raw", "token_type", "label"}`` per reported token: ``true_positive`` for a Tessera
access or refresh token that worked until now, which is then revoked with its whole family (every token of that
authorization), announced to every resource-server cache and written to the ``tessera.audit`` logger;
``false_positive`` for anything else: another issuer's string, a mistyped one, a token already revoked or expired.
What is answered depends only on the reported string itself, so a report tells nothing about any other token.

``tessera tokens report-leak`` runs the same judgement on tokens read from standard input.
"""

import base64
import binascii
import dataclasses
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tessera.errors import ConfigError
from tessera.server.audit import AuditTrail, Event
from tessera.store import Tokens
from tessera.tokens import MalformedToken, TokenKind, digest, parse

if TYPE_CHECKING:  # imported here only when report keys are read
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

__all__ = [
    "FALSE_POSITIVE",
    "MAX_TOKENS",
    "TRUE_POSITIVE",
    "LeakJudge",
    "Reported",
    "ReportKeys",
    "Verdict",
    "parse_report",
]


TRUE_POSITIVE = "true_positive"
FALSE_POSITIVE = "false_positive"
#: tokens in one report; GitHub sends them in small batches
MAX_TOKENS = 1000
_MAX_FIELD = 4096


class ReportKeys:
    """The public keys reports are signed with, by identifier."""

    def __init__(self, keys: "dict[str, EllipticCurvePublicKey]") -> None:
        self.keys = keys

    @classmethod
    def from_file(cls, path: Path) -> "ReportKeys":
        """Read GitHub's published list as saved; :class:`ConfigError` (one line) if it cannot be used."""
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        name = "TESSERA_LEAK_REPORT_KEYS"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None
        except ValueError:
            raise ConfigError(f"{name}: {path} is not JSON") from None
        entries = document.get("public_keys") if isinstance(document, dict) else None
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f'{name}: {path} must hold {{"public_keys": [...]}} with at least one key')
        keys: dict[str, EllipticCurvePublicKey] = {}
        for entry in entries:
            identifier = entry.get("key_identifier") if isinstance(entry, dict) else None
            pem = entry.get("key") if isinstance(entry, dict) else None
            if not isinstance(identifier, str) or not identifier or not isinstance(pem, str):
                raise ConfigError(f"{name}: every key needs a key_identifier and a key (PEM)")
            try:
                key = load_pem_public_key(pem.encode())
            except ValueError:
                raise ConfigError(f"{name}: key {identifier[:16]!r} is not a PEM public key") from None
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
                raise ConfigError(f"{name}: key {identifier[:16]!r} is not an ECDSA P-256 key")
            keys[identifier] = key
        return cls(keys)

    def verify(self, identifier: str | None, signature: str | None, body: bytes) -> bool:
        """Whether ``signature`` (base64 DER) by the key ``identifier`` is good for ``body``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        key = self.keys.get(identifier or "")
        if key is None or not signature:
            return False
        try:
            der = base64.b64decode(signature, validate=True)
            key.verify(der, body, ec.ECDSA(hashes.SHA256()))
        except (binascii.Error, ValueError, InvalidSignature):
            return False
        return True


@dataclasses.dataclass(frozen=True)
class Reported:
    """One entry of a report."""

    token: str
    type: str = ""
    url: str = ""
    source: str = ""


@dataclasses.dataclass(frozen=True)
class Verdict:
    token_raw: str
    token_type: str
    label: str

    def as_json(self) -> dict[str, str]:
        return {"token_raw": self.token_raw, "token_type": self.token_type, "label": self.label}


def parse_report(body: bytes) -> list[Reported]:
    """The entries of a report; ``ValueError`` with a one-line reason for anything else."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("The report is not JSON.") from None
    if not isinstance(value, list):
        raise ValueError("The report must be a JSON array of {token, type, url, source}.")
    if len(value) > MAX_TOKENS:
        raise ValueError(f"A report holds at most {MAX_TOKENS} tokens.")
    entries = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise ValueError("Each entry must be an object with a string 'token'.")
        fields = {name: item.get(name, "") for name in ("token", "type", "url", "source")}
        if not all(isinstance(v, str) and len(v) <= _MAX_FIELD for v in fields.values()):
            raise ValueError("'token', 'type', 'url' and 'source' must be strings of at most 4096 characters.")
        entries.append(Reported(**fields))
    return entries


class LeakJudge:
    """Judges reported tokens and revokes the live ones with their families.

    ``revoke_grant`` revokes a family and tells the caches (the server's
    :meth:`~tessera.server.context.Revocations.revoke_grant`, or the CLI's store and publisher)."""

    def __init__(
        self,
        tokens: Tokens,
        revoke_grant: Callable[[str], list[str]],
        *,
        now: Callable[[], int],
        audit: "AuditTrail",
    ) -> None:
        self._tokens = tokens
        self._revoke_grant = revoke_grant
        self._now = now
        self._audit = audit

    def judge(self, reported: Iterable[Reported], *, via: str) -> list[Verdict]:
        return [self._one(entry, via) for entry in reported]

    def _one(self, entry: Reported, via: str) -> Verdict:
        live = self._live(entry.token.strip())
        if live is None:
            return Verdict(entry.token, entry.type, FALSE_POSITIVE)
        grant_id, client_id, username, token_digest = live
        revoked = self._revoke_grant(grant_id)
        self._audit.emit(
            Event.TOKEN_LEAK_REPORTED,
            client_id=client_id,
            user=username,
            reason="revoked",
            detail={
                "via": via,
                "token": token_digest[:8],  # never the token: the first characters of its digest
                "revoked": len(revoked),
                "type": entry.type[:100],
                "url": entry.url[:500],
                "source": entry.source[:100],
            },
        )
        return Verdict(entry.token, entry.type, TRUE_POSITIVE)

    def _live(self, token: str) -> tuple[str, str, str | None, str] | None:
        """The family, client, username (as every audit event names a user) and digest of a token that works
        right now; None for anything else."""
        try:
            kind = parse(token)
        except MalformedToken:
            return None
        token_digest = digest(token)
        now = self._now()
        if kind is TokenKind.ACCESS:
            live = self._tokens.active(token_digest, now) is not None
        elif kind is TokenKind.REFRESH:
            record = self._tokens.refresh(token_digest)
            live = (
                record is not None
                and record.revoked_at is None
                and record.refresh_used_at is None
                and record.refresh_expires_at > now
            )
        else:
            return None
        ref = self._tokens.ref(token_digest, refresh=kind is TokenKind.REFRESH) if live else None
        if ref is None:
            return None
        return ref.grant_id, ref.client_id, ref.username, token_digest
