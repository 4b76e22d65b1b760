"""With ``TESSERA_ENV=production``, each command applies the production rules for the values it uses: only
``tessera serve`` needs the secret key and the issuer, ``clients create`` the rules for redirect URIs."""

from typing import Any

import pytest

from tessera.config import Settings
from tests.test_cli import Cli

#: what an administrator's shell may well have: production, the public issuer's name, and no secret key
ADMIN_SHELL = {"TESSERA_ENV": "production", "TESSERA_ISSUER": "http://auth.example.com", "TESSERA_SECRET_KEY": ""}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """``tessera serve`` up to the point where it would start granian: the settings it would serve with."""
    import tessera.app.serve

    calls: list[Settings] = []
    monkeypatch.setattr(tessera.app.serve, "run", lambda settings, **_: calls.append(settings))
    return calls


def test_commands_that_run_no_server_need_no_secret_key_nor_an_https_issuer(cli: Cli) -> None:
    admin = Cli({**cli.env, **ADMIN_SHELL})
    assert admin.ok("db", "upgrade").stdout.startswith("Created the schema")
    admin.ok("users", "create", "alice", "--password-stdin", input="violet kettle drum\n")
    assert admin.ok("users", "list").stdout == "alice\n"
    created = admin.ok("clients", "create", "--name", "Service", "--json")
    assert '"client_secret": "tsr_cs_' in created.stdout
    assert admin.ok("tokens", "revoke", "--user", "alice").stdout == "Nothing to revoke.\n"
    assert "Disabled alice" in admin.ok("users", "disable", "alice").stdout
    admin.ok("tokens", "purge")


def test_the_production_rules_for_redirect_uris_still_apply_without_a_secret_key(cli: Cli, store: Any) -> None:
    admin = Cli({**cli.env, **ADMIN_SHELL})
    error = admin.fails("clients", "create", "--name", "App", "--redirect-uri", "http://app.example/cb")
    assert "must be https:// in production" in error
    assert cli.json("clients", "list") == []
    admin.ok("clients", "create", "--name", "App", "--redirect-uri", "https://app.example/cb")


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({}, "Error: TESSERA_SECRET_KEY is required when TESSERA_ENV=production"),
        ({"TESSERA_SECRET_KEY": "k" * 31}, "Error: TESSERA_SECRET_KEY must be at least 32 characters in production"),
        (
            {"TESSERA_SECRET_KEY": "k" * 32},
            "Error: TESSERA_ISSUER must be https:// in production (http only on loopback)",
        ),
    ],
)
def test_serve_still_refuses_to_start_with_an_insecure_default(
    cli: Cli, served: list[Settings], env: dict[str, str], error: str
) -> None:
    assert Cli({**cli.env, **ADMIN_SHELL, **env}).fails("serve") == error
    assert served == []


def test_serve_starts_with_what_production_needs(cli: Cli, served: list[Settings]) -> None:
    cli.ok("serve", TESSERA_ENV="production", TESSERA_ISSUER="https://auth.example.com", TESSERA_SECRET_KEY="k" * 32)
    (settings,) = served
    assert settings.production and settings.for_server and settings.secret_key == "k" * 32
