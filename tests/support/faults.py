"""Helpers for the fault tests: a private sandbox (its own buildkitd and registry, free to kill),
slow projects whose running step can be found in /proc, and /proc walks for leftover processes."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from railpack_tui.core import credentials, example
from railpack_tui.core import sandbox as sandbox_mod


@contextmanager
def private_sandbox() -> Iterator[Path]:
    """A second sandbox in its own directory (never the session one): tests may kill its daemons;
    `restart(d)` brings them back. Its credential is kept in this process's session memory."""
    d = Path(tempfile.mkdtemp(prefix="rt-fault-sbx-", dir="/tmp"))
    try:
        restart(d)
        yield d
    finally:
        loaded = sandbox_mod.load(d)
        if loaded is not None:
            credentials.forget(loaded.registry, loaded.username)
        sandbox_mod.down(d)
        left = sandbox_mod.mounts_under(d)  # a killed buildkitd's step mounts: down detaches them
        shutil.rmtree(d, ignore_errors=True)
        assert left == [], f"sandbox down left {len(left)} mounts under {d}"


def restart(d: Path) -> sandbox_mod.SandboxInfo:
    info = sandbox_mod.up(d)
    cred = sandbox_mod.sandbox_credential(info)
    assert cred is not None, "the private sandbox stored no credential"
    credentials.remember(cred)
    return info


def info(d: Path) -> sandbox_mod.SandboxInfo:
    loaded = sandbox_mod.load(d)
    assert loaded is not None
    return loaded


def kill_daemon(d: Path, which: str) -> int:
    """SIGKILL the private sandbox's `buildkitd` or `registry` (no clean shutdown) and reap it."""
    daemon = info(d).buildkitd if which == "buildkitd" else info(d).registry_daemon
    assert daemon is not None
    os.kill(daemon.pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(daemon.pid), 10, f"{which} did not die")
    return daemon.pid


def slow_project(root: Path, seconds: int = 60, token: str | None = None) -> tuple[Path, str]:
    """A tiny project (busybox from scratch) whose last RUN prints a token and sleeps: the token
    is in that step's process arguments, so `find_process(token)` sees when the step really runs."""
    token = token or uuid.uuid4().hex
    d = root / f"slow-{token[:8]}"
    d.mkdir(parents=True)
    shutil.copy2(example.find_busybox(), d / "busybox")
    # a busybox of its own (trailing bytes do not change how the ELF runs): BuildKit keeps the
    # snapshots of cancelled builds even through `prune --all`, so a shared `COPY busybox` left
    # cached by a cancelled fault test made a later test's pruned, cold build report it cached
    with open(d / "busybox", "ab") as fh:
        fh.write(b"\0railpack-tui-fault-" + token.encode())
    (d / "Dockerfile").write_text(
        "FROM scratch\nCOPY --chmod=755 busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "sh", "-c", "echo {token}; /bin/busybox sleep {seconds}; echo done > /done"]\n')
    return d, token


def wait_until(pred: Callable[[], object], timeout: float, what: str = "condition", every: float = 0.1):
    """Poll `pred` until it is truthy (returns its value); fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        time.sleep(every)


# --- /proc ----------------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        raw = open(f"/proc/{pid}/stat", "rb").read().decode(errors="replace")
    except OSError:
        return None
    return raw.rsplit(")", 1)[-1].split()


def pid_alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def cmdline(pid: int) -> bytes:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return b""


def processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, pgid, state) for every live process."""
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and len(st) > 3:
                out[int(entry.name)] = (int(st[1]), int(st[2]), st[0])
    return out


def descendants(root: int) -> set[int]:
    procs = processes()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        kids = {p for p, (ppid, _, state) in procs.items() if ppid in frontier and state != "Z" and p not in found}
        found |= kids
        frontier = kids
    return found


def in_groups(pgids: set[int]) -> list[int]:
    return [p for p, (_, pgid, state) in processes().items() if pgid in pgids and state != "Z"]


def find_process(token: str) -> list[int]:
    """Live processes whose arguments hold `token` (e.g. a build step's `sh -c "echo TOKEN ..."`)."""
    needle = token.encode()
    return [p for p, (_, _, state) in processes().items() if state != "Z" and needle in cmdline(p)]


def temp_docker_configs(tmpdir: Path) -> list[Path]:
    """Temporary Docker configs (core/dockerconfig.py) left under `tmpdir`."""
    return sorted(tmpdir.glob("railpack-tui-docker-*"))


async def until(pilot, predicate, what: str, limit: int = 600) -> None:
    """Let a Textual app run until `predicate()` holds (bounded: `limit` pauses of 0.1 s)."""
    for _ in range(limit):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"never happened: {what}")
