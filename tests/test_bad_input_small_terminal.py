"""`railpack-tui build` on a 40x10 terminal (a real pseudo-terminal, the real sandbox): the live
progress redraws in place. Each frame moves the cursor up over the previous one; a frame taller
than the screen cannot be reached that way (its top has scrolled away), so every redraw of the
16-line frame piled up in the scrollback. Every cursor-up must fit the screen."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import uuid
from pathlib import Path

import pytest

from railpack_tui.core import example
from test_faults_dashboard_signals import Terminal

pytestmark = [pytest.mark.sandbox]

COLUMNS, ROWS = 40, 10


def test_build_progress_fits_a_40x10_terminal(sandbox, tmp_path):
    project = tmp_path / "many-steps"
    project.mkdir()
    shutil.copy2(example.find_busybox(), project / "busybox")
    token = uuid.uuid4().hex[:8]  # never cached: every step runs, the progress redraws many times
    steps = "".join(f'RUN ["/bin/busybox", "sh", "-c", "echo {token}-{i}; /bin/busybox sleep 0.2"]\n' for i in range(14))
    (project / "Dockerfile").write_text(f"FROM scratch\nCOPY --chmod=755 busybox /bin/busybox\n{steps}")
    script = Path(sys.executable).parent / "railpack-tui"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "railpack_tui.core"]
    term = Terminal(argv + ["build", str(project), "--builder", sandbox.buildkit_host],
                    dict(os.environ, TERM="xterm-256color"), size=(COLUMNS, ROWS))
    try:
        deadline = time.monotonic() + 120
        while not term.exited():
            assert time.monotonic() < deadline, "the build did not end"
            term.pump(0.1)
        term.pump(0.5)
    finally:
        term.kill()
    out = bytes(term.output).decode(errors="replace")
    assert os.WIFEXITED(term.status) and os.WEXITSTATUS(term.status) == 0, out[-2000:]
    assert "Traceback" not in out and "build: success" in out
    ups = [int(n) for n in re.findall(r"\x1b\[(\d+)F", out)]
    assert len(ups) > 3, "the progress was not redrawn in place"
    assert max(ups) <= ROWS - 1, ups
