"""Faults against real components: buildkitd killed in the middle of a build, the registry
killed before the cache export (with and without ignore-error), the registry down when testing,
SIGTERM to `railpack-tui build` during a build, and cancel from the dashboard.

Daemons are killed only in a private sandbox (its own buildkitd and registry in its own
directory), never the session one. Every wait is bounded (a hang fails the test); no assertion is
about how fast anything was."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support import faults
from support.faults import until

pytestmark = [pytest.mark.sandbox]

CLI = [sys.executable, "-m", "railpack_tui.core"]


@pytest.fixture(scope="module")
def private(sandbox):
    """A private sandbox for this module (the session `sandbox` must exist first: its fixture
    sets the test environment up and skips when the tools are missing)."""
    with faults.private_sandbox() as d:
        yield d


@pytest.fixture()
def fresh(private):
    """The private sandbox, restarted if an earlier test killed one of its daemons."""
    info = faults.restart(private)
    assert info.running
    return info


def cli(args: list[str], tmpdir: Path, env: dict | None = None, **kw) -> subprocess.Popen:
    e = dict(os.environ, TMPDIR=str(tmpdir))
    e.update(env or {})
    return subprocess.Popen(CLI + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=e, **kw)


def no_traceback(out: str, err: str) -> None:
    assert "Traceback" not in out and "Traceback" not in err, err


def test_builder_killed_mid_build_cli(fresh, private, tmp_path):
    project, token = faults.slow_project(tmp_path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = cli(["build", str(project), "--builder", fresh.buildkit_host, "--json"], tmpdir)
    faults.wait_until(lambda: faults.find_process(token) or proc.poll() is not None, 60, "the slow step runs")
    assert proc.poll() is None, proc.communicate()
    faults.kill_daemon(private, "buildkitd")
    out, err = proc.communicate(timeout=60)  # ends on its own, no hang
    no_traceback(out, err)
    assert proc.returncode == 1, (out, err)
    report = json.loads(out)
    assert report["status"] == "failed"
    assert report["error"]["kind"] == "builder-lost"
    assert "builder connection lost" in report["error"]["message"]
    assert fresh.buildkit_host in report["error"]["message"]
    assert faults.temp_docker_configs(tmpdir) == []
    # recorded as failed in the history
    h = subprocess.run(CLI + ["history", str(project), "--json"], capture_output=True, text=True, timeout=60)
    no_traceback(h.stdout, h.stderr)
    recorded = json.loads(h.stdout)["runs"]
    assert [r["status"] for r in recorded] == ["failed"], recorded
    h = subprocess.run(CLI + ["history", str(project)], capture_output=True, text=True, timeout=60)
    assert "failed" in h.stdout and "every step cached" not in h.stdout, h.stdout


async def test_builder_killed_mid_build_dashboard(fresh, private, tmp_path):
    from tui_support import make_app

    project, token = faults.slow_project(tmp_path)
    quick = tmp_path / "quick"
    quick.mkdir()
    shutil.copy2(project / "busybox", quick / "busybox")
    (quick / "Dockerfile").write_text(f'FROM scratch\nCOPY --chmod=755 busybox /bin/busybox\nRUN ["/bin/busybox", "echo", "{token}"]\n')
    app = make_app(tmp_path / "settings", project=project, builder=fresh.buildkit_host, cache_ref=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        job = app.state.current
        await until(pilot, lambda: faults.find_process(token), "the slow step runs")
        faults.kill_daemon(private, "buildkitd")
        await until(pilot, lambda: not job.running, "the build ends after its builder died")
        await pilot.pause()
        assert job.outcome == "error"
        assert getattr(job.error, "kind", None) == "builder-lost", job.error
        shown = " ".join(n.message for n in app._notifications)
        assert "builder connection lost" in shown, shown
        assert "Fix:" in shown
        on_screen = str(app.screen.query_one("#build-error").render())
        assert "builder connection lost" in on_screen and "Fix:" in on_screen, on_screen
        assert "failed" in str(app.screen.query_one("#status").render()).lower() or \
               "error" in str(app.screen.query_one("#status").render()).lower()
        # the app stays usable: other screens answer, and a build on a restarted builder works
        await pilot.press("4")
        await pilot.pause()
        assert type(app.screen).__name__ == "HistoryScreen"
        faults.restart(private)
        await pilot.press("1")
        await pilot.pause()
        app.update_state(project=quick)
        await pilot.press("b")
        second = app.state.current
        assert second is not job
        await until(pilot, lambda: not second.running, "the next build ends")
        assert second.outcome == "success", (second.error, second.model and second.model.error)
    h = subprocess.run(CLI + ["history", str(project), "--json"], capture_output=True, text=True, timeout=60)
    assert [r["status"] for r in json.loads(h.stdout)["runs"]] == ["failed"]


@pytest.mark.parametrize("ignore", [False, True], ids=["export-error", "ignore-error"])
def test_registry_killed_before_cache_export(ignore, fresh, private, tmp_path):
    """The registry dies while the last step runs (after the cache import, before the export)."""
    project, token = faults.slow_project(tmp_path, seconds=2)
    ref = f"{fresh.registry}/faults/export:{token[:8]}"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    args = ["build", str(project), "--builder", fresh.buildkit_host, "--cache-ref", ref]
    if ignore:
        args.append("--ignore-export-error")
    # the private sandbox is this process's sandbox: its credential is found without a login
    env = {"RAILPACK_TUI_SANDBOX_DIR": str(private)}
    proc = cli(args, tmpdir, env)
    faults.wait_until(lambda: faults.find_process(token) or proc.poll() is not None, 60, "the slow step runs")
    assert proc.poll() is None, proc.communicate()
    faults.kill_daemon(private, "registry")
    out, err = proc.communicate(timeout=90)
    no_traceback(out, err)
    if ignore:
        assert proc.returncode == 0, (out, err)
        assert "build: success" in out
        assert "cache NOT saved to " + ref in out and "(unreachable)" in out and "ignored" in out, out
    else:
        assert proc.returncode == 1, (out, err)
        assert "build: failed" in out
        assert "export: unreachable " + ref in out
        assert "cache NOT saved to " + ref in out and "(unreachable)" in out, out
    assert faults.temp_docker_configs(tmpdir) == []

    # the same with --json: the export outcome carries the kind
    faults.restart(private)
    project2, token2 = faults.slow_project(tmp_path, seconds=2)
    proc = cli(args[:1] + [str(project2)] + args[2:] + ["--json"], tmpdir, env)
    faults.wait_until(lambda: faults.find_process(token2) or proc.poll() is not None, 60, "the slow step runs")
    faults.kill_daemon(private, "registry")
    out, err = proc.communicate(timeout=90)
    no_traceback(out, err)
    report = json.loads(out)
    [export] = report["cache_export"]
    assert export["ref"] == ref
    if ignore:
        assert (proc.returncode, report["status"], export["state"]) == (0, "success", "ignored-error")
        assert "connection refused" in export["detail"]
    else:
        assert (proc.returncode, report["status"], export["state"]) == (1, "failed", "unreachable")


@pytest.mark.parametrize("ignore", [False, True], ids=["export-error", "ignore-error"])
async def test_registry_killed_before_cache_export_dashboard(ignore, fresh, private, tmp_path, monkeypatch):
    """The dashboard's side: the Export line names the kind (registry unreachable), the build is
    failed (with ignore-error, from the command palette: succeeded, the cache not saved), the app
    still answers keys and history records the outcome."""
    from railpack_tui.tui.widgets.cache_overview import CachePhases
    from tui_support import make_app

    project, token = faults.slow_project(tmp_path, seconds=2)
    ref = f"{fresh.registry}/faults/export-tui:{token[:8]}"
    monkeypatch.setenv("RAILPACK_TUI_SANDBOX_DIR", str(private))
    app = make_app(tmp_path / "settings", project=project, builder=fresh.buildkit_host, cache_ref=ref)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        if ignore:
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"ignore cache export")
            from textual.command import CommandList

            await until(pilot, lambda: any("Toggle ignore cache export errors" in str(o.prompt) for o in
                                           app.screen.query_one(CommandList).options), "the palette offers it")
            await pilot.press("enter")
            await pilot.pause()
            assert app.state.ignore_export_error is True
            assert any("export errors ignored" in str(n.message) for n in app._notifications)
        await pilot.press("b")
        job = app.state.current
        await until(pilot, lambda: faults.find_process(token) or not job.running, "the slow step runs")
        assert job.running, (job.error, job.model and job.model.error)
        faults.kill_daemon(private, "registry")
        await until(pilot, lambda: not job.running, "the build ends after its registry died")
        await pilot.pause()
        outcome, export_state = ("success", "ignored-error") if ignore else ("failed", "unreachable")
        assert job.outcome == outcome, (job.outcome, job.error)
        assert [(o.ref, o.state) for o in job.model.cache_export] == [(ref, export_state)]
        phases = str(app.screen.query_one(CachePhases).render())
        export_line = next(line for line in phases.splitlines() if line.startswith("Export"))
        assert ref in export_line, phases
        if ignore:
            assert "not saved" in export_line and "ignored" in export_line, export_line
        else:
            assert "registry unreachable" in export_line, phases
        await pilot.press("4")
        await pilot.pause()
        assert type(app.screen).__name__ == "HistoryScreen"
    h = subprocess.run(CLI + ["history", str(project), "--json"], capture_output=True, text=True, timeout=60)
    [run] = json.loads(h.stdout)["runs"]
    assert run["status"] == outcome and [o["state"] for o in run["cache_export"]] == [export_state], run


def test_registry_down_when_testing(fresh, private, tmp_path):
    ref = f"{fresh.registry}/faults/down:t"
    faults.kill_daemon(private, "registry")
    proc = cli(["registry", "test", ref, "--timeout", "3", "--json"], tmp_path)
    out, err = proc.communicate(timeout=60)
    no_traceback(out, err)
    assert proc.returncode == 1
    data = json.loads(out)
    assert data["ok"] is False and data["error"]["kind"] == "unreachable"
    assert data["error"]["fix"]
    failed = [c["name"] for c in data["checks"] if not c["ok"] and not c["skipped"]]
    assert failed == ["connect"]
    # the text form names the check and the fix
    proc = cli(["registry", "test", ref, "--timeout", "3"], tmp_path)
    out, err = proc.communicate(timeout=60)
    no_traceback(out, err)
    assert proc.returncode == 1
    assert "unreachable" in (out + err) and "sandbox up" in (out + err)


def test_registry_that_never_answers_times_out(tmp_path):
    """A registry that accepts connections and then says nothing: `timeout`, not a hang."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        port = srv.getsockname()[1]
        proc = cli(["registry", "test", f"127.0.0.1:{port}/faults/silent:t", "--timeout", "2", "--json"], tmp_path)
        out, err = proc.communicate(timeout=60)
    finally:
        srv.close()
    no_traceback(out, err)
    assert proc.returncode == 1
    data = json.loads(out)
    assert data["error"]["kind"] == "timeout", data["error"]
    assert "within 2s" in data["error"]["message"] and data["error"]["fix"]
    assert [c["name"] for c in data["checks"] if not c["ok"] and not c["skipped"]] == ["tls"]  # the first read


def test_sigterm_to_cli_build_leaves_nothing_behind(sandbox, tmp_path, unique_ref):
    project, token = faults.slow_project(tmp_path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = cli(["build", str(project), "--builder", sandbox.buildkit_host, "--cache-ref", unique_ref], tmpdir)
    faults.wait_until(lambda: faults.find_process(token) or proc.poll() is not None, 60, "the slow step runs")
    assert proc.poll() is None, proc.communicate()
    kids = faults.descendants(proc.pid)
    assert kids, "the build runs no engine process"
    groups = {faults.processes()[k][1] for k in kids if k in faults.processes()}
    configs = faults.temp_docker_configs(tmpdir)
    assert len(configs) == 1 and (configs[0] / "config.json").exists()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    no_traceback(out, err)
    assert proc.returncode == -signal.SIGTERM
    faults.wait_until(lambda: not [k for k in kids if faults.pid_alive(k)], 30, "the engine processes exit")
    assert faults.in_groups(groups) == []
    assert faults.temp_docker_configs(tmpdir) == []
    # BuildKit stops the step's process too (the solve was cancelled), it does not run on
    faults.wait_until(lambda: not faults.find_process(token), 30, "the step's process is gone")


async def test_cancel_from_the_dashboard_leaves_nothing_behind(sandbox, tmp_path, unique_ref, monkeypatch):
    import tempfile

    from tui_support import make_app

    project, token = faults.slow_project(tmp_path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    app = make_app(tmp_path / "settings", project=project, builder=sandbox.buildkit_host, cache_ref=unique_ref)
    me = os.getpid()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        job = app.state.current
        await until(pilot, lambda: faults.find_process(token), "the slow step runs")
        assert len(faults.temp_docker_configs(tmpdir)) == 1
        pgid = job.handle.pgid
        assert pgid and faults.in_groups({pgid})
        await pilot.press("c")
        await until(pilot, lambda: not job.running, "the build stops")
        assert job.outcome == "cancelled"
        faults.wait_until(lambda: not faults.in_groups({pgid}), 30, "the engine's process group is gone")
        assert faults.temp_docker_configs(tmpdir) == []
        assert [p for p in faults.descendants(me) if b"buildctl" in faults.cmdline(p)] == []
        faults.wait_until(lambda: not faults.find_process(token), 30, "the step's process is gone")


async def dashboard_registry_test(tmp_path: Path, ref: str):
    """`t` in a dashboard whose cache ref is `ref`, run until the checks end (bounded): the checks
    and the fix line shown under them."""
    from railpack_tui.tui.widgets.registries_checks import RegistryChecks
    from tui_support import make_app

    app = make_app(tmp_path, cache_ref=ref, builder=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await until(pilot, lambda: app.screen.query(RegistryChecks) and app.screen.query_one(RegistryChecks).checks
                    and not app.screen.query_one(RegistryChecks).running, "the registry test ends")
        return app.screen.query_one(RegistryChecks).checks, str(app.screen.query_one("#checks-fix").render())


async def test_registry_down_when_testing_from_the_dashboard(tmp_path):
    """`t` against a registry nobody listens on: the checks end (no hang) at connect, unreachable,
    with the fix on screen."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    checks, fix = await dashboard_registry_test(tmp_path, f"127.0.0.1:{port}/faults/down:t")
    connect = checks["connect"]
    assert not connect.ok and connect.kind == "unreachable"
    assert all(c.skipped for n, c in checks.items() if n not in ("resolve", "connect"))
    assert "Fix:" in fix


async def test_registry_that_never_answers_from_the_dashboard(tmp_path):
    """`t` against a port that accepts and then says nothing: the checks end at tls with kind
    timeout (no hang), and the fix does not tell the dashboard user to 'raise --timeout' (a flag
    the dashboard does not have); it names the command that can wait longer."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        checks, fix = await dashboard_registry_test(tmp_path, f"127.0.0.1:{srv.getsockname()[1]}/faults/silent:t")
        assert (checks["tls"].ok, checks["tls"].kind) == (False, "timeout"), checks["tls"].detail
        assert "Fix:" in fix and "raise --timeout" not in fix, fix
        assert "railpack-tui registry test REF --timeout 30" in " ".join(fix.split()), fix
    finally:
        srv.close()


async def test_a_login_in_the_keyring_and_the_session_is_one_row(tmp_path, monkeypatch):
    """A private sandbox's login sits in the keyring (sandbox up) and in session memory (the fault
    fixture): the Registries screen lists it once (it raised DuplicateKey and ended the app)."""
    from textual.widgets import DataTable

    from railpack_tui.core import credentials
    from support.memory_keyring import MemoryKeyring
    from tui_support import make_app

    import keyring

    monkeypatch.setenv("RAILPACK_TUI_CONFIG_DIR", str(tmp_path / "config"))
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        cred = credentials.Credential("127.0.0.1:5999", "railpack", "pw-in-both-stores")
        credentials.save(cred)
        credentials.remember(cred)
        app = make_app(tmp_path, cache_ref=None, builder=None)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("3")
            await until(pilot, lambda: getattr(app.screen, "keyring", None) is not None, "the keyring check ends")
            await pilot.pause()
            table = app.screen.query_one("#registries-table", DataTable)
            keys = [k.value for k in table.rows]
            assert keys.count("login:127.0.0.1:5999:railpack") == 1, keys
    finally:
        credentials.forget(cred.host, cred.username)
        keyring.set_keyring(previous)
