"""The two distributions as a user gets them: built from this checkout (wheel and sdist), installed by file into
fresh virtual environments, and run there. ``tessera-oauth`` is the server (and the toolkit); its wheel runs
``tessera --version`` and starts the demo. ``tessera-oauth-resource`` is the toolkit alone: its environment has
none of the server's dependencies, is much smaller, and validates tokens by introspection against a real server.

Slow (a minute or two: two environments, their dependencies from the package index or pip's cache)."""

import os
import signal
import subprocess
import sys
import tarfile
import time
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import unused_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TESSERA = Path(sys.executable).with_name("tessera")


def _build(tmp: Path) -> dict[str, Path]:
    """Both distributions, wheel and sdist, with PyPA's ``build`` (isolated, as a package index would)."""
    out = tmp / "dist"
    for project in (ROOT, ROOT / "resource"):
        subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(out), str(project)],
            check=True,
            capture_output=True,
            text=True,
        )
    files = {path.name: path for path in out.iterdir()}
    return {
        "server-wheel": files["tessera_oauth-0.1.0-py3-none-any.whl"],
        "server-sdist": files["tessera_oauth-0.1.0.tar.gz"],
        "resource-wheel": files["tessera_oauth_resource-0.1.0-py3-none-any.whl"],
        "resource-sdist": files["tessera_oauth_resource-0.1.0.tar.gz"],
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _build(tmp_path_factory.mktemp("build"))


def _venv(path: Path, *requirements: str) -> Path:
    venv.create(path, with_pip=True)
    python = path / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        check=True,
        capture_output=True,
        text=True,
    )
    return python


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def test_each_distribution_holds_what_it_should(built: dict[str, Path]) -> None:
    server = set(zipfile.ZipFile(built["server-wheel"]).namelist())
    assert {"tessera/app/__init__.py", "tessera/resource/core.py", "tessera/py.typed"} <= server
    assert "tessera/server/common_passwords.txt" in server  # the password policy's built-in list
    assert any(name.startswith("tessera/store/migrations/versions/") for name in server)
    assert any(name.startswith("tessera/web/templates/") for name in server)
    entry_points = next(n for n in server if n.endswith("entry_points.txt"))
    assert "tessera = tessera.cli:main" in zipfile.ZipFile(built["server-wheel"]).read(entry_points).decode()

    toolkit = {n for n in zipfile.ZipFile(built["resource-wheel"]).namelist() if not n.endswith("/")}
    packaged = {n for n in toolkit if not n.startswith("tessera_oauth_resource-")}
    assert packaged == {
        "tessera/__init__.py",
        "tessera/py.typed",
        "tessera/errors.py",
        "tessera/events.py",
        "tessera/streams.py",
        "tessera/dpop.py",
        "tessera/redisurl.py",
        *(f"tessera/tokens/{n}" for n in ("__init__.py", "format.py", "hashing.py")),
        *(f"tessera/resource/{p.name}" for p in (ROOT / "src/tessera/resource").glob("*.py")),
    }
    for sdist, must in (
        (built["server-sdist"], "src/tessera/app/__init__.py"),
        (built["resource-sdist"], "src/tessera/resource/core.py"),
    ):
        names = tarfile.open(sdist).getnames()
        assert any(name.endswith(must) for name in names), (sdist.name, must)


@pytest.fixture(scope="module")
def server_env(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(tmp_path_factory.mktemp("server-env") / "venv", str(built["server-wheel"]))


@pytest.fixture(scope="module")
def toolkit_env(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(tmp_path_factory.mktemp("toolkit-env") / "venv", f"{built['resource-wheel']}[flask]")


def test_the_server_wheel_runs_the_command_and_the_demo(server_env: Path, tmp_path: Path) -> None:
    tessera = server_env.with_name("tessera")
    version = subprocess.run([str(tessera), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "tessera, version 0.1.0"
    ports = [unused_port() for _ in range(3)]
    args = ["demo", "--auth-port", str(ports[0]), "--api-port", str(ports[1]), "--app-port", str(ports[2])]
    demo = subprocess.Popen(
        [str(tessera), *args, "--data-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert _answers(f"http://127.0.0.1:{ports[2]}/", timeout=60), "the demo app did not answer"
        page = httpx.get(f"http://127.0.0.1:{ports[2]}/", timeout=5)
        assert page.status_code == 200 and "Log in" in page.text
    finally:
        demo.send_signal(signal.SIGTERM)
        output, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, output
    assert "Tessera demo is running." in output and "Traceback" not in output


def test_the_toolkit_alone_is_smaller_and_validates_tokens_by_introspection(
    server_env: Path, toolkit_env: Path, running_server: tuple[str, str, str, str]
) -> None:
    base, client_id, secret, token = running_server
    missing = subprocess.run([str(toolkit_env), "-c", "import sqlalchemy"], capture_output=True, text=True, check=False)
    assert missing.returncode != 0 and "No module named 'sqlalchemy'" in missing.stderr
    script = f"""
from tessera.resource import IntrospectionSource, InvalidToken, TokenCache, TokenValidator
validator = TokenValidator(TokenCache(IntrospectionSource({base!r}, {client_id!r}, {secret!r}), ttl=0))
token = validator.validate("Bearer {token}", ("api",))
print("subject", token.subject, token.scope)
try:
    validator.validate("Bearer tsr_at_" + "A" * 49, ("api",))
except InvalidToken:
    print("refused")

from flask import Flask
from tessera.resource import ResourceMetadata
from tessera.resource.flask import ResourceProtector
metadata = ResourceMetadata("http://127.0.0.1:9/mcp", [{base!r}], ["api"])
app = Flask("api")
ResourceProtector(validator, metadata=metadata).init_app(app)
print("metadata", app.test_client().get("/.well-known/oauth-protected-resource/mcp").json["authorization_servers"])
try:  # this server binds no token to a resource yet: a validator that wants one refuses them all
    TokenValidator(validator.source, audience=metadata.resource).validate("Bearer {token}", ("api",))
except InvalidToken as exc:
    print(exc.description)
"""
    result = subprocess.run([str(toolkit_env), "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"subject {client_id} api",
        "refused",
        f"metadata {[base]}",
        "The access token was not issued for this resource.",
    ]
    server_size, toolkit_size = _size(server_env.parent.parent), _size(toolkit_env.parent.parent)
    # measured: about 150 MB against 42 MB (a bare venv is about 26 MB)
    assert toolkit_size * 2 < server_size, (toolkit_size, server_size)


@pytest.fixture
def running_server(tmp_path: Path) -> Iterator[tuple[str, str, str, str]]:
    """``tessera serve`` from this checkout, with a client that may introspect and one of its tokens."""
    import json

    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")},
        "TESSERA_DATABASE_URL": f"sqlite:///{tmp_path / 'tessera.db'}",
        "TESSERA_ISSUER": base,
    }
    subprocess.run([str(TESSERA), "db", "upgrade"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [str(TESSERA), "clients", "create", "--name", "API", "--introspect", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    client = json.loads(created.stdout)
    server = subprocess.Popen(
        [str(TESSERA), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _answers(base + "/healthz", timeout=30)
        issued = httpx.post(
            base + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
        yield base, client["client_id"], client["client_secret"], issued.json()["access_token"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _answers(url: str, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False
