"""One engine interface. An engine turns a build request into a process that talks to BuildKit
(`Invocation`), starts it in its own process group (`EngineProcess`), and can always stop it:
`cancel()` sends SIGINT to the whole group (buildctl and buildx then cancel the solve, so BuildKit
records it as cancelled), escalating to SIGTERM and SIGKILL if the group does not go away."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

from ..builders import Builder

if TYPE_CHECKING:
    from ..runner import BuildRequest

DOCKER_CONFIG_PLACEHOLDER = '"${DOCKER_CONFIG:-$HOME/.docker}"'
CANCEL_GRACE_S = 4.0
KILL_AFTER_S = 3.0
# Output is read in chunks of up to 1 MiB from a pipe enlarged to 1 MiB (Linux's default cap for
# unprivileged processes): with the defaults (8 KiB reads, 64 KiB pipe) a log-heavy build costs
# thousands of reads, and the reading thread gives up the GIL on each one and waits for it again
# while the dashboard's UI thread holds it (bench_dashboard: 40 MB replay 3.5 s -> 1.6-2.2 s).
READ_CHUNK = 1 << 20
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ (Python >= 3.10 names it; Linux only)

_live_groups: set[int] = set()
_live_lock = threading.Lock()


def live_process_groups() -> list[int]:
    with _live_lock:
        return list(_live_groups)


def kill_live_groups(sig: int = signal.SIGTERM) -> None:
    """For a SIGTERM handler: stop every engine process group this process started."""
    for pgid in live_process_groups():
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def group_alive(pgid: int) -> bool:
    """True while any process is still in the group (zombies do not count)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry.name}/stat", "rb").read().decode(errors="replace")
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[-1].split()
        if len(rest) > 3 and rest[0] != "Z" and int(rest[2]) == pgid:
            return True
    return False


@dataclass
class Invocation:
    """A process to run: argv, extra environment, and the progress format it writes."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    progress_format: str = "rawjson"
    cwd: str | None = None
    stdin_path: str | None = None  # a file fed to stdin (an LLB definition)

    def shell(self, redact_env: dict[str, str] | None = None) -> str:
        """The command as one pasteable shell line; `redact_env` replaces values (e.g. DOCKER_CONFIG)."""
        redact_env = redact_env or {}
        parts = []
        for k, v in self.env.items():
            parts.append(f"{k}={redact_env[k]}" if k in redact_env else f"{k}={shlex.quote(v)}")
        argv = [os.path.basename(self.argv[0]), *self.argv[1:]] if self.argv else []
        return " ".join(parts + [shlex.join(argv)])


class EngineProcess:
    """A running engine: yields its output lines, can be cancelled from any thread."""

    def __init__(self, inv: Invocation):
        env = dict(os.environ)
        env.update(inv.env)
        self.invocation = inv
        self.cancelled = False
        stdin = open(inv.stdin_path, "rb") if inv.stdin_path else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(inv.argv, stdin=stdin, stdout=subprocess.PIPE, bufsize=READ_CHUNK,
                                          stderr=subprocess.STDOUT, env=env, cwd=inv.cwd, start_new_session=True)
        finally:
            if stdin is not subprocess.DEVNULL:
                stdin.close()
        _enlarge_pipe(self._proc.stdout)
        self.pgid = self._proc.pid
        with _live_lock:
            _live_groups.add(self.pgid)

    def lines(self) -> Iterator[str]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[str]]:
        """The output as lists of whole lines, one list per read of the pipe: a flood arrives in a
        few large lists, a trickle line by line."""
        assert self._proc.stdout is not None
        return line_batches(os.read, self._proc.stdout.fileno())

    def wait(self) -> int:
        rc = self._proc.wait()
        self._reap_group()
        return rc

    def cancel(self) -> None:
        self.cancelled = True
        _stop_group(self.pgid, self._proc.poll)

    def kill(self) -> None:
        """SIGKILL the group at once: for an engine that never reached BuildKit (nothing to cancel
        cleanly; a client still dialling may not even act on SIGINT)."""
        self.cancelled = True
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _reap_group(self) -> None:
        # buildctl/buildx leave no children of their own, but make sure the group is gone
        # (no member at all, not even a zombie: killpg says so without reading every /proc entry)
        if _group_has_members(self.pgid) and group_alive(self.pgid):
            _stop_group(self.pgid, lambda: None)
        with _live_lock:
            _live_groups.discard(self.pgid)


def _group_has_members(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def line_batches(read: Callable[[int, int], bytes], fd: int, size: int = READ_CHUNK) -> Iterator[list[str]]:
    """Whole lines (decoded, without their line ending) from `read(fd, size)` until it returns
    b"", one list per read that completed at least one line; a last unterminated line comes alone."""
    pending: list[bytes] = []
    while True:
        chunk = read(fd, size)
        if not chunk:
            break
        cut = chunk.rfind(b"\n")
        if cut < 0:
            pending.append(chunk)
            continue
        if pending:
            pending.append(chunk[:cut])
            text = b"".join(pending).decode(errors="replace")
        else:
            text = chunk[:cut].decode(errors="replace")
        pending = [chunk[cut + 1:]] if cut + 1 < len(chunk) else []
        lines = text.split("\n")
        yield [line.rstrip("\r") for line in lines] if "\r" in text else lines
    if pending:
        yield [b"".join(pending).decode(errors="replace").rstrip("\r\n")]


def _enlarge_pipe(stream) -> None:
    """Best effort: a bigger pipe means fewer, larger reads (and the engine blocks less on a full
    pipe). Not Linux, or over /proc/sys/fs/pipe-max-size: the default pipe is used."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", F_SETPIPE_SZ), READ_CHUNK)
    except (ImportError, OSError, ValueError, AttributeError):
        pass


def _stop_group(pgid: int, poll: Callable[[], int | None]) -> None:
    """SIGINT the group (a clean BuildKit cancel), then SIGTERM, then SIGKILL, in a watchdog thread."""

    def send(sig: int) -> bool:
        try:
            os.killpg(pgid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    if not send(signal.SIGINT):
        return

    def escalate() -> None:
        for sig, wait_s in ((signal.SIGTERM, CANCEL_GRACE_S), (signal.SIGKILL, KILL_AFTER_S)):
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                poll()
                if not group_alive(pgid):
                    return
                time.sleep(0.1)
            if not send(sig):
                return

    threading.Thread(target=escalate, name=f"cancel-{pgid}", daemon=True).start()


class Engine(ABC):
    """Build a request on a builder. Subclasses give the invocation; `start` runs it."""

    name: str = ""
    progress_format: str = "rawjson"

    def __init__(self, builder: Builder):
        self.builder = builder
        self.notes: list[str] = []

    def prepare(self, request: "BuildRequest", docker_config: str | None, log: Callable[[str], None]) -> None:
        """Work before the build (a plan, a frontend image, a buildx builder). Default: nothing."""

    def cleanup(self) -> None:
        """Remove whatever `prepare` made (called after the build, also on errors and cancel)."""

    @abstractmethod
    def invocation(self, request: "BuildRequest", docker_config: str | None) -> Invocation:
        """The process to run; `docker_config` is the temporary Docker config directory (or None)."""

    def start(self, request: "BuildRequest", docker_config: str | None) -> EngineProcess:
        return EngineProcess(self.invocation(request, docker_config))

    def command_line(self, request: "BuildRequest") -> str:
        inv = self.invocation(request, "/placeholder")
        return inv.shell({"DOCKER_CONFIG": DOCKER_CONFIG_PLACEHOLDER})


def cache_option(kind: str, ref: str, request: "BuildRequest") -> str:
    """`type=registry,ref=R[,mode=M][,ignore-error=true]` for --import-cache/--export-cache style flags."""
    opt = f"type=registry,ref={ref}"
    if kind == "export":
        opt += f",mode={request.mode}"
        if request.ignore_export_error:
            opt += ",ignore-error=true"
    return opt
