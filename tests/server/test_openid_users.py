"""Who a user is to OpenID Connect clients: a random ``subject`` that is never reassigned (also introspection's
``sub``), an e-mail address and a name set with ``tessera users``, and the migration that brings them."""

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select, text

from tessera.errors import InvalidAccount
from tessera.server.accounts import check_email, check_name
from tessera.store import Store, make_engine, upgrade
from tessera.store.models import scopes, users
from tests.conftest import RegisteredClient
from tests.server.conftest import introspect, user_tokens

_SUBJECT = re.compile(r"[A-Za-z0-9_-]{22}")


def test_introspection_sub_is_the_users_subject_never_the_row_id(
    client: FlaskClient, store: Store, web_client: RegisteredClient, service: RegisteredClient, user: object
) -> None:
    alice = store.users.by_name("alice")
    assert alice is not None and _SUBJECT.fullmatch(alice.subject)
    tokens = user_tokens(client, web_client)
    answer = introspect(client, service, tokens["access_token"])
    assert answer["sub"] == alice.subject != str(alice.id)
    assert answer["username"] == "alice"


def test_email_and_name_rules() -> None:
    assert check_email("a.b+tag@mail.example.org") == "a.b+tag@mail.example.org"
    assert check_name("Zoë Ångström") == "Zoë Ångström"
    for bad in ("@example.com", "a@", "a@@example.com", "a..b@example.com", "a@-x.com", "x" * 250 + "@e.com"):
        with pytest.raises(InvalidAccount):
            check_email(bad)
    with pytest.raises(InvalidAccount):
        check_name("x" * 201)


def test_the_migration_gives_every_user_a_subject_and_declares_the_scopes(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0009_dpop")
        with engine.begin() as conn:
            for name in ("alice", "bob", "carol"):
                conn.execute(insert(users).values(username=name, password_hash="h", disabled=False, created_at=0))
            # an operator declared 'profile' with words of their own, and 'email' with none
            conn.execute(insert(scopes).values(name="profile", description="Your name", is_default=False, created_at=0))
            conn.execute(insert(scopes).values(name="email", description="", is_default=False, created_at=0))
        upgrade(engine)
        with engine.connect() as conn:
            subjects = conn.execute(text("SELECT subject FROM users")).scalars().all()
            described = dict(conn.execute(select(scopes.c.name, scopes.c.description)).all())
        assert len(set(subjects)) == 3 and all(_SUBJECT.fullmatch(s) for s in subjects)
        assert described["profile"] == "Your name"  # kept
        assert described["email"] == "See your e-mail address"  # filled in
        assert described["openid"] == "Sign you in with your account here"
        assert Store(engine).users.by_name("bob") is not None
    finally:
        engine.dispose()
