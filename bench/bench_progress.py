"""Benchmark: BuildKit rawjson progress through parser + model vs a bare loop.

    .venv/bin/python bench/bench_progress.py [--steps 60] [--lines 2000] [--repeat 3] [--chunk-lines 1]

Generates a synthetic stream with the shape of real buildctl rawjson output (vertex announce,
start, per-line log messages with base64 data, layer statuses, completion; see
tests/fixtures/recorded/log-heavy.rawjson.jsonl), at least 40 MB (--chunk-lines N: N log lines per
log message, as BuildKit batches a fast step's output), then times, on the same lines
held in memory:
  - bare:  json.loads + binascii.a2b_base64 of every log's data (the least any parser must do);
  - bare with the C scanner: the same, decoding with json's C scanner as the model does;
  - model: BuildModel("rawjson").feed_line for every line, drain_changes() every 200 lines
           (a TUI polling at 30/s while thousands of lines/s arrive), finish(0), to_report().
Prints both times and the ratio (target <= 1.5), then the peak RSS of streaming the file from
disk through each (in child processes), to show the model's memory stays bounded.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _ts(t: float) -> str:
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return f"{s}.{int((t % 1) * 1e9):09d}Z"


def generate(path: Path, steps: int, lines: int, chunk_lines: int = 1) -> int:
    t = 1796316000.0
    digests = [f"sha256:{i:064x}" for i in range(1, steps + 1)]
    names = [f"[build {i + 1}/{steps}] RUN ./compile.sh --module {i} --jobs 8" for i in range(steps)]
    text = " some typical chatty compiler output with paths /app/src/pkg/module/file.c and flags -O2 -Wall -Wextra"
    with path.open("w") as fh:
        fh.write(json.dumps({"vertexes": [{"digest": d, "inputs": [digests[i - 1]] if i else [], "name": n}
                                          for i, (d, n) in enumerate(zip(digests, names))]}, separators=(",", ":")) + "\n")
        for i, d in enumerate(digests):
            v = {"digest": d, "inputs": [digests[i - 1]] if i else [], "name": names[i], "started": _ts(t)}
            fh.write(json.dumps({"vertexes": [v]}, separators=(",", ":")) + "\n")
            chunk: list[str] = []
            for j in range(lines):
                t += 0.0001
                chunk.append(f"[{j:05d}] step {i}: line {j}{text}\n")
                if len(chunk) >= chunk_lines or j == lines - 1:
                    data = base64.b64encode("".join(chunk).encode()).decode()
                    chunk.clear()
                    fh.write('{"logs":[{"vertex":"%s","stream":%d,"data":"%s","timestamp":"%s"}]}\n'
                             % (d, 1 if j % 10 else 2, data, _ts(t)))
                if j % 500 == 0:
                    st = {"id": f"sha256:{j:064x}", "vertex": d, "name": "downloading", "current": j * 1000,
                          "total": lines * 1000, "timestamp": _ts(t), "started": _ts(t)}
                    fh.write(json.dumps({"statuses": [st]}, separators=(",", ":")) + "\n")
            v["completed"] = _ts(t)
            fh.write(json.dumps({"vertexes": [v]}, separators=(",", ":")) + "\n")
        fh.write("error: this trailing non-JSON line is part of real streams\n")
    return path.stat().st_size


def bare(lines: list[bytes]) -> int:
    n = 0
    a2b = binascii.a2b_base64
    for line in lines:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        for lg in msg.get("logs") or ():
            n += len(a2b(lg["data"]))
    return n


_scan = json.JSONDecoder().scan_once


def bare_scanner(lines: list[bytes]) -> int:
    """The bare loop with the C scanner the model uses instead of json.loads (a stricter floor)."""
    n = 0
    a2b = binascii.a2b_base64
    for line in lines:
        try:
            msg = _scan(line.decode(), 0)[0]
        except (ValueError, StopIteration):
            continue
        for lg in msg.get("logs") or ():
            n += len(a2b(lg["data"]))
    return n


def model(lines: list[bytes]) -> dict:
    from railpack_tui.core.model import BuildModel

    m = BuildModel("rawjson")
    feed = m.feed_line
    drain = m.drain_changes
    k = 0
    for line in lines:
        feed(line)
        k += 1
        if k == 200:
            drain()
            k = 0
    m.finish(0)
    return m.to_report()


def _child(mode: str, path: str) -> None:
    if mode == "bare":
        with open(path, "rb") as fh:
            bare(fh)  # type: ignore[arg-type]
    else:
        with open(path, "rb") as fh:
            model(fh)  # type: ignore[arg-type]
    # VmHWM (ru_maxrss survives exec on Linux and would show the parent's peak)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            print(int(line.split()[1]))
            return
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chunk-lines", type=int, default=1,
                    help="log lines per log message (1: one message per line; a real buildctl stream of a chatty "
                         "step carries hundreds of lines per message)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.child:
        _child(*ns.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="rt-bench-") as d:
        path = Path(d) / "stream.rawjson.jsonl"
        size = generate(path, ns.steps, ns.lines, ns.chunk_lines)
        lines = path.read_bytes().splitlines(keepends=True)
        print(f"stream: {size / 1e6:.1f} MB, {len(lines)} lines ({ns.steps} steps x {ns.lines} log lines, "
              f"{ns.chunk_lines} per log message)")
        tb = ts = tm = float("inf")
        report = None
        for _ in range(ns.repeat):
            t0 = time.perf_counter()
            bare(lines)
            tb = min(tb, time.perf_counter() - t0)
            t0 = time.perf_counter()
            bare_scanner(lines)
            ts = min(ts, time.perf_counter() - t0)
            t0 = time.perf_counter()
            report = model(lines)
            tm = min(tm, time.perf_counter() - t0)
        assert report and report["summary"]["executed"] == ns.steps, report and report["summary"]
        print(f"bare loop (json.loads + base64 decode): {tb:.3f}s  ({len(lines) / tb / 1e3:.0f}k lines/s)")
        print(f"parser + model:                          {tm:.3f}s  ({len(lines) / tm / 1e3:.0f}k lines/s)")
        print(f"bare loop with the C scanner:           {ts:.3f}s  ({len(lines) / ts / 1e3:.0f}k lines/s)")
        print(f"ratio model/bare: {tm / tb:.2f}  (target <= 1.5)")
        print(f"ratio model/bare-with-C-scanner: {tm / ts:.2f}")
        rss = {}
        for mode in ("bare", "model"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True,
                                 env=dict(os.environ))
            rss[mode] = int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else -1
        print(f"peak RSS streaming the file: bare {rss['bare'] / 1024:.0f} MB, model {rss['model'] / 1024:.0f} MB "
              f"(logs kept: head+tail per step, global budget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
