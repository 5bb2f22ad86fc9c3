"""Runs every bench/bench_*.py (or those matching the arguments) in its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    benches = sorted(HERE.glob("bench_*.py"))
    if argv:
        benches = [b for b in benches if any(a in b.stem for a in argv)]
    worst = 0
    for b in benches:
        print(f"== {b.stem}", flush=True)
        worst = max(worst, subprocess.run([sys.executable, str(b)]).returncode)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
