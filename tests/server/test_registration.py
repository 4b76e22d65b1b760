"""The rules for a client's metadata, in the one function every way of registering calls."""

import pytest

from tessera.errors import InvalidClientMetadata, InvalidRedirectUri, NotFound
from tessera.server.grants import GRANT_TYPES
from tessera.server.registration import (
    ClientChanges,
    ClientMetadata,
    describe,
    register_client,
    update_client,
)
from tessera.server.scopes import Catalogue, catalogue, create_scope
from tessera.store import Store
from tessera.tokens import TokenKind, digest, parse
from tests.conftest import REDIRECT_URI

#: the rules take the declared scopes as a value: these tests need no declaration in the database
DECLARED = Catalogue(frozenset({"api", "restricted"}), defaults=("api",))


def test_a_confidential_client_gets_a_secret_stored_as_its_digest(store: Store) -> None:
    registered = register_client(
        store.clients, ClientMetadata("Billing", grant_types=("client_credentials",)), scopes=DECLARED
    )
    assert registered.secret is not None and parse(registered.secret) is TokenKind.CLIENT_SECRET
    stored = store.clients.get(registered.record.client_id)
    assert stored == registered.record and stored.secret_digest == digest(registered.secret)
    assert describe(stored)["token_endpoint_auth_method"] == "client_secret_basic"


def test_defaults_follow_the_redirect_uris(store: Store) -> None:
    with_uri = register_client(
        store.clients, ClientMetadata("Web", redirect_uris=(REDIRECT_URI, REDIRECT_URI)), scopes=DECLARED
    )
    assert with_uri.record.grant_types == ("authorization_code", "refresh_token")
    assert with_uri.record.redirect_uris == (REDIRECT_URI,)  # repeats dropped
    machine = register_client(store.clients, ClientMetadata("Machine"), scopes=DECLARED)
    assert machine.record.grant_types == ("client_credentials",) and machine.record.scope == "api"


def test_a_public_client_has_no_secret_and_authenticates_with_none(store: Store) -> None:
    registered = register_client(
        store.clients, ClientMetadata("SPA", redirect_uris=(REDIRECT_URI,), public=True), scopes=DECLARED
    )
    assert registered.secret is None and registered.record.secret_digest is None
    assert describe(registered.record)["token_endpoint_auth_method"] == "none"


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        (ClientMetadata("App", redirect_uris=("https://a.example/cb#x",)), InvalidRedirectUri),
        (ClientMetadata("App", redirect_uris=("javascript:alert(1)",)), InvalidRedirectUri),
        (ClientMetadata("App", redirect_uris=("http://[::1/cb",)), InvalidRedirectUri),
        (ClientMetadata("App", grant_types=("authorization_code",)), InvalidRedirectUri),
        (ClientMetadata("App", grant_types=("password",)), InvalidClientMetadata),
        (ClientMetadata("App", scope="api\x7f"), InvalidClientMetadata),
        (ClientMetadata("App", scope="   "), InvalidClientMetadata),
        (ClientMetadata("\x1b[31mApp"), InvalidClientMetadata),
        (ClientMetadata("x" * 201), InvalidClientMetadata),
        (ClientMetadata("App", public=True), InvalidClientMetadata),
        (ClientMetadata("App", redirect_uris=(REDIRECT_URI,), public=True, introspect=True), InvalidClientMetadata),
    ],
)
def test_a_broken_rule_names_its_rfc_7591_error_and_stores_nothing(
    store: Store, metadata: ClientMetadata, error: type[InvalidClientMetadata]
) -> None:
    with pytest.raises(error) as raised:
        register_client(store.clients, metadata, scopes=DECLARED)
    assert raised.value.error == error.error and str(raised.value)
    assert store.clients.all() == []


def test_production_allows_plain_http_only_on_loopback(store: Store) -> None:
    with pytest.raises(InvalidRedirectUri, match="https://"):
        register_client(
            store.clients, ClientMetadata("App", ("http://app.example/cb",)), production=True, scopes=DECLARED
        )
    register_client(
        store.clients, ClientMetadata("App", ("http://127.0.0.1:8000/cb",)), production=True, scopes=DECLARED
    )


def test_every_grant_the_server_offers_may_be_registered() -> None:
    assert GRANT_TYPES == (
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    )


def test_an_update_is_checked_like_a_registration_and_keeps_identity(store: Store) -> None:
    registered = register_client(store.clients, ClientMetadata("App", (REDIRECT_URI,)), scopes=DECLARED)
    record = update_client(
        store.clients, registered.record.client_id, ClientChanges(scope="api restricted"), scopes=DECLARED
    )
    assert record.scope == "api restricted" and record.secret_digest == registered.record.secret_digest
    assert record.client_id == registered.record.client_id and record.created_at == registered.record.created_at
    with pytest.raises(InvalidRedirectUri):
        update_client(store.clients, record.client_id, ClientChanges(redirect_uris=()), scopes=DECLARED)
    assert store.clients.get(record.client_id) == record
    with pytest.raises(NotFound):
        update_client(store.clients, "no-such-client", ClientChanges(name="X"), scopes=DECLARED)


#: redirect URIs that two parsers (Python's, a browser's) could read as different places, or that no browser
#: sends back exactly as registered; each with the words the refusal must contain
AMBIGUOUS_REDIRECT_URIS = {
    "http://127.0.0.1:8002/cb\r\nSet-Cookie: a=b": "control character",
    "http://127.0.0.1:8002/cb\n": "control character",
    "http://127.0.0.1:8002/c\tb": "control character",
    "http://127.0.0.1:8002/cb\x00": "control character",
    "http://127.0.0.1:8002/cb\x7f": "control character",
    " http://127.0.0.1:8002/cb": "space",
    "http://127.0.0.1:8002/c b": "space",
    "http://evil.example\\@good.example/cb": "backslash",
    "https://good.example\\.evil.example/cb": "backslash",
    "https://good.example/cb\\..\\x": "backslash",
    "https://good.example/<cb>": "cannot hold",
    'https://good.example/"cb"': "cannot hold",
    "https://good.example/{cb}|^`": "cannot hold",
    "https://bücher.example/cb": "non-ASCII",
    "https://good.example\u3002evil.example/cb": "non-ASCII",
    "https://good.example/café": "non-ASCII",
    "https://good.example/cb%zz": "percent-encoding",
    "https://good.example/cb%": "percent-encoding",
    "https://good.example@evil.example/cb": "'@'",
    "https://user:password@good.example/cb": "'@'",
    "https://@good.example/cb": "'@'",
    "https://%65vil.example/cb": "host",
    "https://good.example!evil.example/cb": "host",
    "https://good.example;evil.example/cb": "host",
    "http://[v1.x]/cb": "host",
    "http://[fe80::1%25eth0]:8000/cb": "host",
    "http://0x7f.1/cb": "IPv4",
    "http://0x7f000001/cb": "IPv4",
    "http://2130706433/cb": "IPv4",
    "http://127.1/cb": "IPv4",
    "http://0177.0.0.1/cb": "IPv4",
    "http://good.example.0x1/cb": "IPv4",
    "http://1.2.3.4.5/cb": "IPv4",
    "https://good.example:99999/cb": "valid URL",
    "https://good.example:8O/cb": "valid URL",
}


@pytest.mark.parametrize("uri", AMBIGUOUS_REDIRECT_URIS)
def test_a_redirect_uri_parsers_could_read_differently_is_refused(store: Store, uri: str) -> None:
    with pytest.raises(InvalidRedirectUri) as raised:
        register_client(store.clients, ClientMetadata("App", redirect_uris=(REDIRECT_URI, uri)), scopes=DECLARED)
    message = str(raised.value)
    assert raised.value.error == "invalid_redirect_uri"
    assert AMBIGUOUS_REDIRECT_URIS[uri] in message, message
    assert message.isprintable() and len(message) < 300, message  # one line, whatever the URI held
    assert store.clients.all() == []
    # an update is held to the same rule, and changes nothing
    registered = register_client(store.clients, ClientMetadata("App", redirect_uris=(REDIRECT_URI,)), scopes=DECLARED)
    with pytest.raises(InvalidRedirectUri):
        update_client(store.clients, registered.record.client_id, ClientChanges(redirect_uris=(uri,)), scopes=DECLARED)
    assert store.clients.get(registered.record.client_id) == registered.record


@pytest.mark.parametrize(
    "uri",
    [
        REDIRECT_URI,
        "http://localhost:8080/callback",
        "http://[::1]:8000/cb",
        "https://app.example/cb?x=1&next=%2Fhome",
        "https://xn--bcher-kva.example/auth/callback",
        "https://App.Example:443/cb/@me;v=1,2!$'()*+=~",
        "https://a-b_c.app.example./cb",
        "https://app.example:/cb",
        "http://10.0.0.7:8002/cb",
        "https://app.example.com1/cb",
    ],
)
def test_plain_redirect_uris_are_still_accepted(store: Store, uri: str) -> None:
    registered = register_client(store.clients, ClientMetadata("App", redirect_uris=(uri,)), scopes=DECLARED)
    assert registered.record.redirect_uris == (uri,)


@pytest.mark.parametrize(
    ("scope", "words"),
    [
        ("api billing:read", "scope 'billing:read' is not declared on this server"),
        ("a b api c d e", "scopes 'a', 'b', 'c' and 2 more are not declared on this server"),
    ],
)
def test_an_undeclared_scope_is_refused_by_name_and_nothing_changes(store: Store, scope: str, words: str) -> None:
    with pytest.raises(InvalidClientMetadata) as raised:
        register_client(store.clients, ClientMetadata("App", scope=scope), scopes=DECLARED)
    assert raised.value.error == "invalid_client_metadata" and words in str(raised.value)
    assert "tessera scopes create" in str(raised.value)
    assert store.clients.all() == []
    registered = register_client(store.clients, ClientMetadata("App", scope="restricted"), scopes=DECLARED)
    with pytest.raises(InvalidClientMetadata, match=words):
        update_client(store.clients, registered.record.client_id, ClientChanges(scope=scope), scopes=DECLARED)
    assert store.clients.get(registered.record.client_id) == registered.record


def test_without_a_scope_a_client_gets_the_default_ones(store: Store) -> None:
    several = Catalogue(frozenset({"api", "profile", "restricted"}), defaults=("api", "profile"))
    registered = register_client(store.clients, ClientMetadata("App"), scopes=several)
    assert registered.record.scope == "api profile"
    with pytest.raises(InvalidClientMetadata, match="no declared scope is granted by default"):
        register_client(store.clients, ClientMetadata("App"), scopes=Catalogue(frozenset({"api"}), defaults=()))
    assert [c.client_id for c in store.clients.all()] == [registered.record.client_id]


def test_an_update_that_keeps_the_scope_does_not_check_it_again(store: Store) -> None:
    """A client keeps what it holds while other metadata changes, even a scope no longer in the catalogue."""
    registered = register_client(store.clients, ClientMetadata("App", scope="api restricted"), scopes=DECLARED)
    narrower = Catalogue(frozenset({"api"}), defaults=("api",))
    record = update_client(store.clients, registered.record.client_id, ClientChanges(name="New"), scopes=narrower)
    assert (record.name, record.scope) == ("New", "api restricted")


def test_the_catalogue_is_what_the_database_declares(store: Store) -> None:
    """On a new database ``api`` is declared and granted by default, so a client made without a scope gets it;
    the OpenID Connect scopes are declared, not granted by default."""
    assert catalogue(store.scopes) == Catalogue(frozenset({"api", "openid", "profile", "email"}), defaults=("api",))
    create_scope(store.scopes, "billing:read", "Read your invoices")
    declared = catalogue(store.scopes)
    registered = register_client(store.clients, ClientMetadata("App", scope="billing:read api"), scopes=declared)
    assert registered.record.scope == "billing:read api"
    assert register_client(store.clients, ClientMetadata("App"), scopes=declared).record.scope == "api"
