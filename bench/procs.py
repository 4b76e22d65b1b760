"""Processes the harness starts, and what /proc says about them (Linux only, stdlib only).

Every process is started in a session of its own, so a Ctrl-C in the terminal reaches only the harness, which
then stops what it started: the root process by PID first (gunicorn stops its workers), then any descendant
still alive, each by PID checked against its start time so that a reused PID is never signalled.
"""

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["Started", "cpu_seconds", "host_busy", "idle", "memory", "quiet", "tree"]

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    data = Path(f"/proc/{pid}/stat").read_text()
    return data[data.rindex(")") + 2 :].split()  # [0] state, [1] ppid, [11:15] CPU times, [19] start time


def _start_time(pid: int) -> str | None:
    try:
        return _stat(pid)[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        s = _stat(pid)
    except (OSError, IndexError):
        return False
    return s[0] != "Z" and (start is None or s[19] == start)


def tree(*roots: int) -> list[int]:
    """``roots`` and all their live descendants."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                kids.setdefault(int(_stat(int(name))[1]), []).append(int(name))
            except (OSError, ValueError, IndexError):
                continue
    out: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop(0)
        if pid not in out and os.path.exists(f"/proc/{pid}"):
            out.append(pid)
            todo.extend(kids.get(pid, []))
    return out


def cpu_seconds(*roots: int) -> float:
    """User + system CPU of the trees, including children they have reaped."""
    ticks = 0
    for pid in tree(*roots):
        try:
            s = _stat(pid)
            ticks += int(s[11]) + int(s[12]) + int(s[13]) + int(s[14])
        except (OSError, ValueError, IndexError):
            continue
    return ticks / _TICK


def host_busy() -> float:
    """CPU seconds the whole machine has been busy since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / _TICK


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(root: int) -> dict[str, float]:
    """Peak RSS (VmHWM) of the root process and of its largest child (a worker), in MiB."""
    pids = tree(root)
    children = [p for p in pids if p != root]
    worker = max((_status_kib(p, "VmHWM") for p in children), default=0)
    return {
        "processes": len(pids),
        "master_peak_mib": round(_status_kib(root, "VmHWM") / 1024, 1),
        "worker_peak_mib": round(worker / 1024, 1),
        "total_peak_mib": round(sum(_status_kib(p, "VmHWM") for p in pids) / 1024, 1),
    }


def idle(max_s: float, *roots: int) -> float:
    """Wait until the trees use under 4 % of a core over half a second (queued requests drained)."""
    start = time.monotonic()
    prev = cpu_seconds(*roots)
    while time.monotonic() - start < max_s:
        time.sleep(0.5)
        now = cpu_seconds(*roots)
        if now - prev < 0.02:
            break
        prev = now
    return round(time.monotonic() - start, 1)


def quiet(max_s: float, *roots: int) -> float:
    """Wait until everything outside the trees uses under 0.1 core for 2 s in a row (the machine is shared)."""
    start, calm = time.monotonic(), 0
    while time.monotonic() - start < max_s and calm < 4:
        b0, p0 = host_busy(), cpu_seconds(*roots)
        time.sleep(0.5)
        b1, p1 = host_busy(), cpu_seconds(*roots)
        calm = calm + 1 if ((b1 - b0) - (p1 - p0)) / 0.5 < 0.10 else 0
    return round(time.monotonic() - start, 1)


class Started:
    """The processes this run started; :meth:`stop_all` stops whatever is still running, newest first."""

    def __init__(self) -> None:
        self._procs: list[tuple[subprocess.Popen[bytes], str | None]] = []

    def start(self, argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None) -> int:
        out: IO[bytes] = open(log, "ab")  # closed below: the child keeps its own copy
        proc = subprocess.Popen(
            list(argv), env=dict(env), stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )
        out.close()
        self._procs.append((proc, _start_time(proc.pid)))
        return proc.pid

    def alive(self, pid: int) -> bool:
        for proc, start in self._procs:
            if proc.pid == pid:
                return proc.poll() is None and _alive(pid, start)
        return False

    def stop(self, pid: int, sig: int = signal.SIGTERM, wait_s: float = 15.0) -> None:
        entry = next(((p, s) for p, s in self._procs if p.pid == pid), None)
        if entry is None:
            return
        proc, start = entry
        self._procs.remove(entry)
        if proc.poll() is not None or not _alive(pid, start):
            proc.poll()
            return
        family = [(p, _start_time(p)) for p in tree(pid) if p != pid]
        proc.send_signal(sig)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        for child, child_start in family:
            if _alive(child, child_start):
                os.kill(child, signal.SIGTERM)
        time.sleep(0.2)
        for child, child_start in family:
            if _alive(child, child_start):
                os.kill(child, signal.SIGKILL)

    def stop_all(self) -> None:
        for proc, _ in reversed(list(self._procs)):
            self.stop(proc.pid)
