"""Credentials against a real Secret Service (gnome-keyring in a private D-Bus session: run under
`scripts/with-keyring`) and the real no-keyring case (keyring's `fail` backend in a subprocess),
through the `registry login|list|logout|test` command line."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keyring
import pytest

from railpack_tui.core import credentials
from railpack_tui.core.credentials import Credential

CLI = str(Path(sys.executable).parent / "railpack-tui")
IN_KEYRING_SESSION = os.environ.get("RAILPACK_TUI_IN_KEYRING_SESSION") == "1"


@pytest.fixture()
def secret_service():
    if not IN_KEYRING_SESSION:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("run the suite under scripts/with-keyring (a real Secret Service)")
        pytest.skip("needs a real Secret Service: run under scripts/with-keyring")
    st = credentials.keyring_status()
    assert st.usable and "SecretService" in st.backend, st
    return st


@pytest.fixture()
def dirs(tmp_path):
    """Isolated config/data/state dirs for a subprocess, and its environment."""
    env = dict(os.environ)
    d = {}
    for name in ("CONFIG", "DATA", "STATE"):
        d[name] = tmp_path / name.lower()
        env[f"RAILPACK_TUI_{name}_DIR"] = str(d[name])
    env.pop("PYTHON_KEYRING_BACKEND", None)
    return d, env


def _cli(env, *args, password: str | None = None, timeout=60):
    return subprocess.run([CLI, *args], input=(password or "").encode(), capture_output=True, env=env, timeout=timeout)


def _files_containing(roots, needle: bytes) -> list[str]:
    hits = []
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    if needle in Path(p).read_bytes():
                        hits.append(p)
                except OSError:
                    pass
    return hits


def _argv_and_environ_hits(needle: bytes) -> list[str]:
    hits = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for what in ("cmdline", "environ"):
            try:
                if needle in Path(f"/proc/{pid}/{what}").read_bytes():
                    hits.append(f"{pid}/{what}")
            except OSError:
                pass
    return hits


def test_real_secret_service_round_trip(secret_service, tmp_path, monkeypatch):
    monkeypatch.setenv("RAILPACK_TUI_CONFIG_DIR", str(tmp_path / "config"))
    cred = Credential("secret-service.test:5000", "erin", "pw-" + os.urandom(8).hex())
    credentials.save(cred)
    try:
        # the secret really is in the Secret Service, under our service name
        assert keyring.get_password(credentials.service_name(cred.host), "erin") == cred.password
        assert credentials.load(cred.host, "erin").password == cred.password
        assert credentials.for_registry(cred.host).password == cred.password
        assert [(s.host, s.username) for s in credentials.list_saved()] == [(cred.host, "erin")]
        assert _files_containing([tmp_path], cred.password.encode()) == []
    finally:
        assert credentials.delete(cred.host, "erin") is True
    assert keyring.get_password(credentials.service_name(cred.host), "erin") is None
    assert credentials.list_saved() == []


def test_login_reads_stdin_only_and_leaves_the_password_nowhere(secret_service, sandbox, sandbox_credential, dirs):
    d, env = dirs
    password = sandbox_credential.password
    proc = subprocess.Popen([CLI, "registry", "login", sandbox.registry, "--username", sandbox_credential.username,
                             "--password-stdin", "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        seen = _argv_and_environ_hits(password.encode())
        proc.stdin.write(password.encode() + b"\n")
        proc.stdin.close()
        while proc.poll() is None:
            seen += _argv_and_environ_hits(password.encode())
            time.sleep(0.01)
        out, err = proc.stdout.read(), proc.stderr.read()
        assert proc.returncode == 0, err
        assert seen == []
        assert password.encode() not in out + err
        assert json.loads(out)["username"] == sandbox_credential.username
        assert _files_containing(d.values(), password.encode()) == []
        # the keyring holds it now; the saved name is listed, the secret is not
        ls = _cli(env, "registry", "list", "--json")
        assert ls.returncode == 0 and password.encode() not in ls.stdout
        names = [(c["host"], c["username"]) for c in json.loads(ls.stdout)["credentials"]]
        assert (sandbox.registry, sandbox_credential.username) in names
        # a registry test by username takes the password from the keyring (not the sandbox file)
        env_no_sandbox = dict(env, RAILPACK_TUI_SANDBOX_DIR=str(d["STATE"] / "no-sandbox"))
        t = _cli(env_no_sandbox, "registry", "test", f"{sandbox.registry}/tests/keyring-login:x", "-u", sandbox_credential.username)
        assert t.returncode == 0, t.stdout.decode() + t.stderr.decode()
        assert b"(keyring)" in t.stdout and password.encode() not in t.stdout + t.stderr
        lo = _cli(env, "registry", "logout", sandbox.registry, "-u", sandbox_credential.username, "--json")
        assert lo.returncode == 0 and json.loads(lo.stdout)["removed"] is True
        t = _cli(env_no_sandbox, "registry", "test", f"{sandbox.registry}/tests/keyring-login:x", "-u", sandbox_credential.username)
        assert t.returncode == 2 and b"No password is saved" in t.stderr
    finally:
        if proc.poll() is None:
            proc.kill()
        # the sandbox may keep its own password under the same keyring name: put it back
        if sandbox_credential.password and "keyring" in (sandbox.credential_store or ""):
            credentials.save(Credential(sandbox.registry, sandbox_credential.username, sandbox_credential.password))


def test_login_refuses_a_password_not_on_stdin(dirs):
    _, env = dirs
    r = _cli(env, "registry", "login", "reg.example.com", "--username", "u")
    assert r.returncode == 2 and b"standard input only" in r.stderr


# --- no keyring -----------------------------------------------------------------------------------

@pytest.fixture()
def no_keyring_env(dirs):
    d, env = dirs
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return d, env


def test_login_without_a_keyring_exits_3_and_writes_nothing(no_keyring_env):
    d, env = no_keyring_env
    secret = "never-on-disk-" + os.urandom(6).hex()
    r = _cli(env, "registry", "login", "reg.example.com:5000", "-u", "alice", "--password-stdin", password=secret)
    assert r.returncode == 3
    err = r.stderr.decode()
    assert "No usable keyring" in err and "Secret Service" in err and "PYTHON_KEYRING_BACKEND" in err
    assert "Traceback" not in err and secret not in err
    assert _files_containing([p for p in d.values() if p.exists()], secret.encode()) == []
    j = _cli(env, "registry", "login", "reg.example.com:5000", "-u", "alice", "--password-stdin", "--json", password=secret)
    assert j.returncode == 3 and json.loads(j.stdout)["error"]["kind"] == "no-keyring"


def test_list_without_a_keyring_says_so(no_keyring_env):
    _, env = no_keyring_env
    r = _cli(env, "registry", "list", "--json")
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["keyring"]["usable"] is False and data["credentials"] == []


def test_registry_test_by_username_without_a_keyring_exits_3(no_keyring_env, sandbox):
    _, env = no_keyring_env
    env = dict(env, RAILPACK_TUI_SANDBOX_DIR=env["RAILPACK_TUI_STATE_DIR"] + "/none")
    r = _cli(env, "registry", "test", f"{sandbox.registry}/tests/nokeyring:x", "-u", "someone")
    assert r.returncode == 3 and b"No usable keyring" in r.stderr


def test_registry_test_with_password_stdin_needs_no_keyring(no_keyring_env, sandbox, sandbox_credential):
    _, env = no_keyring_env
    r = _cli(env, "registry", "test", f"{sandbox.registry}/tests/nokeyring:x", "-u", sandbox_credential.username,
             "--password-stdin", "--json", password=sandbox_credential.password)
    assert r.returncode == 0, r.stdout
    data = json.loads(r.stdout)
    assert data["ok"] is True and [c["name"] for c in data["checks"]] == list(("resolve", "connect", "tls", "ping", "auth", "pull", "push", "cache"))
    assert sandbox_credential.password.encode() not in r.stdout + r.stderr


def test_login_verifies_the_password_before_saving(secret_service, sandbox, sandbox_credential, dirs):
    _, env = dirs
    wrong = "wrong-" + os.urandom(6).hex()
    r = _cli(env, "registry", "login", sandbox.registry, "-u", "nobody", "--password-stdin", "--json", password=wrong)
    data = json.loads(r.stdout)
    assert r.returncode == 1 and data["saved"] is False and data["error"]["kind"] == "unauthorized"
    assert wrong.encode() not in r.stdout + r.stderr
    names = json.loads(_cli(env, "registry", "list", "--json").stdout)["credentials"]
    assert ("nobody" not in [c["username"] for c in names])
    assert keyring.get_password(credentials.service_name(sandbox.registry), "nobody") is None
    # --no-verify saves it anyway (an offline registry, say)
    r = _cli(env, "registry", "login", sandbox.registry, "-u", "nobody", "--password-stdin", "--no-verify", "--json", password=wrong)
    try:
        assert r.returncode == 0 and json.loads(r.stdout)["verified"] is False
        assert keyring.get_password(credentials.service_name(sandbox.registry), "nobody") == wrong
    finally:
        assert _cli(env, "registry", "logout", sandbox.registry, "-u", "nobody").returncode == 0
    assert keyring.get_password(credentials.service_name(sandbox.registry), "nobody") is None
