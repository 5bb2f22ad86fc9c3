"""Credentials with an in-memory keyring backend (pure unit tests), the no-keyring case (the real
`fail` backend), session memory, the names-only index, the user's Docker config (opt-in), and the
one resolution function for builds."""

import json
import os
import stat
import sys
import textwrap

import keyring
import pytest
from keyring.backends import fail

from railpack_tui.core import credentials
from railpack_tui.core.credentials import Credential, NoKeyring
from support.memory_keyring import MemoryKeyring

SECRET = "s3cr3t-Pa55word-for-tests"


class PlaintextKeyring(MemoryKeyring):
    """Named like keyrings.alt's plain-text backend, which must never be used silently."""


@pytest.fixture()
def config_dir(tmp_path, monkeypatch):
    d = tmp_path / "config"
    monkeypatch.setenv("RAILPACK_TUI_CONFIG_DIR", str(d))
    monkeypatch.setenv("RAILPACK_TUI_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    yield d
    credentials._session.clear()


@pytest.fixture()
def use_backend():
    before = keyring.get_keyring()

    def use(backend):
        keyring.set_keyring(backend)
        return backend

    yield use
    keyring.set_keyring(before)


@pytest.fixture()
def memory(use_backend, config_dir):
    return use_backend(MemoryKeyring())


@pytest.fixture()
def no_keyring(use_backend, config_dir):
    return use_backend(fail.Keyring())


def _files_contain(root, needle: str) -> list[str]:
    hits = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                if needle.encode() in open(p, "rb").read():
                    hits.append(p)
            except OSError:
                pass
    return hits


def test_repr_and_str_mask_the_password():
    c = Credential("reg.io", "alice", SECRET, "keyring")
    for text in (repr(c), str(c), f"{c}", repr([c]), repr({"c": c})):
        assert SECRET not in text and "***" in text


def test_save_load_list_delete_round_trip(memory, config_dir):
    credentials.save(Credential("reg.io:5000", "alice", SECRET))
    assert memory.store[(credentials.service_name("reg.io:5000"), "alice")] == SECRET
    got = credentials.load("reg.io:5000", "alice")
    assert got is not None and got.password == SECRET and got.source == "keyring"
    assert [(s.host, s.username, s.store) for s in credentials.list_saved()] == [("reg.io:5000", "alice", "keyring")]
    assert credentials.delete("reg.io:5000", "alice") is True
    assert credentials.load("reg.io:5000", "alice") is None
    assert credentials.list_saved() == []
    assert credentials.delete("reg.io:5000", "alice") is False


def test_the_index_holds_names_only_and_is_private(memory, config_dir):
    credentials.save(Credential("reg.io", "alice", SECRET))
    index = config_dir / credentials.INDEX_FILE
    assert stat.S_IMODE(index.stat().st_mode) == 0o600
    data = json.loads(index.read_text())
    assert [(e["host"], e["username"]) for e in data["entries"]] == [("reg.io", "alice")]
    assert _files_contain(config_dir, SECRET) == []


def test_saving_again_replaces_the_entry(memory, config_dir):
    credentials.save(Credential("reg.io", "alice", "one"))
    credentials.save(Credential("reg.io", "alice", "two"))
    assert len(credentials.list_saved()) == 1
    assert credentials.load("reg.io", "alice").password == "two"


def test_no_keyring_is_a_clear_exit_3_naming_the_fixes(no_keyring, config_dir):
    st = credentials.keyring_status()
    assert not st.usable and "fail" in st.backend
    with pytest.raises(NoKeyring) as e:
        credentials.save(Credential("reg.io", "alice", SECRET))
    err = e.value
    assert err.exit_code == 3 and err.kind == "no-keyring"
    for word in ("Secret Service", "gnome-keyring", "keyring backend package", "PYTHON_KEYRING_BACKEND", "session only"):
        assert word in err.fix
    with pytest.raises(NoKeyring):
        credentials.load("reg.io", "alice")
    with pytest.raises(NoKeyring):
        credentials.require_keyring()
    # nothing fell back to disk
    assert not config_dir.exists() or _files_contain(config_dir, SECRET) == []


def test_a_plaintext_backend_is_not_used_silently(use_backend, config_dir):
    use_backend(PlaintextKeyring())
    assert not credentials.keyring_status().usable
    with pytest.raises(NoKeyring):
        credentials.save(Credential("reg.io", "alice", SECRET))


def test_session_memory_works_without_a_keyring(no_keyring, config_dir):
    kept = credentials.remember(Credential("reg.io", "alice", SECRET))
    assert kept.source == "session"
    assert credentials.for_registry("reg.io") == kept
    assert credentials.for_registry("reg.io", "alice") == kept
    assert credentials.for_registry("reg.io", "bob") is None
    assert [(s.host, s.username, s.store) for s in credentials.list_saved()] == [("reg.io", "alice", "session")]
    assert credentials.forget("reg.io", "alice") is True
    assert credentials.for_registry("reg.io") is None
    assert not config_dir.exists() or _files_contain(config_dir, SECRET) == []


def test_for_registry_order_session_then_keyring_newest_first(memory, config_dir):
    credentials.save(Credential("reg.io", "old", "pw-old"))
    credentials.save(Credential("reg.io", "new", "pw-new"))
    assert credentials.for_registry("reg.io").username == "new"
    assert credentials.for_registry("reg.io", "old").password == "pw-old"
    assert credentials.for_registry("other.io") is None
    credentials.remember(Credential("reg.io", "temp", "pw-temp"))
    assert credentials.for_registry("reg.io").username == "temp"
    assert credentials.for_registry("reg.io", "old").source == "keyring"


def test_for_registry_skips_an_unusable_keyring_without_raising(no_keyring, config_dir):
    assert credentials.for_registry("reg.io", "alice") is None


# --- the user's Docker config ---------------------------------------------------------------------

def _docker_config(tmp_path, monkeypatch, data: dict):
    d = tmp_path / "docker"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(data))
    monkeypatch.setenv("DOCKER_CONFIG", str(d))
    return d / "config.json"


def test_docker_config_auths_are_used_only_when_chosen(memory, config_dir, tmp_path, monkeypatch):
    import base64

    token = base64.b64encode(f"carol:{SECRET}".encode()).decode()
    f = _docker_config(tmp_path, monkeypatch, {"auths": {"reg.io:5000": {"auth": token},
                                                        "https://index.docker.io/v1/": {"auth": token}}})
    before = f.read_bytes()
    assert credentials.for_registry("reg.io:5000") is None
    got = credentials.for_registry("reg.io:5000", use_docker_config=True)
    assert (got.username, got.password, got.source) == ("carol", SECRET, "docker-config")
    assert credentials.from_docker_config("docker.io").username == "carol"
    assert credentials.from_docker_config("elsewhere.io") is None
    assert f.read_bytes() == before  # read-only


def test_docker_credential_helper_is_asked_over_stdin(memory, config_dir, tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-rttestdouble"
    # a credential-helper test double: answers `get` with the server URL it read on stdin
    helper.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys
        assert sys.argv[1:] == ["get"]
        server = sys.stdin.read().strip()
        if server != "helped.io":
            print("credentials not found in native keychain"); sys.exit(1)
        print(json.dumps({{"ServerURL": server, "Username": "dave", "Secret": "{SECRET}"}}))
        """))
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    _docker_config(tmp_path, monkeypatch, {"credHelpers": {"helped.io": "rttestdouble"}, "credsStore": "rttestdouble"})
    got = credentials.from_docker_config("helped.io")
    assert (got.username, got.password, got.source) == ("dave", SECRET, "docker-credential-helper")
    assert credentials.from_docker_config("unknown.io") is None


def test_a_missing_credential_helper_says_what_to_install(memory, config_dir, tmp_path, monkeypatch):
    _docker_config(tmp_path, monkeypatch, {"credHelpers": {"reg.io": "nosuchhelper"}})
    with pytest.raises(credentials.EnvironmentProblem) as e:
        credentials.from_docker_config("reg.io")
    assert "docker-credential-nosuchhelper" in str(e.value)


def test_temporary_docker_config_uses_the_keys_buildkit_looks_up(tmp_path):
    from railpack_tui.core import dockerconfig

    creds = [Credential("docker.io", "hubuser", SECRET), Credential("127.0.0.1:5000", "local", "pw2")]
    with dockerconfig.temporary(creds) as d:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
        f = d / "config.json"
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        auths = json.loads(f.read_text())["auths"]
        assert set(auths) == {"https://index.docker.io/v1/", "127.0.0.1:5000"}
    assert not d.exists()


class LockedKeyring(MemoryKeyring):
    """A keyring whose collection is locked (as a desktop keyring before the user unlocks it)."""

    def get_password(self, *args):
        from keyring.errors import KeyringLocked

        raise KeyringLocked("collection is locked")

    set_password = delete_password = get_password


class BrokenBusKeyring(MemoryKeyring):
    """A backend whose D-Bus connection fails with a non-keyring exception."""

    def get_password(self, *args):
        raise ConnectionError("org.freedesktop.DBus.Error.NoReply")

    set_password = delete_password = get_password


@pytest.mark.parametrize("backend,word", [(LockedKeyring, "locked"), (BrokenBusKeyring, "NoReply")])
def test_a_failing_keyring_is_a_clear_error_and_for_registry_moves_on(use_backend, config_dir, backend, word):
    use_backend(backend())
    for call in (lambda: credentials.save(Credential("reg.io", "alice", SECRET)),
                 lambda: credentials.load("reg.io", "alice"),
                 lambda: credentials.delete("reg.io", "alice")):
        with pytest.raises(NoKeyring) as e:
            call()
        assert word in str(e.value) and SECRET not in str(e.value)
    assert credentials.for_registry("reg.io", "alice") is None


def test_the_docker_config_choice_is_remembered(memory, config_dir, tmp_path, monkeypatch):
    import base64

    token = base64.b64encode(f"carol:{SECRET}".encode()).decode()
    _docker_config(tmp_path, monkeypatch, {"auths": {"reg.io": {"auth": token}}})
    credentials.save(Credential("other.io", "alice", "pw"))
    assert not credentials.docker_config_opted_in() and credentials.for_registry("reg.io") is None
    credentials.set_docker_config_opt_in(True)
    assert credentials.for_registry("reg.io").source == "docker-config"
    assert credentials.for_registry("reg.io", use_docker_config=False) is None
    assert [s.host for s in credentials.list_saved()] == ["other.io"]  # the names survive the setting
    credentials.set_docker_config_opt_in(False)
    assert credentials.for_registry("reg.io") is None
    assert _files_contain(config_dir, SECRET) == []


def test_saved_logins_say_when_the_keyring_holding_them_cannot_be_opened(use_backend, config_dir):
    """A login saved in a keyring stays listed when this session has none, marked unavailable
    (callers showed "keyring" as if the password could be used)."""
    use_backend(MemoryKeyring())
    credentials.save(Credential("reg.io", "alice", SECRET))
    assert [(s.store, s.available) for s in credentials.list_saved()] == [("keyring", True)]
    use_backend(fail.Keyring())
    credentials.remember(Credential("other.io", "bob", SECRET))
    saved = {s.host: s for s in credentials.list_saved()}
    assert (saved["reg.io"].store, saved["reg.io"].available) == ("keyring", False)
    assert saved["reg.io"].to_json()["available"] is False
    assert (saved["other.io"].store, saved["other.io"].available) == ("session", True)
