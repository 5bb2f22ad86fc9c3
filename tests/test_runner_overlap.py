"""The runner starts the engine before the builder probe answers, and takes the project snapshot
and reads the history while BuildKit builds. What users see must not change: a dead builder is
still exit 3 with its message and leaves no process and no temporary Docker config behind; the
snapshot is the context as the build started (or before it, when the build writes into it); every
build is recorded with its explanations, which compare against the earlier runs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from railpack_tui.core import credentials, example, explain, history, model, project, sandbox as sandbox_mod
from railpack_tui.core.engines import base as engine_base
from railpack_tui.core.errors import EnvironmentProblem
from railpack_tui.core.runner import BuildRequest, BuildRun

BLACKHOLE = "tcp://10.255.255.1:1234"  # nothing answers, packets vanish: the probe ends at its timeout


def _project(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None, busybox: bool = True) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    if busybox:
        shutil_copy(example.find_busybox(), d / "busybox")
        with open(d / "busybox", "ab") as fh:  # a cache key of its own (see conftest.example_project)
            fh.write(b"\0railpack-tui-test-" + os.urandom(8).hex().encode())
    (d / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (d / name).write_text(text)
    return d


def shutil_copy(src, dst) -> None:
    import shutil

    shutil.copy2(src, dst)


def _buildctl_processes_for(addr: str) -> list[str]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmd = open(f"/proc/{entry.name}/cmdline", "rb").read().replace(b"\0", b" ").decode()
            state = open(f"/proc/{entry.name}/stat").read().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if "buildctl" in cmd.split(" ", 1)[0] and addr in cmd and state != "Z":
            found.append(cmd)
    return found


@pytest.fixture()
def silent_builder():
    """A TCP address that accepts connections (the kernel's backlog) and never says a word: a
    buildctl build there waits forever, the probe gives up after its timeout."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    srv.close()


@pytest.mark.parametrize("where", ["silent", "blackhole"])
def test_dead_builder_stops_the_engine_started_before_the_probe_answered(where, silent_builder, tmp_path):
    """The engine starts at once and shows no progress; the probe fails (after its timeout where
    the builder never answers): the run's error is the probe's (exit 3, the address in the
    message), the engine's process group is gone, the temporary Docker config removed, nothing
    recorded, no 'building' phase shown."""
    addr = silent_builder if where == "silent" else BLACKHOLE
    proj = _project(tmp_path, "FROM scratch\nCOPY busybox /bin/busybox\n")
    phases: list[str] = []
    configs: list[Path] = []

    def on_event(ev):
        if ev.kind == "phase":
            phases.append(ev.message)
        if run.docker_config is not None and not configs:
            configs.append(run.docker_config)

    run = BuildRun(BuildRequest(path=str(proj), builder=addr), on_event=on_event)
    t0 = time.monotonic()
    result = run.run()
    assert time.monotonic() - t0 < 30, "a hang guard, not a benchmark"
    assert isinstance(result.error, EnvironmentProblem), result.error
    assert result.error.exit_code == 3 and result.error.kind == "unreachable" and addr in result.error.message
    assert result.returncode is None and not result.cancelled
    assert run.pgid is not None, "the engine was meant to start before the probe answered"
    assert not engine_base.group_alive(run.pgid)
    assert run.pgid not in engine_base.live_process_groups()
    assert _buildctl_processes_for(addr) == []
    assert configs and not configs[0].exists()
    assert phases == [f"checking builder {addr}"]  # as when the probe ran first: no "building with"
    assert result.model is not None and result.model.steps == []
    assert history.runs(str(proj)) == []


def test_dead_builder_on_the_command_line_is_exit_3_with_no_leftovers(tmp_path):
    proj = _project(tmp_path, "FROM scratch\nCOPY busybox /bin/busybox\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    exe = Path(sys.executable).with_name("railpack-tui")
    p = subprocess.run([str(exe), "build", str(proj), "--builder", BLACKHOLE, "--json"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 3, (p.stdout, p.stderr)
    err = json.loads(p.stdout)
    assert err["ok"] is False and err["error"]["kind"] == "unreachable" and BLACKHOLE in err["error"]["message"]
    assert "Traceback" not in p.stderr
    assert list(tmp.iterdir()) == []  # the temporary Docker config went with the run
    assert _buildctl_processes_for(BLACKHOLE) == []
    p = subprocess.run([str(exe), "build", str(proj), "--builder", BLACKHOLE], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 3 and p.stdout == ""
    assert p.stderr.startswith(f"==> checking builder {BLACKHOLE}\nrailpack-tui: error: the builder {BLACKHOLE}"), p.stderr
    assert "==> building" not in p.stderr


def test_snapshot_is_the_context_as_the_build_started(sandbox, tmp_path):
    """A file edited while the build runs (once the snapshot is taken) is not what the history
    recorded: the next build explains the COPY of it as files-changed against this one."""
    proj = _project(tmp_path, 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY app.txt /app.txt\n'
                              'RUN ["/bin/busybox", "sh", "-c", "echo started; /bin/busybox sleep 2"]\n',
                    {"app.txt": "before\n"})
    edited = threading.Event()

    def on_event(ev):
        if ev.kind == "progress" and not edited.is_set() and run.model is not None and any(
                s.state == "running" and "sleep" in s.name for s in run.model.steps):
            assert run.snapshot_taken.wait(30)
            (proj / "app.txt").write_text("edited during the build\n")
            edited.set()

    run = BuildRun(BuildRequest(path=str(proj), builder=sandbox.buildkit_host), on_event=on_event)
    first = run.run()
    assert first.ok and edited.is_set(), (first.status, first.error, first.notes)
    files = history.default().context(first.run_id)["files"]
    assert files["app.txt"]["sha256"] == hashlib.sha256(b"before\n").hexdigest()
    assert set(files) == {"Dockerfile", "app.txt", "busybox"}

    second = BuildRun(BuildRequest(path=str(proj), builder=sandbox.buildkit_host)).run()
    assert second.ok, second.error
    copy = second.model.step_by_name("[2/3] COPY app.txt /app.txt")
    assert copy.state == "executed" and copy.miss["kind"] == "files-changed", copy.miss
    assert copy.miss["modified"] == ["app.txt"] and copy.miss["compared_run"] == first.run_id


def test_a_build_writing_into_its_context_is_snapshotted_before_it_starts(sandbox, tmp_path):
    proj = _project(tmp_path, "FROM scratch\nCOPY busybox /bin/busybox\n")
    result = BuildRun(BuildRequest(path=str(proj), builder=sandbox.buildkit_host, output=str(proj / "out"))).run()
    assert result.ok, result.error
    assert (proj / "out" / "bin" / "busybox").is_file()  # the build wrote into its context...
    files = history.default().context(result.run_id)["files"]
    assert set(files) == {"Dockerfile", "busybox"}  # ...after the snapshot was taken


def test_every_build_is_recorded_with_its_explanations(sandbox, sandbox_credential, tmp_path, unique_ref):
    proj = _project(tmp_path, 'FROM scratch\nCOPY busybox /bin/busybox\nARG V=1\n'
                              'RUN ["/bin/busybox", "sh", "-c", "echo $V"]\n')
    runs = []
    for v in ("1", "2"):
        r = BuildRun(BuildRequest(path=str(proj), builder=sandbox.buildkit_host, cache_ref=unique_ref,
                                  build_args={"V": v})).run()
        assert r.ok, (r.error, r.notes)
        runs.append(r)
    first, second = runs
    step = '[2/2] RUN ["/bin/busybox", "sh", "-c", "echo {}"]'  # BuildKit names it with the value
    assert first.model.step_by_name("[1/2] COPY busybox /bin/busybox").miss["kind"] == "first-build"
    assert first.model.step_by_name(step.format(1)).miss["kind"] == "parent-missed"
    assert second.model.step_by_name("[1/2] COPY busybox /bin/busybox").state == "cached"
    miss = second.model.step_by_name(step.format(2)).miss
    assert miss["kind"] == "build-arg-changed" and miss["args"] == ["V"] and miss["compared_run"] == first.run_id
    assert isinstance(first.run_id, int) and second.run_id > first.run_id
    for r in runs:  # the history holds each run with the very explanations its report shows
        stored = history.get(r.run_id)
        assert stored is not None and stored.status == "success"
        assert {s.name: s.miss for s in stored.steps} == {s.name: s.miss for s in r.model.steps}
        assert r.report()["run_id"] == r.run_id
    assert [o.state for o in second.model.cache_import] == ["ok"]


def test_explanations_read_again_when_a_run_was_recorded_after_the_read_ahead(tmp_path):
    """The runner reads the earlier runs while the build runs; when another build of the project is
    recorded meanwhile, the explanation compares with that newer run, not the stale read-ahead."""
    d = _project(tmp_path, "FROM scratch\nCOPY a.txt /a.txt\n", {"a.txt": "1"}, busybox=False)
    p = project.detect(d)
    h = history.History.open(tmp_path / "h.sqlite3")
    info = {"project": p.path, "debug_addr": None}
    name = "[1/1] COPY a.txt /a.txt"
    stream = [json.dumps({"vertexes": [{"digest": "sha256:" + "d" * 64, "name": "[internal] load build context",
                                        "started": "2026-12-03T10:00:00Z", "completed": "2026-12-03T10:00:01Z"}]}),
              json.dumps({"vertexes": [{"digest": "sha256:" + "e" * 64, "name": name, "inputs": ["sha256:" + "d" * 64],
                                        "started": "2026-12-03T10:00:01Z", "completed": "2026-12-03T10:00:02Z"}]})]
    first = h.record(info, model.load(stream, returncode=0), project.snapshot(p, {}))
    ahead = explain.Earlier(h, p.path)
    assert [r.id for r in ahead.runs] == [first]
    (d / "a.txt").write_text("2")
    second = h.record(info, model.load(stream, returncode=0), project.snapshot(p, {}))  # recorded meanwhile
    assert not ahead.current(h, p.path, None)
    (d / "a.txt").write_text("3")
    m = model.load(stream, returncode=0)
    explain.annotate(m, project.snapshot(p, {}), h, info, earlier=ahead)
    assert m.step_by_name(name).miss["kind"] == "files-changed" and m.step_by_name(name).miss["compared_run"] == second
    assert explain.Earlier(h, p.path).current(h, p.path, None)


def test_snapshot_parses_its_dockerfile_once(tmp_path):
    p = project.detect(_project(tmp_path, "FROM scratch AS a\nCOPY x /x\nFROM a\nRUN true\n", {"x": "x"}, busybox=False))
    snap = project.snapshot(p, {})
    assert snap.dockerfile() is p.parsed and snap.dockerfile() is snap.dockerfile()
    assert "_parsed" not in snap.to_json()
    again = project.ProjectSnapshot.from_json(json.loads(json.dumps(snap.to_json())))
    assert again.dockerfile() is not None and [s.display for s in again.dockerfile().stages] == ["a", "stage-1"]


def test_sandbox_credential_without_importing_the_sandbox_module(sandbox, sandbox_credential):
    assert (credentials.SANDBOX_STATE_FILE, credentials.SANDBOX_PASSWORD_FILE) == (sandbox_mod.STATE_FILE,
                                                                                   sandbox_mod.PASSWORD_FILE)
    code = ("import json, sys\nfrom railpack_tui.core import credentials\n"
            f"c = credentials.for_registry({sandbox.registry!r})\n"
            "print(json.dumps([c.username, c.source, 'railpack_tui.core.sandbox' in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, RAILPACK_TUI_SANDBOX_DIR=sandbox.dir))
    username, source, imported = json.loads(out.stdout)
    assert username == sandbox_credential.username
    if (Path(sandbox.dir) / sandbox_mod.PASSWORD_FILE).exists():  # no keyring: the sandbox's 0600 file
        assert (source, imported) == ("sandbox", False)
    else:  # `sandbox up` saved it in the keyring, with its name in the index
        assert source in ("keyring", "sandbox")
    assert credentials.for_registry(sandbox.registry).password == sandbox_credential.password
    assert credentials.for_registry("127.0.0.1:1") is None


def test_console_script_build_exits_with_its_result_and_keeps_the_record(sandbox, tmp_path):
    """`railpack-tui build` ends without the interpreter's teardown (cli.skip_teardown): the report
    is complete, the exit code is the build's, and the history record is on disk."""
    proj = _project(tmp_path, 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "true"]\n')
    exe = Path(sys.executable).with_name("railpack-tui")
    argv = [str(exe), "build", str(proj), "--builder", sandbox.buildkit_host, "--json"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["status"] == "success"
    stored = history.History.open().get(report["run_id"])  # a fresh connection: what the process left on disk
    assert stored is not None and stored.status == "success" and len(stored.steps) == 2
    (proj / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "false"]\n')
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and json.loads(p.stdout)["status"] == "failed", p.stderr
    p = subprocess.run(argv[:-1], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "build: failed" in p.stdout and p.stdout.endswith("\n"), p.stdout
