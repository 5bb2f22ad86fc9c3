"""Start-up: `railpack-tui --version` (target <= 0.2 s), against a bare interpreter start measured
in the same run."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 15
EXE = Path(sys.executable).with_name("railpack-tui")


def _time(argv: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main() -> None:
    base, ours = [], []
    for _ in range(RUNS):  # alternate, so drift hits both alike
        base.append(_time([sys.executable, "-c", "pass"]))
        ours.append(_time([str(EXE), "--version"]))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"python -c pass (baseline): median {b * 1000:.0f} ms")
    print(f"railpack-tui --version:    median {o * 1000:.0f} ms  (ratio {o / b:.2f}x baseline; target <= 200 ms: "
          f"{'met' if o <= 0.2 else f'MISSED by {(o - 0.2) * 1000:.0f} ms'})")


if __name__ == "__main__":
    main()
