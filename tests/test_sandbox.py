"""The sandbox's own lifecycle, on a private sandbox (real buildkitd + registry)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from railpack_tui.core import sandbox

pytestmark = pytest.mark.sandbox


def _cli(d: Path, *args):
    env = dict(os.environ, RAILPACK_TUI_SANDBOX_DIR=str(d))
    return subprocess.run([sys.executable, "-m", "railpack_tui.core", "sandbox", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture()
def private_sandbox(sandbox):  # depends on `sandbox` only for its tool/root checks
    d = Path(tempfile.mkdtemp(prefix="rt-own-", dir="/tmp"))
    yield d
    _cli(d, "down")
    shutil.rmtree(d, ignore_errors=True)


def test_up_status_env_down(private_sandbox):
    d = private_sandbox
    up = _cli(d, "up", "--json")
    assert up.returncode == 0, up.stderr
    info = json.loads(up.stdout)
    assert info["ok"] and info["running"]
    assert info["buildkit_host"] == f"unix://{d}/buildkitd.sock"
    host = info["registry"]
    assert host.startswith("127.0.0.1:")
    assert info["debug_addr"].startswith("127.0.0.1:")
    # the registry really demands authentication
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"http://{host}/v2/", timeout=2)
    assert exc.value.code == 401
    assert "Basic" in exc.value.headers.get("Www-Authenticate", "")
    # and the stored credential opens it
    cred = sandbox.sandbox_credential(sandbox.load(d))
    assert cred is not None and cred.username == "railpack" and len(cred.password) >= 20
    req = urllib.request.Request(f"http://{host}/v2/")
    import base64

    req.add_header("Authorization", "Basic " + base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode())
    assert urllib.request.urlopen(req, timeout=2).status == 200
    assert "keyring" in info["credential_store"] or "0600" in info["credential_store"]
    pw_file = d / sandbox.PASSWORD_FILE
    if pw_file.exists():
        assert (pw_file.stat().st_mode & 0o777) == 0o600
    assert (d.stat().st_mode & 0o777) == 0o700

    # idempotent: same processes
    again = json.loads(_cli(d, "up", "--json").stdout)
    assert again["buildkitd"]["pid"] == info["buildkitd"]["pid"]
    assert again["registry_daemon"]["pid"] == info["registry_daemon"]["pid"]

    env = _cli(d, "env")
    assert env.stdout.splitlines() == [f"export BUILDKIT_HOST=unix://{d}/buildkitd.sock",
                                       f"export RAILPACK_TUI_SANDBOX_REGISTRY={host}"]
    st = _cli(d, "status")
    assert st.returncode == 0 and "running" in st.stdout

    pids = [info["buildkitd"]["pid"], info["registry_daemon"]["pid"]]
    down = _cli(d, "down")
    assert down.returncode == 0 and "buildkitd" in down.stdout and "registry" in down.stdout
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or b"zombie" in Path(f"/proc/{pid}/status").read_bytes().lower()
    assert _cli(d, "status").returncode == 1
    assert not (d / sandbox.PASSWORD_FILE).exists()


def test_status_detects_a_crash_and_up_restarts(private_sandbox):
    d = private_sandbox
    info = json.loads(_cli(d, "up", "--json").stdout)
    os.kill(info["registry_daemon"]["pid"], signal.SIGKILL)
    time.sleep(0.5)
    st = _cli(d, "status", "--json")
    assert st.returncode == 1
    data = json.loads(st.stdout)
    assert data["registry_daemon"]["alive"] is False
    assert data["buildkitd"]["alive"] is True
    human = _cli(d, "status")
    assert "CRASHED" in human.stdout
    up = json.loads(_cli(d, "up", "--json").stdout)
    assert up["running"]
    assert up["registry"] == info["registry"], "the registry port is kept across restarts"


def test_down_spares_a_reused_pid(private_sandbox):
    """`down` checks the command line, not only the pid: an unrelated process is never killed."""
    d = private_sandbox
    _cli(d, "up")
    state = json.loads((d / sandbox.STATE_FILE).read_text())
    victim = subprocess.Popen(["sleep", "30"])
    try:
        state["registry_daemon"]["pid"] = victim.pid
        (d / sandbox.STATE_FILE).write_text(json.dumps(state))
        _cli(d, "down")
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()
    # the real registry process (no longer recorded) is cleaned up here
    subprocess.run(["pkill", "-f", f"{d}/registry.yml"], check=False)


def test_env_without_sandbox_is_an_environment_error(tmp_path):
    r = _cli(tmp_path / "none", "env")
    assert r.returncode == 3
    assert "sandbox up" in r.stderr
    assert "Traceback" not in r.stderr


def _daemons_of(d: Path) -> list[int]:
    """Pids of every process whose command line names this sandbox directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(d).encode() in (proc / "cmdline").read_bytes() and b"railpack_tui" not in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                pass
    return sorted(pids)


def test_two_ups_at_once_share_one_sandbox(private_sandbox):
    """Two dashboards (or two `serve` tabs) starting at the same moment both call `up`: they get the
    same running sandbox. Without a lock the second one saw the first one's half-written state,
    "restarted" it, and one of them failed with "the sandbox registry did not start"."""
    d = private_sandbox
    env = dict(os.environ, RAILPACK_TUI_SANDBOX_DIR=str(d))
    argv = [sys.executable, "-m", "railpack_tui.core", "sandbox", "up", "--json"]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0, (out, err)
    infos = [json.loads(out) for _, out, _ in results]
    assert all(i["running"] for i in infos)
    assert infos[0]["buildkitd"]["pid"] == infos[1]["buildkitd"]["pid"]
    assert infos[0]["registry_daemon"]["pid"] == infos[1]["registry_daemon"]["pid"]
    assert _daemons_of(d) == sorted([infos[0]["buildkitd"]["pid"], infos[0]["registry_daemon"]["pid"]])
    st = _cli(d, "status", "--json")
    assert st.returncode == 0 and json.loads(st.stdout)["registry"] == infos[0]["registry"]


def test_env_json_is_json(sandbox, capsys):
    """`sandbox env --json` printed the shell `export` lines (only its error was JSON)."""
    from railpack_tui.core import cli

    assert cli.main(["sandbox", "env", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"ok": True, "env": {"BUILDKIT_HOST": sandbox.buildkit_host, "RAILPACK_TUI_SANDBOX_REGISTRY": sandbox.registry}}
    assert cli.main(["sandbox", "env"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"export BUILDKIT_HOST={sandbox.buildkit_host}",
                                                    f"export RAILPACK_TUI_SANDBOX_REGISTRY={sandbox.registry}"]


def test_up_restarts_a_sandbox_whose_password_this_session_cannot_read(private_sandbox, capsys, monkeypatch):
    """Started in a session with a keyring (the password went there), used from one without: every
    build reached the registry anonymously (401) while `sandbox up` said "already running". Now
    `status` says why and `up` restarts it with a new password, on the same port."""
    import base64

    import keyring
    from keyring.backends import fail

    from railpack_tui.core import cli
    from support.memory_keyring import MemoryKeyring

    d = private_sandbox
    before = keyring.get_keyring()
    try:
        keyring.set_keyring(MemoryKeyring())
        first = sandbox.up(d)
        assert first.credential_store.startswith("keyring") and sandbox.sandbox_credential(first) is not None
        keyring.set_keyring(fail.Keyring())  # the next session: no Secret Service
        assert sandbox.sandbox_credential(sandbox.load(d)) is None
        monkeypatch.setenv("RAILPACK_TUI_SANDBOX_DIR", str(d))
        assert cli.main(["sandbox", "status"]) == 0
        assert "password cannot be read in this session" in capsys.readouterr().out
        again = sandbox.up(d)
    finally:
        keyring.set_keyring(before)
    assert again.running and again.registry == first.registry
    assert again.registry_daemon.pid != first.registry_daemon.pid
    cred = sandbox.sandbox_credential(again)
    assert cred is not None and "0600" in again.credential_store  # no keyring now: the sandbox's own 0600 file
    req = urllib.request.Request(f"http://{again.registry}/v2/")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode())
    assert urllib.request.urlopen(req, timeout=2).status == 200


def test_a_restart_waits_briefly_for_its_previous_registry_port(private_sandbox):
    """Under load, a restart found the registry port still held by the daemon it had just stopped
    and moved the registry to another port (cache refs in it then point nowhere)."""
    import socket
    import threading

    d = private_sandbox
    first = sandbox.up(d)
    sandbox.down(d)
    host, port = first.registry.split(":")
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind((host, int(port)))
    holder.listen()
    threading.Timer(0.5, holder.close).start()  # like a daemon whose exit is not finished yet
    again = sandbox.up(d)
    assert again.running and again.registry == first.registry
