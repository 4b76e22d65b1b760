"""PostgreSQL primary and streaming standby, failed over under load: two ``tessera serve`` nodes reach the database
through one multi-host URL (``?host=primary&host=standby&target_session_attrs=read-write``), clients issue,
introspect and revoke tokens all along, the primary crashes and, 2 seconds later, the standby is promoted. The
nodes answer 503 ``temporarily_unavailable`` (with ``Retry-After``), never anything else, and only during the
switch; while only the standby runs, introspection too answers 503 (nothing is read there); then they write and
read on the new primary by themselves.

What a write answered 200 becomes depends on the replication: the standby is cut off (a frozen link) for a moment
before the primary crashes, as when it lags or the network between them fails. With synchronous replication
(``synchronous_standby_names``) nothing is answered 200 before the standby has it, so every token issued
introspects active after the switch and every one revoked inactive; with asynchronous replication the writes
answered while the standby was cut off are lost with the old primary, and only those: tokens issued then are
unknown, and tokens revoked then are active again.

The cluster is Debian's PostgreSQL (``initdb``, ``pg_basebackup -R``, ``pg_ctl promote``) in a temporary
directory on free loopback ports; the machine's own PostgreSQL is never touched. PostgreSQL refuses to run as
root, so a test run as root runs it as the ``postgres`` user (``runuser``), in a directory of its own. Skipped
where the binaries (or, as root, that user) are missing. Figures are printed (``pytest -s``) and kept in the
test's report (``record_property``).
"""

import contextlib
import glob
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import unused_port
from tests.server.test_several_nodes import TESSERA, Process, _cli, _within
from tests.tcp_proxy import TcpProxy


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _runner() -> list[str] | None:
    """The command prefix that runs PostgreSQL's programs: as this user, or as ``postgres`` when root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


BIN = _bin_dir()
AS_POSTGRES = _runner()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BIN is None, reason="PostgreSQL's server programs are not installed (/usr/lib/postgresql)"),
    pytest.mark.skipif(AS_POSTGRES is None, reason="running as root needs a 'postgres' user and runuser"),
]


@dataclass
class Pair:
    """A primary and a standby replicating from it through a proxy (so the link can be frozen)."""

    root: Path
    ports: dict[str, int]
    proxy: TcpProxy
    synchronous: bool

    @property
    def url(self) -> str:
        hosts = "&".join(f"host=127.0.0.1:{self.ports[name]}" for name in ("primary", "standby"))
        return f"postgresql+psycopg://postgres@/tessera?{hosts}&target_session_attrs=read-write"

    def run(self, program: str, *args: str) -> str:
        assert BIN is not None and AS_POSTGRES is not None
        done = subprocess.run(
            [*AS_POSTGRES, str(BIN / program), *args], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        assert done.returncode == 0, f"{program} {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def sql(self, name: str, statement: str) -> list[tuple[object, ...]]:
        with psycopg.connect(
            host="127.0.0.1", port=self.ports[name], user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            cursor = conn.execute(statement.encode())
            return cursor.fetchall() if cursor.description else []

    def crash(self, name: str) -> None:
        """Kill every process of the server ``name`` at once (SIGKILL), as when its machine fails: its clients'
        connections are reset, and nothing more is written or sent to the standby."""
        postmaster = int((self.root / name / "postmaster.pid").read_text().split()[0])
        children = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _parent(entry) == postmaster
        ]
        for pid in [postmaster, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def replication(self) -> list[tuple[object, ...]]:
        return self.sql("primary", "SELECT state, sync_state FROM pg_stat_replication")


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _conf(path: Path, **values: object) -> None:
    with path.open("a") as conf:
        for key, value in values.items():
            conf.write(f"{key} = {value!r}\n" if isinstance(value, str) else f"{key} = {value}\n")


@contextlib.contextmanager
def _pair(synchronous: bool) -> Iterator[Pair]:
    root = Path(tempfile.mkdtemp(prefix="tessera-ha-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    ports = {"primary": unused_port(), "standby": unused_port()}
    proxy = TcpProxy(ports["primary"])
    pair = Pair(root, ports, proxy, synchronous)
    started: list[str] = []
    try:
        pair.run("initdb", "-D", "primary", "-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions")
        _conf(
            root / "primary" / "postgresql.conf",
            port=ports["primary"],
            listen_addresses="127.0.0.1",
            unix_socket_directories=str(root),
            fsync="off",  # a crash here is of the process, not the machine: what reached the OS is kept
            shared_buffers="16MB",
            max_connections=60,
            wal_keep_size="128MB",
        )
        pair.run("pg_ctl", "-D", "primary", "-l", "primary.log", "-w", "start")
        started.append("primary")
        pair.sql("primary", "CREATE DATABASE tessera")
        pair.run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(ports["primary"]), "-U", "postgres", "-D", "standby"),
            *("-R", "-X", "stream", "-c", "fast", "--no-sync"),
        )
        _conf(
            root / "standby" / "postgresql.auto.conf",
            port=ports["standby"],
            primary_conninfo=f"host=127.0.0.1 port={proxy.port} user=postgres application_name=standby",
        )
        pair.run("pg_ctl", "-D", "standby", "-l", "standby.log", "-w", "start")
        started.append("standby")
        _within(30, lambda: [row[0] for row in pair.replication()] == ["streaming"])
        if synchronous:
            pair.sql("primary", "ALTER SYSTEM SET synchronous_standby_names = 'standby'")
            pair.sql("primary", "SELECT pg_reload_conf()")
            _within(30, lambda: pair.replication() == [("streaming", "sync")])
        yield pair
    finally:
        proxy.close()
        for name in started:
            with contextlib.suppress(AssertionError):
                pair.run("pg_ctl", "-D", name, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Answer:
    kind: str  # "token" or "introspect"
    started: float
    ended: float
    status: int
    token: str | None = None
    retry_after: str | None = None
    error: str | None = None


@dataclass
class Load:
    """A few clients issuing tokens (each request on the next node), introspecting those they got and revoking
    some of them, until stopped."""

    nodes: list[str]
    caller: dict[str, str]
    api: dict[str, str]
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self, clients: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]
        for thread in threads:
            thread.start()
        return threads

    def _client(self, number: int) -> None:
        mine: list[str] = []
        turn = number
        with httpx.Client(timeout=30) as http:
            while not self.stopping.is_set():
                turn += 1
                node = self.nodes[turn % len(self.nodes)]
                started = time.monotonic()
                token = None
                try:
                    if not mine or turn % 2:
                        response = http.post(
                            node + "/oauth/token",
                            data={"grant_type": "client_credentials", "scope": "api"},
                            auth=(self.caller["client_id"], self.caller["client_secret"]),
                        )
                        kind = "token"
                    elif turn % 4 == 0 and len(mine) > 1:
                        token = mine.pop(random.randrange(len(mine)))  # introspected no more: it may be revoked
                        response = http.post(
                            node + "/oauth/revoke",
                            data={"token": token},
                            auth=(self.caller["client_id"], self.caller["client_secret"]),
                        )
                        kind = "revoke"
                    else:
                        response = http.post(
                            node + "/oauth/introspect",
                            data={"token": random.choice(mine)},
                            auth=(self.api["client_id"], self.api["client_secret"]),
                        )
                        kind = "introspect"
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__} from {node}")
                    continue
                answer = Answer(kind, started, time.monotonic(), response.status_code, token)
                if response.status_code == 200 and kind == "token":
                    answer.token = response.json()["access_token"]
                    mine.append(answer.token)
                elif response.status_code != 200:
                    answer.retry_after = response.headers.get("Retry-After")
                    with contextlib.suppress(ValueError):
                        answer.error = response.json().get("error")
                self.answers.append(answer)
                # bounded load: a pause between requests, longer after a 503 (as a client honouring a short
                # Retry-After would, without waiting the whole second)
                time.sleep(0.02 if response.status_code == 200 else 0.05)


def _introspects_active(node: httpx.Client, api: dict[str, str], token: str) -> bool:
    response = node.post("/oauth/introspect", data={"token": token}, auth=(api["client_id"], api["client_secret"]))
    assert response.status_code == 200, response.text
    return bool(response.json()["active"])


@pytest.mark.parametrize("replication", ["asynchronous", "synchronous"])
def test_nodes_follow_a_promoted_standby_answering_503_only_during_the_switch(
    replication: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    synchronous = replication == "synchronous"
    with _pair(synchronous) as pair:
        settings = {
            "TESSERA_DATABASE_URL": pair.url,
            "TESSERA_ISSUER": "http://127.0.0.1:8000",
            "TESSERA_SECRET_KEY": secrets.token_urlsafe(32),
        }
        _cli(["db", "upgrade"], settings)
        create = ["clients", "create", "--grant-type", "client_credentials", "--json"]
        api = json.loads(_cli([*create, "--name", "API", "--introspect"], settings))
        caller = json.loads(_cli([*create, "--name", "Caller"], settings))
        base = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        nodes = []
        for name in ("a", "b"):
            port = unused_port()
            nodes.append(
                Process(
                    f"node {name}",
                    f"http://127.0.0.1:{port}",
                    [str(TESSERA), "serve", "--port", str(port), "--workers", "1"],
                    base | settings,
                    tmp_path / f"node-{name}.log",
                )
            )
        load = Load([node.base_url for node in nodes], caller, api)
        try:
            for node in nodes:
                node.start("/healthz")
            threads = load.run(clients=4)
            time.sleep(3)

            frozen = time.monotonic()
            pair.proxy.freeze()  # the standby hears nothing more, as when it lags or its link fails
            time.sleep(1)
            crashed = time.monotonic()
            pair.crash("primary")
            pair.proxy.cut()
            time.sleep(2)  # as a failover manager takes a moment to decide; the standby answers, read-only
            promoting = time.monotonic()
            pair.run("pg_ctl", "-D", "standby", "-w", "promote")
            promoted = time.monotonic()

            def written_again() -> bool:
                return any(a.kind == "token" and a.status == 200 and a.started > promoted for a in load.answers)

            _within(30, written_again)
            recovered = min(
                a.ended for a in load.answers if a.kind == "token" and a.status == 200 and a.started > promoted
            )
            time.sleep(3)  # everything from now on must succeed
            load.stopping.set()
            for thread in threads:
                thread.join(timeout=60)

            answers = list(load.answers)
            assert not load.failures, load.failures[:5]
            unexpected = [(a.kind, a.status) for a in answers if a.status not in (200, 503)]
            assert not unexpected, unexpected[:10]
            unavailable = [a for a in answers if a.status == 503]
            assert all(a.retry_after and a.error == "temporarily_unavailable" for a in unavailable)
            assert all(crashed <= a.ended for a in unavailable), "503 before the primary stopped"
            late = [a for a in answers if a.started > recovered + 1 and a.status != 200]
            assert not late, f"{len(late)} answers other than 200 more than 1 s after the nodes wrote again"
            assert unavailable, "the switch went unnoticed: the test did not test it"
            # while only the standby ran, nothing was read there: introspection too answered 503
            standby_reads = [
                a for a in answers if a.status == 200 and crashed + 0.1 < a.started and a.ended < promoting
            ]
            assert not standby_reads, f"{len(standby_reads)} answers 200 while no primary ran"
            assert any(a.kind == "introspect" and crashed < a.started and a.ended < promoting for a in unavailable)

            issued = [a for a in answers if a.kind == "token" and a.status == 200]
            assert issued and all(a.token for a in issued)
            revocations = [a for a in answers if a.kind == "revoke"]
            revoked = {a.token for a in revocations if a.status == 200}
            unknown = {a.token for a in revocations if a.status != 200}  # the answer was lost, maybe not the revocation
            with httpx.Client(base_url=nodes[0].base_url, timeout=30) as survivor:
                lost = [
                    a
                    for a in issued
                    if a.token not in revoked | unknown and not _introspects_active(survivor, api, str(a.token))
                ]
                undone = [
                    a for a in revocations if a.token in revoked and _introspects_active(survivor, api, str(a.token))
                ]
            during = [a for a in answers if a.status == 200 and a.kind != "introspect" and frozen < a.started < crashed]
            if synchronous:
                assert not lost, f"{len(lost)} token(s) answered 200 are not active on the new primary"
                assert not undone, f"{len(undone)} revocation(s) answered 200 are undone on the new primary"
                assert not during, "a write was answered 200 while the synchronous standby could not confirm it"
            else:
                # what the standby never received is gone with the old primary: those, and only those; a token
                # revoked then is active again on the new primary, till it expires
                assert all(a.started > frozen - 0.5 for a in lost + undone), "a write made before the lag was lost"
                issued_before = {a.token for a in issued if a.ended < frozen - 0.5}
                gone = [a for a in during if a.kind == "token" and a.token not in revoked | unknown] + [
                    a for a in during if a.kind == "revoke" and a.token in issued_before
                ]
                assert gone and all(a in lost + undone for a in gone), "a write made then survived"
            figures = {
                "promote (pg_ctl promote -w), s": promoted - promoting,
                "crash to first token issued on the new primary (2 s of it waiting to promote), s": recovered - crashed,
                "promoted to first token issued on the new primary, s": recovered - promoted,
                "answers 503": len(unavailable),
                "answers 200": len(answers) - len(unavailable),
                "tokens answered 200": len(issued),
                "of which not active after the switch": len(lost),
                "revocations answered 200": len(revoked),
                "of which undone (the token active again) after the switch": len(undone),
                "tokens and revocations answered 200 while the standby was cut off (1 s)": len(during),
            }
            for name, value in figures.items():
                record_property(f"{replication}: {name}", round(value, 3))
                print(
                    f"postgres failover, {replication}, {name}: {value if isinstance(value, int) else round(value, 3)}"
                )
        finally:
            load.stopping.set()
            for node in nodes:
                node.stop()
            for node in nodes:
                assert "Traceback" not in node.log(), node.log()
