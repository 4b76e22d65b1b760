"""``tessera clients create|update --post-logout-redirect-uri``: where OpenID Connect sign-out may send people back
to (RP-Initiated Logout 1.0 §3.1), under the rules of redirect URIs, shown by ``clients list --json``."""

from tessera.store import Store
from tests.test_cli import Cli


def test_create_update_and_list_post_logout_redirect_uris(cli: Cli, store: Store) -> None:
    created = cli.json(
        "clients", "create", "--name", "RP", "--redirect-uri", "https://rp.example/cb", "--scope", "openid",
        "--post-logout-redirect-uri", "https://rp.example/bye", "--post-logout-redirect-uri", "http://127.0.0.1:9/bye",
    )  # fmt: skip
    assert created["post_logout_redirect_uris"] == ["https://rp.example/bye", "http://127.0.0.1:9/bye"]
    client_id = created["client_id"]
    (listed,) = cli.json("clients", "list")
    assert listed["post_logout_redirect_uris"] == ["https://rp.example/bye", "http://127.0.0.1:9/bye"]
    cli.ok("clients", "update", client_id, "--post-logout-redirect-uri", "https://rp.example/v2/bye")
    record = store.clients.get(client_id)
    assert record is not None and record.post_logout_redirect_uris == ("https://rp.example/v2/bye",)
    cli.ok("clients", "update", client_id, "--name", "RP 2")  # not given: kept
    record = store.clients.get(client_id)
    assert record is not None and record.post_logout_redirect_uris == ("https://rp.example/v2/bye",)


def test_a_client_without_any_has_none(cli: Cli, store: Store) -> None:
    created = cli.json("clients", "create", "--name", "RP", "--redirect-uri", "https://rp.example/cb")
    assert created["post_logout_redirect_uris"] == []


def test_a_bad_post_logout_redirect_uri_is_one_line_and_creates_nothing(cli: Cli, store: Store) -> None:
    for uri, words in [
        ("https://rp.example/bye#top", "post-logout redirect URI 'https://rp.example/bye#top' must not have"),
        ("javascript:alert(1)", "must be an absolute http(s) URL"),
        ("https://good.example@evil.example/", "no '@' there"),
    ]:
        line = cli.fails(
            "clients", "create", "--name", "RP", "--redirect-uri", "https://rp.example/cb",
            "--post-logout-redirect-uri", uri,
        )  # fmt: skip
        assert words in line
    line = cli.fails(
        "clients", "create", "--name", "RP", "--redirect-uri", "https://rp.example/cb",
        "--post-logout-redirect-uri", "http://rp.example/bye", TESSERA_ENV="production",
    )  # fmt: skip
    assert "must be https:// in production" in line
    assert store.clients.all() == []
