"""Build overhead: `railpack-tui build` vs bare `buildctl build` with the same flags, on a
log-heavy project, in alternating pairs against a real sandbox started for this run.

    .venv/bin/python bench/bench_build_overhead.py [--pairs 7] [--log-lines 120000]
                                                   [--heavy-log-lines 1000000] [--step-seconds 5]
                                                   [--no-bytecode-cache] [--baseline-pythonpath DIR]

The project is a Dockerfile FROM scratch with the static busybox, whose RUN prints --log-lines
lines (over 100k). An `ARG RUN_ID` used by that RUN gets a fresh value for every build, so both
sides really execute it (and export a new cache layer): no build is a cache hit.

- bare: the exact argv `railpack-tui` runs (its `BuildKitEngine` invocation: --frontend
  dockerfile.v0, --local context/dockerfile, --progress=rawjson, the build arg, --import-cache and
  --export-cache type=registry,ref=...,mode=max), with a Docker config holding the sandbox
  registry credential, its output read to the end and thrown away.
- railpack-tui: `railpack-tui build DIR --builder ADDR --cache-ref REF --build-arg RUN_ID=...
  --json` as a user runs it (process start, builder probe, project snapshot, credentials, the same
  buildctl, every line through the model, history and explanations, the JSON report).

Pairs alternate which side goes first. Per pair: the ratio railpack-tui/bare and the difference
(the fixed overhead); then their medians and ranges (target: median ratio <= 1.03).

Printed too, from the same run: the floor (`python -c pass`, `python -S -c pass`, `python -I -S -c
pass`, `railpack-tui --version`: what any Python command pays before it does anything), the parser
alone over the build's own captured stream (the per-line cost, paid while BuildKit builds), a
timeline of one build (when the engine starts, when its output ends, when the process exits) and,
clearly labelled as a second measurement, the same pairs with --heavy-log-lines (default 1,000,000;
0 skips it), where the per-line cost weighs more than the fixed one, and, as a third labelled
measurement, the paced build (--step-seconds, default 5; 0 skips it): the same --log-lines printed in
20 batches a second over about that many seconds, the way a compiler's log arrives, instead of in
one ~0.3 s burst. The issue's setup, the burst, is the first measurement and the primary one.

Before/after under one load: --baseline-pythonpath DIR times the same `railpack-tui build` a third
time in every round with PYTHONPATH=DIR, where DIR holds a `railpack_tui` package of other code
(e.g. `railpack_tui/core` -> a `git worktree` of an older commit's core/), the order rotating.

Bytecode: Python writes no `.pyc` in this development shell (PYTHONDONTWRITEBYTECODE=1), so every
run would compile railpack-tui's ~30 modules from source, which no installed copy does (pip
compiles them at install time). The railpack-tui side therefore runs with a private bytecode cache
(PYTHONPYCACHEPREFIX in the bench's temporary directory, filled by the warm-up build), and so do
the floor measurements; `--no-bytecode-cache` measures with the shell's setting instead.

The sandbox (buildkitd + registry) lives in a private temporary directory and is stopped at the
end. Its buildkitd runs with BUILDKIT_STEP_LOG_MAX_SIZE/SPEED=-1: by default BuildKit clips a
step's log after 2 MiB or at 200 KiB/s, and then only ~14k of the lines arrive.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

EXE = Path(sys.executable).with_name("railpack-tui")
TARGET = 1.03
FLOOR_RUNS = 9

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
ARG RUN_ID=0
RUN ["/bin/busybox", "sh", "-c", "echo run $RUN_ID; {script}"]
"""
BURST = "/bin/busybox seq 1 {n} | /bin/busybox sed 's/^/log line /'"
# the same lines in BATCHES_PER_S batches a second with a sleep between them, as a compiler prints
PACED = ("i=0; while [ $i -lt {batches} ]; do /bin/busybox seq $((i*{per}+1)) $((i*{per}+{per})) "
         "| /bin/busybox sed 's/^/log line /'; /bin/busybox usleep {us}; i=$((i+1)); done")
BATCHES_PER_S = 20


def run_script(lines: int, step_seconds: float) -> str:
    """The RUN's shell script: `lines` lines at once, or spread over about `step_seconds`."""
    if step_seconds <= 0:
        return BURST.format(n=lines)
    batches = max(1, round(step_seconds * BATCHES_PER_S))
    per = -(-lines // batches)
    return PACED.format(batches=batches, per=per, us=int(step_seconds / batches * 1e6))


def _log_lines(lines: list[bytes]) -> tuple[int, int, bool]:
    """(log lines, bytes of log) BuildKit sent in a rawjson stream, and whether it clipped them."""
    import base64

    n = size = 0
    clipped = False
    for line in lines:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        for lg in msg.get("logs") or ():
            data = base64.b64decode(lg.get("data") or "")
            n += data.count(b"\n")
            size += len(data)
            clipped = clipped or b"output clipped" in data
    return n, size, clipped


def _bare(argv: list[str], env: dict, keep: list | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert p.stdout is not None
    for line in p.stdout:  # read it all, as any consumer of --progress=rawjson must
        if keep is not None:
            keep.append(line)
    rc = p.wait()
    elapsed = time.perf_counter() - t
    if rc != 0:
        raise SystemExit(f"bare buildctl failed ({rc})")
    return elapsed


def _ours(argv: list[str], env: dict) -> tuple[float, dict]:
    t = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"railpack-tui build failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return elapsed, json.loads(p.stdout)


def _floor(env: dict) -> dict[str, float]:
    """Median wall time of commands that do nothing (or only print the version), interleaved."""
    py = sys.executable
    cmds = {"python -c pass": [py, "-c", "pass"], "python -S -c pass": [py, "-S", "-c", "pass"],
            "python -I -S -c pass": [py, "-I", "-S", "-c", "pass"], "railpack-tui --version": [str(EXE), "--version"]}
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for i in range(FLOOR_RUNS + 1):
        for name, argv in cmds.items():
            t = time.perf_counter()
            subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env, check=True)
            if i:  # the first round only warms the caches
                times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def _parser_alone(stream: list[bytes]) -> float:
    """Best of 3: the captured stream through `EngineProcess.lines()`'s decoding and the model."""
    from railpack_tui.core.model import BuildModel

    best = float("inf")
    for _ in range(3):
        m = BuildModel(format="rawjson")
        t = time.perf_counter()
        for raw in stream:
            m.feed_line(raw.decode(errors="replace").rstrip("\r\n"))
            m.drain_changes()
        m.finish(0)
        best = min(best, time.perf_counter() - t)
    return best


# One build in a child process, its path marked on the way (seconds since the parent spawned it):
# what stands between process start and the engine, and between the engine's last line and exit.
TIMELINE = r"""
import atexit, json, os, sys, time
T0 = float(os.environ.pop("BENCH_T0"))
marks, spans = {}, {}
def mark(name):
    marks.setdefault(name, time.time() - T0)
mark("interpreter ready")
from railpack_tui.core import builders, cli, runner
from railpack_tui.core.engines import base
mark("runner imported")
def timed(owner, name, label):
    f = getattr(owner, name, None) if owner is not None else None
    if f is None:  # another version of railpack-tui (bench a commit against another)
        return
    def w(*a, **k):
        t = time.time()
        try:
            return f(*a, **k)
        finally:
            spans[label] = (t - T0, time.time() - T0)
    setattr(owner, name, w)
timed(builders, "check", "builder probe")
timed(runner, "_snapshot", "project snapshot")
timed(getattr(runner, "_Prepared", None), "_run", "while BuildKit builds: snapshot, history read ahead, cache-debug address")
timed(runner, "_after_build", "explanations + history record")
try:  # the builder's cache debug database: read while BuildKit exports the cache, or in _after_build
    from railpack_tui.core import cachedebug
    timed(cachedebug, "fetch_all", "cache debug database read")
except ImportError:
    pass
start = base.EngineProcess.__init__
def started(self, inv):
    import threading
    mark("engine process started")
    start(self, inv)
    def exited(pid=self._proc.pid):  # WNOWAIT: seen, not reaped (the runner still waits for it)
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:  # the runner's wait woke first and reaped it: no mark this time
            return
        mark("engine process exited")
    threading.Thread(target=exited, daemon=True).start()
base.EngineProcess.__init__ = started
def reader(name):  # the runner reads batches() (one list of lines per pipe read), older code lines()
    f = getattr(base.EngineProcess, name, None)
    if f is None:
        return
    def read(self):
        for item in f(self):
            mark("first engine line read")
            yield item
        mark("engine output ended")
    setattr(base.EngineProcess, name, read)
reader("batches")
reader("lines")
def report():
    if "main returned" not in marks:
        mark("main returned")
        print("TIMELINE " + json.dumps({"marks": marks, "spans": spans}), file=sys.stderr, flush=True)
atexit.register(report)
_exit = os._exit
def exit_now(code):  # the build command ends without the interpreter's teardown (cli.skip_teardown)
    report()
    _exit(code)
os._exit = exit_now
sys.argv = ["railpack-tui", *sys.argv[1:]]
cli.entry()
"""


def _timeline(argv: list[str], env: dict) -> tuple[float, dict]:
    env = dict(env, BENCH_T0=repr(time.time()))
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", TIMELINE, *argv[1:]], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=env)
    wall = time.perf_counter() - t
    line = next((ln for ln in p.stderr.splitlines() if ln.startswith("TIMELINE ")), None)
    if p.returncode != 0 or line is None:
        raise SystemExit(f"timeline build failed ({p.returncode}): {p.stderr[-2000:]}")
    return wall, json.loads(line[len("TIMELINE "):])


def _range(xs: list[float], fmt: str) -> str:
    return f"{fmt.format(min(xs))}-{fmt.format(max(xs))}"


class Setup:
    def __init__(self, root: Path, info, cred, env: dict, ours_env: dict, base_env: dict | None = None):
        from railpack_tui.core import dockerconfig
        from railpack_tui.core.builders import Builder
        from railpack_tui.core.engines.buildkit import BuildKitEngine

        self.root, self.info, self.env, self.ours_env, self.base_env = root, info, env, ours_env, base_env
        self.cfg = dockerconfig.write([cred])
        self.bare_env = dict(env, DOCKER_CONFIG=str(self.cfg))
        self.engine = BuildKitEngine(Builder(addr=info.buildkit_host, source="flag"))

    def project(self, lines: int, step_seconds: float = 0) -> tuple[Path, str]:
        from railpack_tui.core import example

        name = f"{lines}" + (f"-paced-{step_seconds:g}s" if step_seconds > 0 else "")
        project = self.root / f"project-{name}"
        project.mkdir()
        shutil.copy2(example.find_busybox(), project / "busybox")
        (project / "Dockerfile").write_text(DOCKERFILE.replace("{script}", run_script(lines, step_seconds)))
        return project, f"{self.info.registry}/bench/overhead-{name}:{uuid.uuid4().hex[:8]}"

    def bare_argv(self, project: Path, ref: str, run_id: str) -> list[str]:
        from railpack_tui.core.runner import BuildRequest

        req = BuildRequest(path=str(project), cache_ref=ref, builder=self.info.buildkit_host, build_args={"RUN_ID": run_id})
        return self.engine.invocation(req, str(self.cfg)).argv

    def ours_argv(self, project: Path, ref: str, run_id: str) -> list[str]:
        return [str(EXE), "build", str(project), "--builder", self.info.buildkit_host, "--cache-ref", ref,
                "--build-arg", f"RUN_ID={run_id}", "--json"]


def _measure(s: Setup, label: str, lines: int, pairs: int, show_argv: bool = False, step_seconds: float = 0) -> dict:
    pace = f" spread over ~{step_seconds:g} s" if step_seconds > 0 else " printed at once"
    print(f"\n## {label}: {lines:,} log lines{pace}, {pairs} pairs", flush=True)
    project, ref = s.project(lines, step_seconds)
    if show_argv:
        print("bare:         " + " ".join(s.bare_argv(project, ref, "RUN_ID")))
        print("railpack-tui: " + " ".join(s.ours_argv(project, ref, "RUN_ID")))
    # warm-up (not counted): loads the context, fills the cache ref (and the bytecode cache)
    stream: list[bytes] = []
    _bare(s.bare_argv(project, ref, uuid.uuid4().hex), s.bare_env, stream)
    n, size, clipped = _log_lines(stream)
    _, report = _ours(s.ours_argv(project, ref, uuid.uuid4().hex), s.ours_env)
    parser = _parser_alone(stream)
    print(f"warm-up: the stream has {len(stream)} rawjson lines carrying {n:,} log lines ({size / 1e6:.1f} MB)"
          f"{', CLIPPED by BuildKit' if clipped else ''}; railpack-tui: {report.get('status')}; "
          f"parser alone over it: {parser * 1000:.0f} ms", flush=True)
    sides = {"bare": lambda: (_bare(s.bare_argv(project, ref, uuid.uuid4().hex), s.bare_env), None),
             "railpack-tui": lambda: _ours(s.ours_argv(project, ref, uuid.uuid4().hex), s.ours_env)}
    if s.base_env is not None:  # the same command on other code, in the same rounds (its load is theirs)
        _ours(s.ours_argv(project, ref, uuid.uuid4().hex), s.base_env)
        sides["baseline code"] = lambda: _ours(s.ours_argv(project, ref, uuid.uuid4().hex), s.base_env)
    names = list(sides)
    times: dict[str, list[float]] = {k: [] for k in names}
    for i in range(pairs):
        order = names[i % len(names):] + names[:i % len(names)]  # who goes first rotates
        got = {}
        for name in order:
            got[name], report = sides[name]()
            if report is not None:
                got[name + " executed"] = report.get("summary", {}).get("executed")
        for name in names:
            times[name].append(got[name])
        b = got["bare"]
        print(f"pair {i + 1} ({order[0]} first): " + "  ".join(
            f"{k} {got[k]:.3f}s" + ("" if k == "bare" else f" ratio {got[k] / b:.3f} +{(got[k] - b) * 1000:.0f} ms "
                                    f"(executed steps: {got[k + ' executed']})") for k in names), flush=True)
    out = {"label": label, "lines": n, "parser": parser, "project": project, "ref": ref, "bare": statistics.median(times["bare"])}
    for k in names[1:]:
        ratios = [o / b for o, b in zip(times[k], times["bare"])]
        diffs = [o - b for o, b in zip(times[k], times["bare"])]
        stats = {"ours": statistics.median(times[k]), "ratio": statistics.median(ratios), "ratios": ratios,
                 "overhead": statistics.median(diffs), "diffs": diffs}
        if k == "railpack-tui":
            out.update(stats)
        else:
            out["baseline"] = stats
    return out


def _print_timeline(s: Setup, m: dict) -> None:
    wall, tl = _timeline(s.ours_argv(m["project"], m["ref"], uuid.uuid4().hex), s.ours_env)
    marks, spans = tl["marks"], tl["spans"]
    print("\ntimeline of one railpack-tui build (ms after the process was spawned):")
    for name, at in sorted(marks.items(), key=lambda kv: kv[1]):
        print(f"  {at * 1000:7.0f}  {name}")
    print(f"  {wall * 1000:7.0f}  process exited (as the parent saw it)")
    for name, (a, b) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        print(f"  {a * 1000:7.0f} -{b * 1000:5.0f}  {name} ({(b - a) * 1000:.0f} ms)")
    start, end = marks.get("engine process started"), marks.get("engine output ended")
    if start is not None and end is not None:
        print(f"  critical path outside BuildKit: {start * 1000:.0f} ms before the engine starts + "
              f"{(wall - end) * 1000:.0f} ms after its output ends = {(start + wall - end) * 1000:.0f} ms")


def _summary(m: dict) -> None:
    verdict = "met" if m["ratio"] <= TARGET else f"MISSED by {m['ratio'] - TARGET:.2f}"
    print(f"{m['label']}: bare median {m['bare']:.3f}s, railpack-tui median {m['ours']:.3f}s; median ratio "
          f"{m['ratio']:.3f} (pairs {_range(m['ratios'], '{:.2f}')}; target <= {TARGET}: {verdict}); fixed overhead "
          f"(ours minus bare, median of pairs) {m['overhead'] * 1000:.0f} ms ({_range([d * 1000 for d in m['diffs']], '{:.0f}')} ms); "
          f"parser alone {m['parser'] * 1000:.0f} ms for {m['lines']:,} log lines")
    base = m.get("baseline")
    if base:
        print(f"  baseline code in the same rounds: median {base['ours']:.3f}s, median ratio {base['ratio']:.3f} "
              f"(pairs {_range(base['ratios'], '{:.2f}')}), overhead {base['overhead'] * 1000:.0f} ms "
              f"({_range([d * 1000 for d in base['diffs']], '{:.0f}')} ms)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--log-lines", type=int, default=120_000)
    ap.add_argument("--heavy-log-lines", type=int, default=1_000_000, help="the second, labelled measurement (0: skip)")
    ap.add_argument("--step-seconds", type=float, default=5.0,
                    help="a third, labelled measurement: the same --log-lines, printed by the RUN in %d batches a "
                         "second over about this many seconds, as a compile log arrives (0: skip)" % BATCHES_PER_S)
    ap.add_argument("--baseline-pythonpath", metavar="DIR",
                    help="also time railpack-tui with PYTHONPATH=DIR in every round (a directory holding a railpack_tui "
                         "package of other code, e.g. a git worktree of an older commit), for a before/after under one load")
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="run railpack-tui with this shell's PYTHONDONTWRITEBYTECODE (every module compiled on every run)")
    ns = ap.parse_args()

    from railpack_tui.core import dockerconfig, sandbox

    root = Path(tempfile.mkdtemp(prefix="rt-bench-build-", dir="/tmp"))
    sbx = root / "sandbox"
    info = None
    s = None
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} cores at {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    try:
        # buildkitd clips step logs (2 MiB, 200 KiB/s by default): lift that so all the lines flow
        os.environ["BUILDKIT_STEP_LOG_MAX_SIZE"] = "-1"
        os.environ["BUILDKIT_STEP_LOG_MAX_SPEED"] = "-1"
        t = time.perf_counter()
        info = sandbox.up(sbx)
        print(f"sandbox up in {time.perf_counter() - t:.1f}s: buildkitd {info.buildkit_host}, registry {info.registry}")
        cred = sandbox.sandbox_credential(info)
        assert cred is not None, "the sandbox stored no credential"
        env = dict(os.environ)
        for k in ("CONFIG", "DATA", "STATE"):
            (root / k.lower()).mkdir()
            env[f"RAILPACK_TUI_{k}_DIR"] = str(root / k.lower())
        env["RAILPACK_TUI_SANDBOX_DIR"] = str(sbx)
        env.pop("BUILDKIT_HOST", None)
        ours_env = dict(env)
        if ns.no_bytecode_cache:
            print(f"bytecode: this shell's setting (PYTHONDONTWRITEBYTECODE={env.get('PYTHONDONTWRITEBYTECODE', '')!r})")
        else:
            ours_env.pop("PYTHONDONTWRITEBYTECODE", None)
            ours_env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
            print("bytecode: a private cache for this run (as an installed copy has)")
        base_env = dict(ours_env, PYTHONPATH=ns.baseline_pythonpath) if ns.baseline_pythonpath else None
        s = Setup(root, info, cred, env, ours_env, base_env)

        floor = _floor(ours_env)
        print("floor (median of %d, same bytecode setting): " % FLOOR_RUNS
              + "; ".join(f"{k} {v * 1000:.0f} ms" for k, v in floor.items()), flush=True)

        default = _measure(s, "issue setup (burst, the primary measurement)", ns.log_lines, ns.pairs, show_argv=True)
        _print_timeline(s, default)
        heavy = _measure(s, "second measurement, heavier log", ns.heavy_log_lines, ns.pairs) if ns.heavy_log_lines else None
        paced = (_measure(s, f"paced measurement, the lines over ~{ns.step_seconds:g} s", ns.log_lines, ns.pairs,
                          step_seconds=ns.step_seconds) if ns.step_seconds > 0 else None)

        print("\n## summary")
        _summary(default)
        if heavy:
            _summary(heavy)
            extra = heavy["lines"] - default["lines"]
            if extra > 0:
                per = (heavy["overhead"] - default["overhead"]) / extra * 100_000
                print(f"per-line overhead: {per * 1000:+.0f} ms per 100k log lines beyond the fixed cost "
                      f"(parser alone: {(heavy['parser'] - default['parser']) / extra * 100_000 * 1000:.0f} ms per 100k)")
        if paced:
            _summary(paced)
        allowed = (TARGET - 1) * default["bare"]
        py = floor["python -c pass"]
        print(f"floor: a ratio of {TARGET} on this {default['bare'] * 1000:.0f} ms build allows {allowed * 1000:.0f} ms of "
              f"overhead; starting this Python and doing nothing takes {py * 1000:.0f} ms "
              f"(ratio {(default['bare'] + py) / default['bare']:.3f} if that were all), "
              f"`railpack-tui --version` {floor['railpack-tui --version'] * 1000:.0f} ms "
              f"(ratio {(default['bare'] + floor['railpack-tui --version']) / default['bare']:.3f})")
        print(f"load average at the end {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    finally:
        if s is not None:
            dockerconfig.remove(s.cfg)
        if info is not None:
            sandbox.down(sbx)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
