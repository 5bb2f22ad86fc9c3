"""Build overhead: `railpack-tui build` vs bare `buildctl build` with the same flags, on a
log-heavy project, in alternating pairs against a real sandbox started for this run.

    .venv/bin/python bench/bench_build_overhead.py [--pairs 7] [--log-lines 120000]

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

Pairs alternate which side goes first. Per-pair ratio railpack-tui/bare, then the median
(target <= 1.03). The sandbox (buildkitd + registry) lives in a private temporary directory and is
stopped at the end. Its buildkitd runs with BUILDKIT_STEP_LOG_MAX_SIZE/SPEED=-1: by default
BuildKit clips a step's log after 2 MiB or at 200 KiB/s, and then only ~14k of the lines arrive.
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

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
ARG RUN_ID=0
RUN ["/bin/busybox", "sh", "-c", "echo run $RUN_ID; /bin/busybox seq 1 {n} | /bin/busybox sed 's/^/log line /'"]
"""


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
    n = 0
    for line in p.stdout:  # read it all, as any consumer of --progress=rawjson must
        n += 1
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


BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
from railpack_tui.core import builders, runner
out = {"import runner": time.perf_counter() - t0}
def timed(owner, name, label):
    f = getattr(owner, name)
    def w(*a, **k):
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            out[label] = out.get(label, 0) + time.perf_counter() - t
    setattr(owner, name, w)
timed(builders, "check", "builder probe (buildctl debug workers)")
timed(runner, "_snapshot", "project snapshot")
timed(runner, "_credential_for", "credential lookup (keyring, sandbox)")
timed(runner.BuildRun, "_pump", "buildctl running, every line into the model")
timed(runner, "_after_build", "history + miss explanations")
path, builder, ref, run_id = sys.argv[1:5]
t = time.perf_counter()
r = runner.BuildRun(runner.BuildRequest(path=path, cache_ref=ref, builder=builder, build_args={"RUN_ID": run_id})).run()
out["BuildRun.run total"] = time.perf_counter() - t
print(json.dumps(out))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--log-lines", type=int, default=120_000)
    ns = ap.parse_args()

    from railpack_tui.core import dockerconfig, example, sandbox
    from railpack_tui.core.builders import Builder
    from railpack_tui.core.engines.buildkit import BuildKitEngine
    from railpack_tui.core.runner import BuildRequest

    root = Path(tempfile.mkdtemp(prefix="rt-bench-build-", dir="/tmp"))
    sbx = root / "sandbox"
    info = None
    cfg = None
    try:
        # buildkitd clips step logs (2 MiB, 200 KiB/s by default): lift that so all the lines flow
        os.environ["BUILDKIT_STEP_LOG_MAX_SIZE"] = "-1"
        os.environ["BUILDKIT_STEP_LOG_MAX_SPEED"] = "-1"
        t = time.perf_counter()
        info = sandbox.up(sbx)
        print(f"sandbox up in {time.perf_counter() - t:.1f}s: buildkitd {info.buildkit_host}, registry {info.registry}")
        cred = sandbox.sandbox_credential(info)
        assert cred is not None, "the sandbox stored no credential"
        project = root / "project"
        project.mkdir()
        shutil.copy2(example.find_busybox(), project / "busybox")
        (project / "Dockerfile").write_text(DOCKERFILE.replace("{n}", str(ns.log_lines)))
        ref = f"{info.registry}/bench/overhead:{uuid.uuid4().hex[:8]}"
        env = dict(os.environ)
        for k in ("CONFIG", "DATA", "STATE"):
            (root / k.lower()).mkdir()
            env[f"RAILPACK_TUI_{k}_DIR"] = str(root / k.lower())
        env["RAILPACK_TUI_SANDBOX_DIR"] = str(sbx)
        env.pop("BUILDKIT_HOST", None)
        cfg = dockerconfig.write([cred])
        bare_env = dict(env, DOCKER_CONFIG=str(cfg))
        engine = BuildKitEngine(Builder(addr=info.buildkit_host, source="flag"))

        def bare_argv(run_id: str) -> list[str]:
            req = BuildRequest(path=str(project), cache_ref=ref, builder=info.buildkit_host,
                               build_args={"RUN_ID": run_id})
            return engine.invocation(req, str(cfg)).argv

        def ours_argv(run_id: str) -> list[str]:
            return [str(EXE), "build", str(project), "--builder", info.buildkit_host, "--cache-ref", ref,
                    "--build-arg", f"RUN_ID={run_id}", "--json"]

        print("bare:         " + " ".join(bare_argv("RUN_ID")))
        print("railpack-tui: " + " ".join(ours_argv("RUN_ID")))
        # warm-up (not counted): pulls nothing (scratch), but loads the context and fills the cache ref
        stream: list[bytes] = []
        _bare(bare_argv(uuid.uuid4().hex), bare_env, stream)
        n, size, clipped = _log_lines(stream)
        _, report = _ours(ours_argv(uuid.uuid4().hex), env)
        print(f"warm-up: the stream has {len(stream)} rawjson lines carrying {n} log lines ({size / 1e6:.1f} MB)"
              f"{', CLIPPED by BuildKit' if clipped else ''}; railpack-tui: {report.get('status')}")
        ratios, bares, ourss = [], [], []
        for i in range(ns.pairs):
            if i % 2 == 0:
                b = _bare(bare_argv(uuid.uuid4().hex), bare_env)
                o, report = _ours(ours_argv(uuid.uuid4().hex), env)
            else:
                o, report = _ours(ours_argv(uuid.uuid4().hex), env)
                b = _bare(bare_argv(uuid.uuid4().hex), bare_env)
            executed = report.get("summary", {}).get("executed")
            bares.append(b)
            ourss.append(o)
            ratios.append(o / b)
            print(f"pair {i + 1} ({'bare first' if i % 2 == 0 else 'railpack-tui first'}): bare {b:.3f}s  "
                  f"railpack-tui {o:.3f}s  ratio {o / b:.3f}  (executed steps: {executed})", flush=True)
        # where railpack-tui's time goes: one more build with the runner's phases timed in-process
        p = subprocess.run([sys.executable, "-c", BREAKDOWN, str(project), info.buildkit_host, ref, uuid.uuid4().hex],
                           capture_output=True, text=True, env=env)
        if p.returncode == 0:
            parts = json.loads(p.stdout.strip().splitlines()[-1])
            print("breakdown of one railpack-tui build (in-process, ms): " +
                  "; ".join(f"{k} {v * 1000:.0f}" for k, v in parts.items()))
        med = statistics.median(ratios)
        print(f"bare buildctl:  median {statistics.median(bares):.3f}s")
        print(f"railpack-tui:   median {statistics.median(ourss):.3f}s")
        print(f"median ratio {med:.3f}  (target <= 1.03: "
              f"{'met' if med <= 1.03 else f'MISSED by {(med - 1.03) * 100:.1f} points'})")
    finally:
        if cfg is not None:
            dockerconfig.remove(cfg)
        if info is not None:
            sandbox.down(sbx)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
