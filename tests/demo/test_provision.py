from pathlib import Path

from tessera.demo.provision import DATABASE_FILE, fresh_database, provision
from tessera.passwords import verify_password
from tessera.store import Store, make_engine, upgrade
from tessera.tokens import digest


def test_a_fresh_database_replaces_an_earlier_demo(tmp_path: Path) -> None:
    for name in (DATABASE_FILE, DATABASE_FILE + "-wal", "keep.txt"):
        (tmp_path / name).write_text("old")
    url = fresh_database(tmp_path)
    assert url == f"sqlite:///{tmp_path / DATABASE_FILE}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_provision_creates_the_user_the_two_clients_and_the_resource(tmp_path: Path) -> None:
    engine = make_engine(fresh_database(tmp_path))
    upgrade(engine)
    store = Store(engine)
    clients = provision(store, redirect_uri="http://127.0.0.1:8002/authorize", resource="http://127.0.0.1:8001/")
    user = store.users.by_name("demo")
    assert user is not None and verify_password(user.password_hash, "demo")
    app, api = store.clients.get(clients.app_id), store.clients.get(clients.api_id)
    assert app is not None and api is not None
    assert app.redirect_uris == ("http://127.0.0.1:8002/authorize",)
    assert set(app.grant_types) == {"authorization_code", "refresh_token"}
    assert app.scope == "openid profile api restricted" and not app.may_introspect and not app.public
    assert app.secret_digest == digest(str(clients.app_secret))
    assert api.grant_types == ("client_credentials",) and api.may_introspect
    assert api.secret_digest == digest(str(clients.api_secret))
    assert "tsr_cs_" not in repr(clients)  # secrets are masked
    # declared as `tessera scopes` would: what the demo app's consent page says of each
    assert [(s.name, s.description, s.default) for s in store.scopes.all()] == [
        ("api", "Use the API on your behalf", True),
        ("email", "See your e-mail address", False),
        ("openid", "Sign you in with your account here", False),
        ("profile", "See your username and name", False),
        ("restricted", "Reach restricted parts of the API", False),
    ]
    assert [(r.uri, r.name, r.scope) for r in store.resources.all()] == [("http://127.0.0.1:8001/", "Demo API", None)]
    engine.dispose()
