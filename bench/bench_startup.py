"""Start-up, against a bare interpreter start measured in the same run:

- `railpack-tui --version` (target <= 0.2 s);
- the dashboard's first frame (target <= 1.0 s): `railpack-tui --project COPY` of the bundled
  example, from process start until the Build screen's first frame is painted. BUILDKIT_HOST is
  set (to an address nobody needs to answer) so the dashboard does not start the sandbox, and the
  config/data/state directories are fresh temporary ones. TEXTUAL_DRIVER points Textual at
  `FirstFrameDriver` below: it renders like a terminal driver (the frame becomes escape
  sequences), and when a frame holds the Build screen's empty-state text it says so on fd 1 and
  ends the process. No code of the app is changed for this.

    .venv/bin/python bench/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXE = Path(sys.executable).with_name("railpack-tui")
MARKER = "No build yet"  # the Build screen's empty state: the dashboard's first screen is up
SIZE = (120, 40)

try:  # only the dashboard child needs this, through TEXTUAL_DRIVER=bench_startup:FirstFrameDriver
    from textual.drivers.headless_driver import HeadlessDriver
except ImportError:  # pragma: no cover
    HeadlessDriver = object  # type: ignore[assignment,misc]


class FirstFrameDriver(HeadlessDriver):  # type: ignore[misc,valid-type]
    """Not headless (Textual renders each frame to terminal sequences); the first frame showing
    MARKER is reported on fd 1 and the process ends at once."""

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        if MARKER in data:
            os.write(1, b"FIRST-FRAME\n")
            os._exit(0)


def _time(argv: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def _first_frame(env: dict, project: str, timeout: float = 30.0) -> float:
    t = time.perf_counter()
    p = subprocess.Popen([str(EXE), "--project", project], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    try:
        assert p.stdout is not None
        line = p.stdout.readline()
        elapsed = time.perf_counter() - t
        if b"FIRST-FRAME" not in line:
            p.kill()
            err = p.stderr.read().decode(errors="replace") if p.stderr else ""
            raise SystemExit(f"the dashboard never painted its first frame:\n{err[-2000:]}")
        p.wait(timeout)
        return elapsed
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else f"MISSED by {(value - target) * 1000:.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ns = ap.parse_args()
    from railpack_tui.core import example

    with tempfile.TemporaryDirectory(prefix="rt-bench-startup-") as d:
        root = Path(d)
        project = example.prepare(root / "project")
        env = dict(os.environ)
        for k in ("CONFIG", "DATA", "STATE"):
            (root / k.lower()).mkdir()
            env[f"RAILPACK_TUI_{k}_DIR"] = str(root / k.lower())
        env.update({"BUILDKIT_HOST": "tcp://127.0.0.1:9", "TEXTUAL_DRIVER": "bench_startup:FirstFrameDriver",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
                    "COLUMNS": str(SIZE[0]), "LINES": str(SIZE[1])})
        _first_frame(env, str(project))  # warm the page cache and .pyc files once, not counted
        base, ours, frame = [], [], []
        for _ in range(ns.runs):  # alternate, so drift hits all alike
            base.append(_time([sys.executable, "-c", "pass"]))
            ours.append(_time([str(EXE), "--version"]))
            frame.append(_first_frame(env, str(project)))
    b, o, f = statistics.median(base), statistics.median(ours), statistics.median(frame)
    print(f"python -c pass (baseline):      median {b * 1000:.0f} ms")
    print(f"railpack-tui --version:         median {o * 1000:.0f} ms  (ratio {o / b:.2f}x baseline; "
          f"target <= 200 ms: {_verdict(o, 0.2)})")
    print(f"dashboard first frame ({SIZE[0]}x{SIZE[1]}): median {f * 1000:.0f} ms  "
          f"(min {min(frame) * 1000:.0f}, max {max(frame) * 1000:.0f}; ratio {f / b:.2f}x baseline; "
          f"target <= 1000 ms: {_verdict(f, 1.0)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
