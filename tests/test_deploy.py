"""The deployment recipes in ``deploy/`` do what docs/deployment.md says, as far as this machine allows without
systemd running them or Docker building them: the unit passes ``systemd-analyze verify`` and its command line is
one ``tessera`` accepts, the example settings are valid production settings, and the Dockerfile's build stage,
run as plain shell commands, gives a venv whose ``tessera`` migrates a database, serves, and passes the image's
health check."""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import pytest

from tessera.cli import main
from tessera.config import Settings

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "tessera.service"
ENV_EXAMPLE = ROOT / "deploy" / "tessera.env.example"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _unit_value(key: str) -> str:
    (value,) = [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]
    return value


def _parsed(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The subcommand and its parameters, as ``tessera`` would parse ``argv`` (a bad option raises)."""
    name, *rest = argv
    with main.make_context("tessera", [name]) as ctx:
        command = main.get_command(ctx, name)
        assert command is not None, name
        with command.make_context(name, rest, parent=ctx) as sub:
            return name, sub.params


def test_the_units_command_line_is_one_tessera_accepts() -> None:
    argv = shlex.split(_unit_value("ExecStart"))
    assert argv[0] == "/opt/tessera/bin/tessera"
    name, params = _parsed(argv[1:])
    assert name == "serve"
    assert params["host"] == "127.0.0.1" and params["workers"] == 2 and params["metrics_port"] == 9108
    with pytest.raises(click.UsageError):  # the check parses for real: a misspelt option would fail it
        _parsed([*argv[1:], "--purge-intervall", "60"])


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "tessera.service"  # the same unit, with this checkout's tessera where /opt/tessera would be
    unit.write_text(UNIT.read_text().replace("/opt/tessera/bin/tessera", str(Path(sys.executable).parent / "tessera")))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "tessera.service" not in result.stderr, result.stderr


def test_the_example_settings_are_valid_production_settings() -> None:
    env = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    settings = Settings.from_env(env)
    assert settings.production and settings.issuer == "https://auth.example.com"
    assert settings.trusted_proxies == 1 and settings.purge_interval == 3600 and settings.redis_url
    assert settings.database_url.startswith("postgresql+psycopg://")


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_containers_command_line_is_one_tessera_accepts() -> None:
    found = dict(_instructions())  # the last of each keyword: the final stage's
    assert json.loads(found["ENTRYPOINT"]) == ["tessera"]
    name, params = _parsed(json.loads(found["CMD"]))
    assert name == "serve" and params["host"] == "0.0.0.0" and params["port"] == 8000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_the_build_stage_gives_a_venv_that_migrates_serves_and_passes_the_health_check(tmp_path: Path) -> None:
    instructions = _instructions()
    build = instructions[: next(i for i, (k, _) in enumerate(instructions[1:], 1) if k == "FROM")]
    src, venv = tmp_path / "src", tmp_path / "opt-tessera"
    src.mkdir()
    for keyword, args in build:  # COPY what the recipe copies, and nothing else; RUN what it runs
        if keyword == "COPY":
            *sources, dest = args.split()
            target = src / dest.removeprefix("./") if dest not in ("./", ".") else src
            for source in sources:
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(ROOT / source, src / Path(source).name)
        elif keyword == "RUN":
            command = (
                args.replace("/opt/tessera", str(venv))
                .replace("/src", str(src))
                .replace("python ", f"{sys.executable} ", 1)
            )
            done = subprocess.run(command, shell=True, cwd=src, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | {
        "TESSERA_DATABASE_URL": f"sqlite:///{tmp_path / 'tessera.db'}",
        "TESSERA_ISSUER": f"http://127.0.0.1:{port}",
        "TESSERA_SECRET_KEY": "x" * 40,
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
    }
    upgraded = subprocess.run(["tessera", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert upgraded.returncode == 0 and "Created the schema" in upgraded.stdout, upgraded.stderr
    final = dict(instructions)
    argv = json.loads(final["ENTRYPOINT"]) + json.loads(final["CMD"])
    argv = [a.replace("0.0.0.0", "127.0.0.1").replace("8000", str(port)) for a in argv]
    health = json.loads(final["HEALTHCHECK"].split("CMD", 1)[1])
    health = [a.replace("8000", str(port)) for a in health]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(health, env=env, capture_output=True, timeout=30).returncode != 0:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the health check never passed"
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0, log.read_text()
