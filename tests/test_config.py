"""Settings.from_env: the contract's defaults, loud one-line failures, production refusals, masked secrets."""

import dataclasses
from pathlib import Path

import pytest

from tessera.config import Secret, Settings, read_dotenv
from tessera.errors import ConfigError

GOOD_KEY = "k" * 32


def _refused(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environ)
    message = str(caught.value)
    assert message and "\n" not in message, message
    return message


def test_defaults_match_the_contract() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///tessera.db"
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.redis_url is None
    assert settings.access_token_ttl == 3600
    assert settings.refresh_token_ttl == 2_592_000
    assert settings.env == "development"
    assert not settings.production


def test_development_secret_key_is_random_and_long() -> None:
    first, second = Settings.from_env({}).secret_key, Settings.from_env({}).secret_key
    assert isinstance(first, Secret)
    assert len(first) >= 32
    assert first != second


def test_empty_values_mean_the_default() -> None:
    blank = {
        name: ""
        for name in (
            "TESSERA_DATABASE_URL",
            "TESSERA_ISSUER",
            "TESSERA_REDIS_URL",
            "TESSERA_ACCESS_TOKEN_TTL",
            "TESSERA_REFRESH_TOKEN_TTL",
            "TESSERA_ENV",
        )
    }
    settings = Settings.from_env(blank)
    defaults = Settings.from_env({})
    assert dataclasses.replace(settings, secret_key=defaults.secret_key) == defaults


def test_values_are_read() -> None:
    settings = Settings.from_env(
        {
            "TESSERA_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:5432/tessera",
            "TESSERA_ISSUER": "https://auth.example.com/",
            "TESSERA_SECRET_KEY": GOOD_KEY,
            "TESSERA_REDIS_URL": "redis://127.0.0.1:6379/0",
            "TESSERA_ACCESS_TOKEN_TTL": " 600 ",
            "TESSERA_REFRESH_TOKEN_TTL": "86400",
            "TESSERA_ENV": "production",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u@127.0.0.1:5432/tessera"
    assert settings.issuer == "https://auth.example.com"  # no trailing slash: RFC 8414 §3.3 compares exactly
    assert settings.secret_key == GOOD_KEY
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.access_token_ttl == 600
    assert settings.refresh_token_ttl == 86400
    assert settings.production


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.access_token_ttl = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", ["TESSERA_ACCESS_TOKEN_TTL", "TESSERA_REFRESH_TOKEN_TTL"])
@pytest.mark.parametrize("value", ["abc", "1.5", "1e3", "60s", "0", "-1", "-3600", "999999999999"])
def test_bad_ttl_is_refused_naming_the_variable(name: str, value: str) -> None:
    assert name in _refused({name: value})


def test_session_lifetimes_default_to_half_an_hour_idle_and_twelve_hours_in_all() -> None:
    settings = Settings.from_env({})
    assert (settings.session_idle_timeout, settings.session_max_age) == (1800, 43200)
    chosen = Settings.from_env({"TESSERA_SESSION_IDLE_TIMEOUT": "600", "TESSERA_SESSION_MAX_AGE": " 3600 "})
    assert (chosen.session_idle_timeout, chosen.session_max_age) == (600, 3600)
    blank = Settings.from_env({"TESSERA_SESSION_IDLE_TIMEOUT": "", "TESSERA_SESSION_MAX_AGE": " "})
    assert (blank.session_idle_timeout, blank.session_max_age) == (1800, 43200)


@pytest.mark.parametrize("name", ["TESSERA_SESSION_IDLE_TIMEOUT", "TESSERA_SESSION_MAX_AGE"])
@pytest.mark.parametrize("value", ["abc", "30m", "1.5", "0", "-60", "59", "31536001"])
def test_bad_session_lifetime_is_refused_naming_the_variable(name: str, value: str) -> None:
    message = _refused({name: value})
    assert message.startswith(name), message


@pytest.mark.parametrize("value", ["prod", "Production", "dev", "test", "staging"])
def test_bad_env_is_refused(value: str) -> None:
    message = _refused({"TESSERA_ENV": value})
    assert "TESSERA_ENV" in message


@pytest.mark.parametrize(
    "value",
    [
        "ftp://auth.example.com",
        "auth.example.com",
        "127.0.0.1:8000",
        "http://",
        "https:///path",
        "http://[::1",
        "http://127.0.0.1:notaport",
        "http://127.0.0.1:8000/?tenant=a",
        "http://127.0.0.1:8000/#top",
    ],
)
def test_bad_issuer_is_refused(value: str) -> None:
    assert "TESSERA_ISSUER" in _refused({"TESSERA_ISSUER": value})


@pytest.mark.parametrize(
    "value",
    [
        "mysql://u@127.0.0.1/tessera",
        "postgres+asyncpg://u@127.0.0.1/tessera",
        "postgresql+psycopg2://u@127.0.0.1/tessera",
        "postgresqlx://u@127.0.0.1/tessera",
        "sqlite:",
        "sqlite://host/tessera.db",
        "tessera.db",
        "/var/lib/tessera.db",
    ],
)
def test_bad_database_url_is_refused(value: str) -> None:
    assert "TESSERA_DATABASE_URL" in _refused({"TESSERA_DATABASE_URL": value})


def test_database_url_error_does_not_echo_a_password() -> None:
    message = _refused({"TESSERA_DATABASE_URL": "mysql://tessera:hunter2@127.0.0.1/tessera"})
    assert "hunter2" not in message


@pytest.mark.parametrize(
    "value",
    [
        "sqlite:///tessera.db",
        "sqlite:////var/lib/tessera/tessera.db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://postgres@127.0.0.1:5432/tessera",
    ],
)
def test_good_database_urls_are_kept(value: str) -> None:
    assert Settings.from_env({"TESSERA_DATABASE_URL": value}).database_url == value


def test_plain_postgresql_url_uses_psycopg_3() -> None:
    """psycopg 3 is the driver Tessera installs; SQLAlchemy 2.0 would pick the absent psycopg2 for plain URLs."""
    settings = Settings.from_env({"TESSERA_DATABASE_URL": "postgresql://u@127.0.0.1/tessera"})
    assert settings.database_url == "postgresql+psycopg://u@127.0.0.1/tessera"


@pytest.mark.parametrize("value", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis:/x", "memcached://127.0.0.1"])
def test_bad_redis_url_is_refused(value: str) -> None:
    assert "TESSERA_REDIS_URL" in _refused({"TESSERA_REDIS_URL": value})


@pytest.mark.parametrize(
    "value",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://cache.example.com:6380/1",
        "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3/mymaster",
        "redis+sentinel://:s3cret@sentinel.example.com/mymaster/2?sentinel_password=other",
    ],
)
def test_good_redis_url_is_kept(value: str) -> None:
    assert Settings.from_env({"TESSERA_REDIS_URL": value}).redis_url == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379", "names the master after the hosts"),
        ("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/", "names the master after the hosts"),
        ("redis+sentinel://10.0.0.1:port/mymaster", "host:port separated by commas"),
        ("redis+sentinel://10.0.0.1:26379,,10.0.0.2/mymaster", "host:port separated by commas"),
        ("redis+sentinel://10.0.0.1/mymaster/zero", "/service_name/db (a number)"),
        ("redis+sentinel://10.0.0.1/mymaster/0/1", "/service_name/db (a number)"),
        ("redis+sentinel://10.0.0.1/mymaster?socket_timeout=1", "only sentinel_password"),
    ],
)
def test_bad_sentinel_url_is_refused_in_one_line(value: str, message: str) -> None:
    refused = _refused({"TESSERA_REDIS_URL": value})
    assert refused.startswith("TESSERA_REDIS_URL: ") and message in refused


def test_a_sentinel_url_never_repeats_its_password() -> None:
    refused = _refused({"TESSERA_REDIS_URL": "redis+sentinel://:hunter2@10.0.0.1:x/mymaster"})
    assert "hunter2" not in refused


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("postgresql+psycopg://u@10.0.0.1:5432,10.0.0.2:5432/tessera", "name several hosts in the query"),
        ("postgresql://u@/tessera?host=10.0.0.1&host=10.0.0.2&target_session_attrs=any", "read-write or primary"),
        ("postgresql://u@10.0.0.1/tessera?target_session_attrs=standby", "read-write or primary"),
    ],
)
def test_database_url_that_could_reach_a_standby_is_refused(value: str, message: str) -> None:
    assert message in _refused({"TESSERA_DATABASE_URL": value})


def test_several_postgresql_hosts_in_the_query_are_kept() -> None:
    url = "postgresql+psycopg://u@/tessera?host=10.0.0.1:5432&host=10.0.0.2:5432&target_session_attrs=read-write"
    assert Settings.from_env({"TESSERA_DATABASE_URL": url}).database_url == url


def _production(**extra: str) -> dict[str, str]:
    return {"TESSERA_ENV": "production", "TESSERA_ISSUER": "https://auth.example.com", **extra}


def test_production_requires_a_secret_key() -> None:
    assert "TESSERA_SECRET_KEY" in _refused(_production())
    assert "TESSERA_SECRET_KEY" in _refused(_production(TESSERA_SECRET_KEY=""))


def test_production_refuses_a_short_secret_key() -> None:
    assert "TESSERA_SECRET_KEY" in _refused(_production(TESSERA_SECRET_KEY="k" * 31))
    assert Settings.from_env(_production(TESSERA_SECRET_KEY="k" * 32)).secret_key == "k" * 32


@pytest.mark.parametrize("issuer", ["http://auth.example.com", "http://10.0.0.5:8000", "http://0.0.0.0:8000"])
def test_production_refuses_plain_http_off_loopback(issuer: str) -> None:
    assert "TESSERA_ISSUER" in _refused(_production(TESSERA_SECRET_KEY=GOOD_KEY, TESSERA_ISSUER=issuer))


@pytest.mark.parametrize(
    "issuer",
    ["https://auth.example.com", "https://auth.example.com:8443/tenant", "http://127.0.0.1:8000", "http://[::1]:8000"],
)
def test_production_accepts_https_and_loopback_http(issuer: str) -> None:
    settings = Settings.from_env(_production(TESSERA_SECRET_KEY=GOOD_KEY, TESSERA_ISSUER=issuer))
    assert settings.production and settings.issuer == issuer


def test_development_accepts_a_short_key_and_plain_http() -> None:
    settings = Settings.from_env({"TESSERA_SECRET_KEY": "short", "TESSERA_ISSUER": "http://auth.example.com"})
    assert settings.secret_key == "short" and not settings.production


def test_secret_repr_masks_the_value() -> None:
    secret = Secret("hunter2-hunter2-hunter2-hunter2-x")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in repr([secret])
    assert str(secret) == "hunter2-hunter2-hunter2-hunter2-x"  # still usable where the value is needed


def test_settings_repr_does_not_show_the_secret_key() -> None:
    settings = Settings.from_env({"TESSERA_SECRET_KEY": "s3cr3t-value-that-must-not-leak-0123"})
    assert "s3cr3t" not in repr(settings)
    assert "s3cr3t" not in f"{settings!r}"
    assert str(settings.secret_key) == "s3cr3t-value-that-must-not-leak-0123"


def test_read_dotenv_adds_missing_variables_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "\n".join(
            [
                "# a comment",
                "",
                "TESSERA_ACCESS_TOKEN_TTL=600",
                "export TESSERA_ISSUER=https://auth.example.com",
                'TESSERA_SECRET_KEY="quoted value with = sign"',
                "TESSERA_REDIS_URL='redis://127.0.0.1:6379/2'",
                "TESSERA_ENV=production",
                "not a line with an equals sign",
            ]
        ),
        encoding="utf-8",
    )
    environ = {"TESSERA_ENV": "development", "TESSERA_REFRESH_TOKEN_TTL": "100"}
    read_dotenv(dotenv, environ)
    assert environ == {
        "TESSERA_ENV": "development",  # already set: the environment wins
        "TESSERA_REFRESH_TOKEN_TTL": "100",
        "TESSERA_ACCESS_TOKEN_TTL": "600",
        "TESSERA_ISSUER": "https://auth.example.com",
        "TESSERA_SECRET_KEY": "quoted value with = sign",
        "TESSERA_REDIS_URL": "redis://127.0.0.1:6379/2",
    }
    settings = Settings.from_env(environ)
    assert settings.access_token_ttl == 600 and settings.refresh_token_ttl == 100 and not settings.production


def test_read_dotenv_keeps_an_empty_environment_value(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TESSERA_REDIS_URL=redis://127.0.0.1:6379/0\n", encoding="utf-8")
    environ = {"TESSERA_REDIS_URL": ""}
    read_dotenv(dotenv, environ)
    assert environ == {"TESSERA_REDIS_URL": ""}


def test_read_dotenv_without_a_file_changes_nothing(tmp_path: Path) -> None:
    environ = {"TESSERA_ENV": "development"}
    read_dotenv(tmp_path / "missing.env", environ)
    read_dotenv(tmp_path, environ)  # a directory is not a file either
    assert environ == {"TESSERA_ENV": "development"}


def test_server_sizes_and_log_level_are_read_and_checked() -> None:
    settings = Settings.from_env({"TESSERA_THREADS": "8", "TESSERA_POOL_SIZE": "12", "TESSERA_LOG_LEVEL": "warning"})
    assert (settings.threads, settings.pool_size, settings.log_level) == (8, 12, "WARNING")
    assert (Settings().threads, Settings().pool_size, Settings().log_level) == (4, 5, "INFO")
    assert "TESSERA_THREADS" in _refused({"TESSERA_THREADS": "0"})
    assert "TESSERA_POOL_SIZE" in _refused({"TESSERA_POOL_SIZE": "many"})
    assert "TESSERA_LOG_LEVEL" in _refused({"TESSERA_LOG_LEVEL": "verbose"})
    assert Settings().prepared_statements is True
    assert Settings.from_env({"TESSERA_PREPARED_STATEMENTS": "OFF"}).prepared_statements is False
    assert "TESSERA_PREPARED_STATEMENTS must be one of on, off" in _refused({"TESSERA_PREPARED_STATEMENTS": "0"})


def test_settings_for_a_command_skip_only_what_a_server_needs() -> None:
    """A command that runs no server reads production settings without a secret key or an https issuer; the
    other rules still hold, and a server refuses such settings."""
    from tessera.app import create_app

    environ = {"TESSERA_ENV": "production", "TESSERA_ISSUER": "http://auth.example.com"}
    assert "TESSERA_SECRET_KEY" in _refused(environ)
    settings = Settings.from_env(environ, for_server=False)
    assert settings.production and not settings.for_server and settings.issuer == "http://auth.example.com"
    with pytest.raises(ConfigError, match="^TESSERA_ACCESS_TOKEN_TTL"):
        Settings.from_env({**environ, "TESSERA_ACCESS_TOKEN_TTL": "soon"}, for_server=False)
    with pytest.raises(ConfigError, match="read for a command, not a server"):
        create_app(settings)
    assert Settings.from_env({}, for_server=False).for_server is False  # in development a server may use them


def test_password_blocklist_is_a_path_read_only_by_the_commands_that_set_passwords(tmp_path: Path) -> None:
    assert Settings.from_env({}).password_blocklist is None
    assert Settings.from_env({"TESSERA_PASSWORD_BLOCKLIST": " "}).password_blocklist is None
    missing = tmp_path / "missing.txt"
    # a server sets no password, so a list it cannot read does not stop it
    assert Settings.from_env({"TESSERA_PASSWORD_BLOCKLIST": f" {missing} "}).password_blocklist == missing


def test_dpop_nonces_are_off_by_default_and_on_or_off_is_all_that_is_read() -> None:
    assert Settings.from_env({}).dpop_nonce is False
    assert Settings.from_env({"TESSERA_DPOP_NONCE": "on"}).dpop_nonce is True
    assert Settings.from_env({"TESSERA_DPOP_NONCE": "OFF"}).dpop_nonce is False
    message = _refused({"TESSERA_DPOP_NONCE": "maybe"})
    assert "TESSERA_DPOP_NONCE" in message and "\n" not in message


def test_registration_settings() -> None:
    default = Settings.from_env({})
    assert default.registration == "off"
    assert default.registration_scopes == ("openid", "profile", "email", "api")
    assert default.registration_limit == "10/hour;50/day"
    chosen = Settings.from_env(
        {
            "TESSERA_REGISTRATION": " Open ",
            "TESSERA_REGISTRATION_SCOPES": "api  api mcp:read",
            "TESSERA_REGISTRATION_LIMIT": "off",
        }
    )
    assert (chosen.registration, chosen.registration_scopes) == ("open", ("api", "mcp:read"))
    assert chosen.registration_limit == "off"
    assert "TESSERA_REGISTRATION must be off, token or open" in _refused({"TESSERA_REGISTRATION": "yes"})
    assert "TESSERA_REGISTRATION_SCOPES" in _refused({"TESSERA_REGISTRATION_SCOPES": 'api "quoted"'})
    assert "TESSERA_REGISTRATION_LIMIT" in _refused({"TESSERA_REGISTRATION_LIMIT": "lots"})


def test_the_purge_pause_is_seconds_with_a_fraction() -> None:
    assert Settings.from_env({}).purge_pause == 0.05
    assert Settings.from_env({"TESSERA_PURGE_PAUSE": "0"}).purge_pause == 0
    assert Settings.from_env({"TESSERA_PURGE_PAUSE": "0.5"}).purge_pause == 0.5
    assert _refused({"TESSERA_PURGE_PAUSE": "soon"}) == "TESSERA_PURGE_PAUSE must be a number of seconds, not 'soon'"
    for bad in ("-1", "11", "nan", "inf"):
        assert _refused({"TESSERA_PURGE_PAUSE": bad}).startswith("TESSERA_PURGE_PAUSE must be between 0 and 10")
