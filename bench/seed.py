"""A fresh database for one target: schema, clients and a user through the ``tessera`` command (the public
path), and pools of refresh tokens bulk-inserted straight into ``tokens`` (a benchmark, not a test).
"""

import dataclasses
import json
import secrets
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from tessera.store import Store, make_engine
from tessera.store.models import tokens as _tokens
from tessera.tokens import TokenKind, digest, mint, random_id

__all__ = ["Seeded", "bulk_refresh_pool", "drop_database", "fresh_database", "seed"]

REDIRECT_URI = "http://127.0.0.1:9/callback"


@dataclasses.dataclass(frozen=True)
class Seeded:
    """What the scenarios need: an introspecting client_credentials client and an authorization-code client
    (with refresh tokens) and the id of the user its tokens belong to."""

    cc_id: str
    cc_secret: str
    web_id: str
    web_secret: str
    user_id: int


def fresh_database(url: str) -> None:
    """Drop and recreate the database of ``url`` (PostgreSQL) or delete the SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    name = parsed.database
    if not name or name in ("postgres", "template0", "template1", "test"):
        raise SystemExit(f"refusing to drop database {name!r}: give the benchmark a database of its own")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    """Drop what :func:`fresh_database` made: the PostgreSQL database, or the SQLite files."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def _tessera(bin_dir: Path, env: Mapping[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(bin_dir / "tessera"), *args], env=dict(env), input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"tessera {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def seed(bin_dir: Path, env: Mapping[str, str], url: str) -> Seeded:
    """Schema, clients and the user, through the ``tessera`` command."""
    _tessera(bin_dir, env, "db", "upgrade")
    cc = json.loads(
        _tessera(
            bin_dir, env, "clients", "create", "--name", "bench-cc", "--grant-type", "client_credentials",
            "--scope", "api", "--introspect", "--json",
        )
    )  # fmt: skip
    web = json.loads(
        _tessera(
            bin_dir, env, "clients", "create", "--name", "bench-web", "--redirect-uri", REDIRECT_URI,
            "--grant-type", "authorization_code", "--grant-type", "refresh_token", "--scope", "api", "--json",
        )
    )  # fmt: skip
    _tessera(bin_dir, env, "users", "create", "bench", "--password-stdin", stdin=secrets.token_urlsafe(16) + "\n")
    store = Store(make_engine(url))
    user = store.users.by_name("bench")
    store.engine.dispose()
    if user is None:
        raise SystemExit("the bench user was not created")
    return Seeded(cc["client_id"], cc["client_secret"], web["client_id"], web["client_secret"], user.id)


def bulk_refresh_pool(url: str, seeded: Seeded, count: int, out: Path) -> None:
    """``count`` live token pairs of the web client for the bench user; writes one refresh-grant body per line."""
    now = int(time.time())
    rows, bodies = [], []
    for _ in range(count):
        refresh = mint(TokenKind.REFRESH)
        rows.append(
            {
                "access_digest": digest(mint(TokenKind.ACCESS)),
                "refresh_digest": digest(refresh),
                "client_id": seeded.web_id,
                "user_id": seeded.user_id,
                "scope": "api",
                "grant_id": random_id(),
                "issued_at": now,
                "expires_at": now + 3600,
                "refresh_expires_at": now + 86_400,
            }
        )
        bodies.append(f"grant_type=refresh_token&refresh_token={quote(refresh)}")
    engine = create_engine(url)
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(_tokens), rows[start : start + 5000])
    engine.dispose()
    out.write_text("\n".join(bodies) + "\n")
