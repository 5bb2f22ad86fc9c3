"""Secrets end to end, against the real sandbox and the real Secret Service (scripts/with-keyring):
save the sandbox registry's password with `registry login --password-stdin`, test the registry,
build with the registry cache (the credential comes from the keyring), run the dashboard and
save screenshots; then search everything railpack-tui wrote (config, data, state, temporary
directories, screenshots, logs, the history database) and every process's arguments and
environment sampled while the build ran: the password is nowhere, in plain text or in the
base64 `user:password` form of a Docker config.

And known secrets are masked in displayed logs: a RUN that prints the registry password (here
from a file in the build context) shows `***` in the CLI's output and the dashboard's log view. A
build arg holding the password is refused before buildctl starts (CLI and dashboard)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from railpack_tui.core import credentials, example
from support import faults
from support.faults import until

pytestmark = [pytest.mark.sandbox]

CLI = [sys.executable, "-m", "railpack_tui.core"]


@pytest.fixture()
def keyring_session():
    st = credentials.keyring_status()
    if not st.usable:
        if os.environ.get("RAILPACK_TUI_REQUIRE_SANDBOX", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"no usable keyring ({st.detail}): run the tests under scripts/with-keyring")
        pytest.skip(f"no usable keyring ({st.detail}): run under scripts/with-keyring")
    return st


@pytest.fixture()
def keyring_login(keyring_session, sandbox, sandbox_credential):
    """The sandbox login these tests put in the Secret Service, put back as it was afterwards: the
    keyring outlives the test, and `sandbox up` may keep the sandbox's own password under this very
    name (deleting it would leave every later test's build anonymous: 401 on export)."""
    import keyring

    service = credentials.service_name(sandbox.registry)
    before = keyring.get_password(service, sandbox_credential.username)
    yield sandbox_credential
    credentials.delete(sandbox.registry, sandbox_credential.username)
    if before is not None:
        keyring.set_password(service, sandbox_credential.username, before)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """Everything railpack-tui may write, in one place: config, data, state, temp files, an empty
    sandbox dir (so the credential can only come from the keyring) and the screenshots."""
    dirs = {}
    for name in ("config", "data", "state", "sandbox", "tmp", "shots"):
        dirs[name] = tmp_path / name
        dirs[name].mkdir()
    env = {"RAILPACK_TUI_CONFIG_DIR": dirs["config"], "RAILPACK_TUI_DATA_DIR": dirs["data"],
           "RAILPACK_TUI_STATE_DIR": dirs["state"], "RAILPACK_TUI_SANDBOX_DIR": dirs["sandbox"],
           "TMPDIR": dirs["tmp"]}
    for k, v in env.items():
        monkeypatch.setenv(k, str(v))
    credentials._session.clear()  # nothing remembered by earlier tests: the keyring must provide it
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(dirs["tmp"]))
    yield dirs
    credentials._session.clear()


def cli(args: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(CLI + args, input=stdin, capture_output=True, text=True, timeout=180, env=dict(os.environ))


def project(root: Path, extra: str = "") -> Path:
    d = root / "secret-app"
    d.mkdir()
    shutil.copy2(example.find_busybox(), d / "busybox")
    (d / "Dockerfile").write_text(f"FROM scratch\nCOPY --chmod=755 busybox /bin/busybox\n{extra}"
                                  'RUN ["/bin/busybox", "sh", "-c", "echo building; /bin/busybox sleep 2; echo built > /out"]\n')
    return d


class ProcSampler:
    """Reads every process's arguments and environment over and over while a build runs."""

    def __init__(self, needles: list[bytes]):
        self.needles = needles
        self.found: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                for part in ("cmdline", "environ"):
                    try:
                        data = open(f"/proc/{entry.name}/{part}", "rb").read()
                    except OSError:
                        continue
                    if any(n in data for n in self.needles):
                        self.found.append(f"pid {entry.name} {part}: {faults.cmdline(int(entry.name))[:200]!r}")
            self.samples += 1
            self._stop.wait(0.02)

    def __enter__(self) -> "ProcSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def files_holding(roots: list[Path], needles: list[bytes]) -> list[str]:
    hits = []
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink():
                data = p.read_bytes()
                hits += [f"{p} holds {n[:3]!r}..." for n in needles if n in data]
    return hits


async def test_the_password_is_nowhere(keyring_login, home, sandbox, sandbox_credential, unique_ref, tmp_path):
    password = sandbox_credential.password
    user = sandbox_credential.username
    needles = [password.encode(), base64.b64encode(f"{user}:{password}".encode())]
    printed: list[str] = []

    # 1. save it: stdin only, into the Secret Service
    r = cli(["registry", "login", unique_ref, "--username", user, "--password-stdin"], stdin=password + "\n")
    printed += [r.stdout, r.stderr]
    assert r.returncode == 0, r.stderr
    assert credentials.load(sandbox.registry, user) is not None  # in the keyring ...
    assert credentials.for_registry(sandbox.registry).source == "keyring"  # ... and what builds will use

    # 2. test the registry with the saved password
    r = cli(["registry", "test", unique_ref, "--username", user, "--json"])
    printed += [r.stdout, r.stderr]
    assert r.returncode == 0, r.stdout
    assert json.loads(r.stdout)["ok"] is True

    # 3. build with the registry cache, watching every process while it runs
    app_dir = project(tmp_path)
    with ProcSampler(needles) as sampler:
        r = cli(["build", str(app_dir), "--cache-ref", unique_ref, "--builder", sandbox.buildkit_host, "--json"])
    printed += [r.stdout, r.stderr]
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert [o["state"] for o in report["cache_export"]] == ["ok"]  # the keyring's password got it in
    assert sampler.samples > 3
    assert sampler.found == []

    # 4. the dashboard: test the registry, build again (cache import from the registry), screenshots
    from tui_support import make_app

    app = make_app(home["config"], project=app_dir, builder=sandbox.buildkit_host, cache_ref=unique_ref)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        from railpack_tui.tui.widgets.registries_checks import RegistryChecks

        await until(pilot, lambda: app.screen.query(RegistryChecks) and app.screen.query_one(RegistryChecks).checks
                    and not app.screen.query_one(RegistryChecks).running, "the registry test ends")
        app.save_screenshot("registries.svg", str(home["shots"]))
        await pilot.press("1")
        with ProcSampler(needles) as sampler:
            await pilot.press("r" if app.state.current else "b")
            job = app.state.current
            await until(pilot, lambda: job is not None and not job.running, "the dashboard build ends")
        assert job.outcome == "success", (job.error, job.model and job.model.error)
        assert [o.state for o in job.model.cache_import] == ["ok"]
        assert sampler.found == []
        await pilot.pause()
        app.save_screenshot("build.svg", str(home["shots"]))
        printed += [app.export_screenshot()]
        printed += [n.message for n in app._notifications]
    assert len(list(home["shots"].glob("*.svg"))) == 2

    # 5. nowhere on disk (the history database included), nowhere printed
    assert list(home["data"].glob("history.sqlite3*")), "the builds were not recorded"
    assert faults.temp_docker_configs(home["tmp"]) == []
    assert files_holding([home[k] for k in ("config", "data", "state", "tmp", "shots", "sandbox")], needles) == []
    # the session sandbox's own files: its daemons' logs and config (its throwaway password file,
    # the one plain-text exception, and the bcrypt htpasswd aside; BuildKit's state is not ours)
    kept = Path(sandbox.dir)
    ours = [p for p in kept.iterdir() if p.is_file() and p.name not in ("registry-password", "htpasswd")]
    assert {p.name for p in ours} >= {"buildkitd.log", "registry.log"}, ours
    assert [f"{p} holds it" for p in ours for n in needles if n in p.read_bytes()] == []
    assert [n for n in needles for text in printed if n.decode() in text] == []


def leaky_project(root: Path, password: str, extra: str = "") -> Path:
    """A RUN that prints the registry password, read from a file in the build context (the user's
    own doing: BuildKit keeps it in a layer)."""
    d = project(root, 'COPY token.txt /token.txt\n'
                      f'RUN ["/bin/busybox", "sh", "-c", "echo token=$(cat /token.txt); echo token=$(cat /token.txt) >&2{extra}"]\n')
    (d / "token.txt").write_text(password)
    return d


def test_known_secrets_are_masked_in_cli_output(keyring_login, home, sandbox, sandbox_credential, unique_ref, tmp_path):
    """The build's own registry password, printed by a RUN."""
    password = sandbox_credential.password
    credentials.save(sandbox_credential)  # the keyring holds it: the build uses it and knows it
    app_dir = leaky_project(tmp_path, password)
    r = cli(["build", str(app_dir), "--cache-ref", unique_ref, "--builder", sandbox.buildkit_host, "--json"])
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert password not in r.stdout + r.stderr
    # and the same build in process: the model's logs (what the CLI and the TUI show) hold ***
    from railpack_tui.core.runner import BuildRequest, run_build

    result = run_build(BuildRequest(path=str(app_dir), cache_ref=unique_ref, builder=sandbox.buildkit_host,
                                    no_cache=True))
    assert result.ok, result.model.error
    echo = next(s for s in result.model.steps if "echo token" in s.name)
    assert echo.logs.lines() == ["token=***", "token=***"] or sorted(echo.logs.lines()) == ["token=***"] * 2
    assert password not in json.dumps(result.report())
    assert report["status"] == "success"


async def test_known_secrets_are_masked_in_the_dashboard_log_view(keyring_login, home, sandbox,
                                                                    sandbox_credential, unique_ref, tmp_path):
    from railpack_tui.tui.widgets.step_logs import StepLogs
    from tui_support import make_app

    password = sandbox_credential.password
    credentials.save(sandbox_credential)
    fresh = uuid.uuid4().hex  # never cached: the step runs and prints
    app_dir = leaky_project(tmp_path, password, extra=f"; echo {fresh}")
    app = make_app(home["config"], project=app_dir, builder=sandbox.buildkit_host, cache_ref=unique_ref)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        job = app.state.current
        await until(pilot, lambda: not job.running, "the build ends")
        assert job.outcome == "success", (job.error, job.model and job.model.error)
        table = app.screen.query_one("#steps")
        step = next(s for s in job.model.steps if "echo token" in s.name)
        table.select_key(str(step.id))
        await pilot.pause()
        logs = app.screen.query_one("#logs", StepLogs)
        shown = "\n".join(str(line) for line in logs.lines)
        assert "token=***" in shown, shown
        assert password not in shown
        assert password not in app.export_screenshot()
        await pilot.press("enter")  # the step's details (its output again)
        await pilot.pause()
        assert type(app.screen).__name__ == "StepDetailsScreen"
        assert password not in app.export_screenshot()


def test_a_build_arg_holding_the_password_is_refused(keyring_login, home, sandbox, sandbox_credential, unique_ref,
                                                     tmp_path):
    """Before buildctl starts: BuildKit would put it in buildctl's arguments and the image's
    metadata, and the history would keep it."""
    password = sandbox_credential.password
    credentials.save(sandbox_credential)
    app_dir = project(tmp_path, 'ARG LEAK\n')
    for json_flag in ([], ["--json"]):
        r = cli(["build", str(app_dir), "--cache-ref", unique_ref, "--builder", sandbox.buildkit_host,
                 "--build-arg", "OK=1", "--build-arg", f"LEAK=x{password}x", *json_flag])
        assert r.returncode == 2, (r.stdout, r.stderr)
        out = r.stdout + r.stderr
        assert password not in out and "Traceback" not in out
        assert "build arg LEAK holds the password" in out and "type=secret" in out
        if json_flag:
            assert json.loads(r.stdout)["error"]["kind"] == "bad-input"
    history = cli(["history", str(app_dir), "--json"])
    assert history.returncode == 0, history.stderr
    assert json.loads(history.stdout)["runs"] == []


async def test_the_dashboard_refuses_a_build_arg_holding_the_password(keyring_login, home, sandbox,
                                                                     sandbox_credential, unique_ref, tmp_path):
    from tui_support import make_app

    password = sandbox_credential.password
    credentials.save(sandbox_credential)
    app_dir = project(tmp_path, 'ARG LEAK\n')
    app = make_app(home["config"], project=app_dir, builder=sandbox.buildkit_host, cache_ref=unique_ref)
    app.state.build_args = {"LEAK": password}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        job = app.state.current
        await until(pilot, lambda: not job.running, "the build ends")
        assert job.outcome != "success"
        assert "build arg LEAK holds the password" in str(job.error)
        await pilot.pause()
        assert password not in app.export_screenshot()
        assert all(password not in str(n.message) for n in app._notifications)
