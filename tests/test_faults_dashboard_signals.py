"""SIGTERM to the dashboard process, and its terminal closing (SIGHUP), in the middle of a build:
the real `railpack-tui` dashboard runs in a pseudo-terminal against the session sandbox, `b`
starts a slow build, then the signal. The build is cancelled (no buildctl, no step process left
behind), the temporary Docker config holding the registry password is removed, the run is
recorded as cancelled, the terminal is given back (SIGTERM) and the process dies of the signal.

Before, the dashboard had no handler: it died where it stood, buildctl and the step ran on and
the config stayed in $TMPDIR. Every wait is bounded; nothing here is about speed."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import faults

pytestmark = [pytest.mark.sandbox]

LEAVE_ALT_SCREEN = b"\x1b[?1049l"


def dashboard_argv(project: Path) -> list[str]:
    script = Path(sys.executable).parent / "railpack-tui"  # the installed command, as users run it
    return [str(script), "--project", str(project)] if script.exists() else \
        [sys.executable, "-m", "railpack_tui.core", "--project", str(project)]


class Terminal:
    """A child process on a pseudo-terminal that is its controlling terminal (pty.fork)."""

    def __init__(self, argv: list[str], env: dict[str, str], size: tuple[int, int] = (120, 40)):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: exec at once
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        import fcntl
        import struct
        import termios

        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.output = bytearray()
        self.status: int | None = None

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while self.fd >= 0 and time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    self.output.extend(os.read(self.fd, 1 << 16))
                except OSError:  # the child is gone (EIO)
                    return

    def exited(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    def hang_up(self) -> None:
        """Close the terminal: the kernel sends SIGHUP to its foreground process group."""
        os.close(self.fd)
        self.fd = -1

    def kill(self) -> None:
        if not self.exited():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        if self.fd >= 0:
            os.close(self.fd)


@pytest.mark.parametrize("how", ["sigterm", "terminal-closed"])
def test_dashboard_signalled_during_a_build_leaves_nothing_behind(how, sandbox, tmp_path):
    dirs = {name: tmp_path / name for name in ("config", "data", "state", "tmp")}
    for d in dirs.values():
        d.mkdir()
    env = dict(os.environ, TERM="xterm-256color", TMPDIR=str(dirs["tmp"]),
               RAILPACK_TUI_CONFIG_DIR=str(dirs["config"]), RAILPACK_TUI_DATA_DIR=str(dirs["data"]),
               RAILPACK_TUI_STATE_DIR=str(dirs["state"]), BUILDKIT_HOST=sandbox.buildkit_host)
    project, token = faults.slow_project(tmp_path)
    term = Terminal(dashboard_argv(project), env)
    try:
        term.pump(1)
        os.write(term.fd, b"b")  # read once the dashboard is up
        deadline = time.monotonic() + 90
        while not faults.find_process(token):
            assert not term.exited(), term.output[-2000:]
            assert time.monotonic() < deadline, f"the slow step never ran: {bytes(term.output[-2000:])!r}"
            term.pump(0.2)
        engine = [p for p in faults.descendants(term.pid) if b"buildctl" in faults.cmdline(p)]
        assert engine, "the dashboard's build runs no buildctl"
        groups = {faults.processes()[p][1] for p in engine}
        assert len(faults.temp_docker_configs(dirs["tmp"])) == 1  # it holds the registry password
        shown = len(term.output)

        if how == "sigterm":
            os.kill(term.pid, signal.SIGTERM)
            want = signal.SIGTERM
        else:
            term.hang_up()
            want = signal.SIGHUP
        deadline = time.monotonic() + 30
        while not term.exited():
            assert time.monotonic() < deadline, "the dashboard did not end after the signal"
            term.pump(0.1)

        assert os.WIFSIGNALED(term.status) and os.WTERMSIG(term.status) == want, term.status
        assert faults.temp_docker_configs(dirs["tmp"]) == [], "the temporary Docker config survived"
        faults.wait_until(lambda: not [p for p in engine if faults.pid_alive(p)], 30, "buildctl exits")
        assert faults.in_groups(groups) == []
        faults.wait_until(lambda: not faults.find_process(token), 30, "the step's process is gone")
        if how == "sigterm":
            assert LEAVE_ALT_SCREEN in term.output[shown:], "the terminal was left in the dashboard's screen"
    finally:
        term.kill()

    h = subprocess.run([sys.executable, "-m", "railpack_tui.core", "history", str(project), "--json"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert "Traceback" not in h.stdout + h.stderr
    assert [r["status"] for r in json.loads(h.stdout)["runs"]] == ["cancelled"], h.stdout
