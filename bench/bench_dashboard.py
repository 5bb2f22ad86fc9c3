"""Dashboard replay: the app ingesting a 40 MB rawjson stream as fast as it can, through the same
path a live build takes, against the parser alone on the same stream in the same run.

    .venv/bin/python bench/bench_dashboard.py [--steps 60] [--lines 2000] [--rounds 3]

The stream is bench_progress.generate()'s (the shape of real buildctl rawjson output, >= 40 MB).

- parser alone (baseline): a child process reads the file line by line, decodes each line as
  `EngineProcess.batches()` does and feeds `BuildModel("rawjson")`, then `finish(0)`.
- dashboard: a child process runs `RailpackTUI` under `App.run_test()` (120x40) with a driver that
  is not headless (so every frame is rendered to terminal sequences, then discarded), presses
  `b`-equivalent `app.start_build()` and lets the real path run: build worker thread ->
  `BuildRun.run()` -> `EngineProcess` (here `cat FILE`, a real pipe, instead of buildctl) ->
  `model.feed_line` / `drain_changes` -> `app._on_run_event` -> `call_from_thread` ->
  `build_progress` -> `BuildScreen.redraw` -> compositor -> driver, then history recording and
  the finished notification. Only the engine and the builder probe are swapped (no BuildKit is
  involved in a replay). The clock runs from `start_build()` to the first frame painted after
  the build is marked finished.
  While it runs, a task presses `/` (the step filter opens) and `escape` (it closes) 20 ms after
  the previous press was answered (--key-gap), the way a terminal driver delivers keys, and
  times each press until the first frame painted with its answer: the first frame written whose
  layout has the box (for `/`) or no longer has it (for Esc): p50/p95/max (target p95 <= 100
  ms). (Until 2026-12-04 12:30 UTC it waited for the box's state to change and then for the next
  frame, which often missed the frame that painted the change and timed the one after: 11 ms vs
  ~35 ms for a `/` on an idle dashboard.) The keys' own frames are UI work inside the replay: the
  faster they are answered, the more keys are pressed and the longer the total.
- memory: VmHWM of the dashboard child at the end (target <= 250 MiB), and of the parser child.
- threads: the CPU time of the UI thread (from `start_build()` to the end, the keys included) and of
  the build thread (`BuildRun.run`), per round and as medians: the replay's wall time is about their
  sum (one GIL), and on a loaded machine they move less than wall time does.

Each round runs both children, alternating; medians are reported. Targets: dashboard/parser
<= 2.0, key p95 <= 100 ms, peak RSS <= 250 MiB.

Before/after under one load: --baseline-pythonpath DIR also runs the dashboard child with
PYTHONPATH=DIR in every round (a directory holding a `railpack_tui` package of other code, e.g.
`railpack_tui/tui` from `git archive OLD tui` and `core`, `themes`, `examples` linked to this
tree's), the order of the two dashboards rotating; both sides' medians are printed.

A replay still running after --budget seconds is cancelled through the app (as `c` would) and
its total projected from the lines ingested so far (the output says "projected"). --coalesce HZ
is a what-if, not the shipped path: progress handed to the UI thread at most HZ times a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SIZE = (120, 40)
KEY_GAP_S = 0.02


def _vmhwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


# --- children ---------------------------------------------------------------------------------

def child_parser(path: str) -> dict:
    from railpack_tui.core.engines.base import line_batches
    from railpack_tui.core.model import BuildModel

    t0, c0 = time.perf_counter(), time.process_time()
    m = BuildModel("rawjson")
    feed = m.feed_line
    with open(path, "rb", buffering=0) as fh:
        for batch in line_batches(os.read, fh.fileno()):  # what EngineProcess.batches() hands the runner
            for line in batch:
                if line.startswith("{"):
                    feed(line)
    m.finish(0)
    elapsed = time.perf_counter() - t0
    return {"time": elapsed, "cpu": time.process_time() - c0, "vmhwm_kib": _vmhwm_kib(), "status": m.status}


# `--rate`: the stream arrives at N lines a second (batches every 10 ms), as a busy real build's would
PACER = r"""
import sys, time
path, rate = sys.argv[1], float(sys.argv[2])
out = sys.stdout.buffer
t0, sent = time.perf_counter(), 0
with open(path, "rb") as fh:
    for line in fh:
        out.write(line)
        sent += 1
        if sent % max(1, int(rate / 100)) == 0:
            out.flush()
            ahead = sent / rate - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)
out.flush()
"""


def child_dashboard(path: str, project: str, budget: str, coalesce: str, rate: str = "0",
                    key_gap: str = str(KEY_GAP_S)) -> dict:
    from textual import events
    from textual.drivers.headless_driver import HeadlessDriver
    from textual.widgets import Input

    from railpack_tui.core import builders, runner
    from railpack_tui.core.defaults import Setup
    from railpack_tui.core.engines.base import Engine, EngineProcess, Invocation
    from railpack_tui.tui.app import RailpackTUI

    writes: list[float] = []
    waiters: list[asyncio.Future] = []
    key_wait: dict = {}  # the key being timed: the box's state it asks for, and its future

    def box_laid_out(screen, box) -> bool:
        try:
            screen.find_widget(box)  # in the compositor's map: this frame was laid out with it
        except Exception:
            return False
        return True

    class NullTerminal(HeadlessDriver):
        """Renders like a terminal driver (frames become escape sequences) and drops the bytes."""

        @property
        def is_headless(self) -> bool:
            return False

        def write(self, data: str) -> None:
            writes.append(time.perf_counter())
            if key_wait and box_laid_out(key_wait["screen"], key_wait["box"]) == key_wait["want"]:
                fut = key_wait.pop("fut")  # the first frame that shows the key's answer
                key_wait.clear()
                if not fut.done():
                    fut.set_result(writes[-1])
            while waiters:
                fut = waiters.pop()
                if not fut.done():
                    fut.set_result(writes[-1])

    fed = [0]

    class CountingProcess(EngineProcess):
        def batches(self):
            for batch in super().batches():
                fed[0] += len(batch)
                yield batch

        def lines(self):  # what the runner of older code (--baseline-pythonpath) reads
            if hasattr(EngineProcess, "batches"):
                yield from (line for batch in self.batches() for line in batch)
                return
            for line in super().lines():
                fed[0] += 1
                yield line

    class ReplayEngine(Engine):
        name = "buildkit"

        def invocation(self, request, docker_config):
            if float(rate) > 0:
                return Invocation([sys.executable, "-c", PACER, path, rate], {}, "rawjson")
            return Invocation(["cat", path], {}, "rawjson")

        def start(self, request, docker_config):
            return CountingProcess(self.invocation(request, docker_config))

    runner.make_engine = lambda name, builder: ReplayEngine(builder)
    build_cpu: list[float] = []  # the build thread's CPU time (BuildRun.run, start to end)
    run = runner.BuildRun.run

    def timed_run(self):
        c = time.thread_time()
        try:
            return run(self)
        finally:
            build_cpu.append(time.thread_time() - c)

    runner.BuildRun.run = timed_run
    builders.check = lambda builder, timeout=0: ""
    if float(coalesce) > 0:
        _coalesce(RailpackTUI, 1 / float(coalesce))

    async def next_frame() -> float:
        fut = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        return await fut

    async def main() -> dict:
        setup = Setup(project=Path(project), builder="tcp://127.0.0.1:9", cache_ref=None)
        app = RailpackTUI(setup)
        app.driver_class = NullTerminal
        latencies: list[float] = []
        async with app.run_test(headless=False, size=SIZE) as pilot:
            await pilot.pause()
            screen = app.screen
            box = screen.query_one("#filter", Input)
            table = screen.query_one("#steps")
            writes.clear()
            t0, c0, u0 = time.perf_counter(), time.process_time(), time.thread_time()
            job = app.start_build()
            assert job is not None
            # keys while it runs: open and close the step filter
            while job.running and table.row_count == 0:
                await asyncio.sleep(0.005)
            driver = app._driver
            limit = t0 + float(budget)
            while job.running and time.perf_counter() < limit:
                want = not box.display
                key = events.Key("slash", "/") if want else events.Key("escape", None)
                fut = asyncio.get_running_loop().create_future()
                key_wait.update(screen=screen, box=box, want=want, fut=fut)
                k0 = time.perf_counter()
                driver.send_message(key)
                t_frame = await fut
                latencies.append(t_frame - k0)
                gap_end = time.perf_counter() + float(key_gap)
                while job.running and time.perf_counter() < gap_end:  # a long gap does not delay the end
                    await asyncio.sleep(min(0.005, float(key_gap)))
            done = fed[0]
            cut = job.running
            if cut:  # over budget: stop here and project the total from the lines ingested so far
                t_cut = time.perf_counter()
                app.cancel_build()
            while job.running or job.phase:
                await asyncio.sleep(0.002)
            t_fin = time.perf_counter()
            # the first frame painted after the build was marked finished; one may already have
            # been painted while this loop slept (then no further frame need ever come)
            later = [w for w in writes if w >= t_fin - 0.002]
            try:
                t_end = later[0] if later else await asyncio.wait_for(next_frame(), 5.0)
            except asyncio.TimeoutError:
                t_end = t_fin
            elapsed = (t_cut - t0) if cut else (t_end - t0)
            cpu = time.process_time() - c0  # both threads, and the driver's; not `cat`
            ui_cpu = time.thread_time() - u0  # the UI thread's (this loop's keys and waits included)
            frames = len(writes)
            result = {"time": elapsed, "cpu": cpu, "ui_cpu": ui_cpu, "build_cpu": build_cpu[0] if build_cpu else -1.0,
                      "latencies": latencies, "frames": frames, "outcome": job.outcome,
                      "steps": table.row_count, "lines_done": done if cut else fed[0], "cut": cut}
            await pilot.press("q")
        return result

    out = asyncio.run(main())
    out["vmhwm_kib"] = _vmhwm_kib()
    return out


def _coalesce(app_cls, interval: float) -> None:
    """What-if (--coalesce HZ): hand progress to the UI thread at most HZ times a second, merging the
    changes in between, and always before `finished`. Not the shipped path; shows what coalescing
    would buy."""
    original = app_cls._on_run_event

    def on_run_event(self, job, event):
        st = job.__dict__.setdefault("_bench_coalesce", {"last": 0.0, "pending": False})
        if event.kind == "progress":
            now = time.monotonic()
            if now - st["last"] < interval:
                st["pending"] = True
                return
            st["last"], st["pending"] = now, False
        elif event.kind == "finished" and st["pending"]:
            st["pending"] = False
            original(self, job, type(event)("progress"))
        original(self, job, event)

    app_cls._on_run_event = on_run_event


# --- parent -----------------------------------------------------------------------------------

def _summary(dash: list[dict], tp: float) -> tuple[float, float, list[float], float]:
    td = statistics.median(x["time"] for x in dash)
    lat = [v for x in dash for v in x["latencies"]]
    rss = max(x["vmhwm_kib"] for x in dash) / 1024
    return td, td / tp, lat, rss


def _median_of(runs: list[dict], key: str) -> float:
    """Median of a per-thread CPU time over the rounds (-1: the child did not report it)."""
    values = [x[key] for x in runs if x.get(key, -1) >= 0]
    return statistics.median(values) if values else -1.0


def _run_child(args: list[str], env: dict) -> dict:
    p = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env,
                       timeout=1800)
    if p.returncode != 0:
        raise SystemExit(f"child {args[0]} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _pct(values: list[float], q: float) -> float:
    if not values:  # a replay too short for a key (a small --steps/--lines)
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--budget", type=float, default=60.0,
                    help="seconds a dashboard replay may run before it is stopped and its total projected")
    ap.add_argument("--coalesce", type=float, default=0.0,
                    help="what-if: hand progress to the UI at most this many times a second (0: as shipped)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="lines a second the stream arrives at (0: as fast as the pipe goes); "
                         "measures key latency under a busy but real-world build")
    ap.add_argument("--key-gap", type=float, default=KEY_GAP_S,
                    help="seconds between a key's answer and the next key (default %(default)s: keys as fast as they "
                         "are answered; every key's frames are UI work that also lengthens the replay, so a faster "
                         "answer means more keys and a longer total; 0.2 is a fast typist)")
    ap.add_argument("--baseline-pythonpath", metavar="DIR",
                    help="also run the dashboard with PYTHONPATH=DIR in every round (a directory holding a railpack_tui "
                         "package of other code), the order rotating: a before/after under one load")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.child:
        mode, *rest = ns.child
        out = child_parser(*rest) if mode == "parser" else child_dashboard(*rest)
        print(json.dumps(out))
        return 0

    from bench_progress import generate
    from railpack_tui.core import example

    with tempfile.TemporaryDirectory(prefix="rt-bench-dash-") as d:
        root = Path(d)
        path = root / "stream.rawjson.jsonl"
        size = generate(path, ns.steps, ns.lines)
        nlines = sum(1 for _ in path.open("rb"))
        project = example.prepare(root / "project")
        env = dict(os.environ)
        for k in ("CONFIG", "DATA", "STATE"):
            (root / k.lower()).mkdir()
            env[f"RAILPACK_TUI_{k}_DIR"] = str(root / k.lower())
        env.pop("BUILDKIT_HOST", None)
        print(f"stream: {size / 1e6:.1f} MB, {nlines} lines ({ns.steps} steps x {ns.lines} log lines); "
              f"terminal {SIZE[0]}x{SIZE[1]}")
        parser, dash, base = [], [], []
        args = [str(ns.budget), str(ns.coalesce), str(ns.rate), str(ns.key_gap)]
        sides = {"dashboard": (dash, env)}
        if ns.baseline_pythonpath:
            sides["baseline"] = (base, dict(env, PYTHONPATH=ns.baseline_pythonpath))
        names = list(sides)
        for r in range(ns.rounds):
            p = _run_child(["parser", str(path)], env)
            parser.append(p)
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                into, side_env = sides[name]
                dsh = _run_child(["dashboard", str(path), str(project), *args], side_env)
                if dsh["cut"]:  # stopped at the budget: project the whole stream at the rate reached
                    dsh["measured"] = dsh["time"]
                    dsh["time"] = dsh["time"] * nlines / max(1, dsh["lines_done"])
                into.append(dsh)
                lat = dsh["latencies"]
                how = (f"projected from {dsh['lines_done']} of {nlines} lines in {dsh['measured']:.0f}s"
                       if dsh["cut"] else f"{dsh['outcome']}")
                print(f"round {r + 1}: parser {p['time']:.3f}s  {name} {dsh['time']:.3f}s ({how})  "
                      f"ratio {dsh['time'] / p['time']:.2f}  (CPU {dsh['cpu']:.3f}s vs {p['cpu']:.3f}s: "
                      f"{dsh['cpu'] / p['cpu']:.2f}; UI thread {dsh.get('ui_cpu', -1):.3f}s, build thread "
                      f"{dsh.get('build_cpu', -1):.3f}s; {dsh['frames']} frames, {dsh['steps']} steps); "
                      f"keys n={len(lat)} p50 {_pct(lat, .5) * 1000:.0f} ms "
                      f"p95 {_pct(lat, .95) * 1000:.0f} ms max {max(lat, default=0) * 1000:.0f} ms; "
                      f"peak RSS {dsh['vmhwm_kib'] / 1024:.0f} MiB (parser {p['vmhwm_kib'] / 1024:.0f} MiB)", flush=True)
        tp = statistics.median(x["time"] for x in parser)
        td, ratio, lat, rss = _summary(dash, tp)
        p95 = _pct(lat, .95) if lat else float("nan")
        cut = any(x["cut"] for x in dash)

        def verdict(ok: bool, miss: str) -> str:
            return "met" if ok else f"MISSED by {miss}"

        label = f" (what-if: progress coalesced to {ns.coalesce:g} Hz)" if ns.coalesce else ""
        if ns.rate:
            label += f" (paced at {ns.rate:g} lines/s: the ratio is not meaningful, the key latency is)"
        if ns.key_gap != KEY_GAP_S:
            label += f" (keys {ns.key_gap * 1000:g} ms after the previous answer)"
        print(f"parser alone (baseline): median {tp:.3f}s")
        cpu_ratio = statistics.median(d["cpu"] / p["cpu"] for d, p in zip(dash, parser))
        print(f"CPU time (the process's, less exposed to a noisy machine than wall time): dashboard / parser "
              f"median of the rounds {cpu_ratio:.2f}")
        print(f"threads' CPU (medians): UI {_median_of(dash, 'ui_cpu'):.3f}s, build {_median_of(dash, 'build_cpu'):.3f}s "
              f"(the parser alone: {statistics.median(p['cpu'] for p in parser):.3f}s); the keys' work is the UI's")
        print(f"dashboard replay{label}: median {td:.3f}s{' (projected)' if cut else ''}  ratio {ratio:.2f}  "
              f"(target <= 2.0: {verdict(ratio <= 2.0, f'{ratio - 2.0:.2f}')})")
        print(f"key press -> frame:      n={len(lat)} p50 {_pct(lat, .5) * 1000:.0f} ms  p95 {p95 * 1000:.0f} ms  "
              f"(target <= 100 ms: {verdict(p95 <= 0.1, f'{(p95 - 0.1) * 1000:.0f} ms')})")
        later = [v for x in dash for v in x["latencies"][1:]]
        firsts = [x["latencies"][0] for x in dash if x["latencies"]]
        if later and firsts:  # the first key of a replay lands as the steps appear and pays one-time costs
            print(f"  of which each replay's first key: max {max(firsts) * 1000:.0f} ms; the other keys: "
                  f"p50 {_pct(later, .5) * 1000:.0f} ms  p95 {_pct(later, .95) * 1000:.0f} ms (information, not the verdict)")
        print(f"peak RSS (VmHWM):        {rss:.0f} MiB{' (of the part ingested)' if cut else ''}  "
              f"(target <= 250 MiB: {verdict(rss <= 250, f'{rss - 250:.0f} MiB')})")
        if base:
            bd, bratio, blat, brss = _summary(base, tp)
            bcpu = statistics.median(d["cpu"] / p["cpu"] for d, p in zip(base, parser))
            print(f"baseline code ({ns.baseline_pythonpath}), same rounds: median {bd:.3f}s  ratio {bratio:.2f}  "
                  f"CPU ratio {bcpu:.2f}  UI thread {_median_of(base, 'ui_cpu'):.3f}s  "
                  f"build thread {_median_of(base, 'build_cpu'):.3f}s  "
                  f"keys n={len(blat)} p50 {_pct(blat, .5) * 1000:.0f} ms  p95 {_pct(blat, .95) * 1000:.0f} ms  "
                  f"peak RSS {brss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
