"""Registry credentials: the OS keyring (`keyring`), a session-only memory when no keyring is
usable, and — only when the user chooses — their existing Docker config or credential helper.

Rules: never plain text on disk, never in process arguments, never printed (`Credential` masks its
password in repr/str). The keyring cannot enumerate what it holds, so a names-only index
(`credentials.json` in the config dir: host, username, when — no secret) backs `list_saved`.

For a build, call `for_registry(host, username=None)`: session memory, then the keyring, then the
sandbox's own credential when `host` is the sandbox registry, then (opt-in) the Docker config.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .errors import BadInput, EnvironmentProblem

SERVICE_PREFIX = "railpack-tui:"
INDEX_FILE = "credentials.json"
NO_KEYRING_FIX = (
    "start a Secret Service (e.g. `gnome-keyring-daemon --unlock --components=secrets` inside a D-Bus session, "
    "or log in to a desktop session), or install a keyring backend package (e.g. keyrings.cryptfile) and select it "
    "with PYTHON_KEYRING_BACKEND; or keep the credential for this session only (the TUI offers that)"
)


@dataclass(frozen=True)
class Credential:
    host: str
    username: str
    password: str = ""
    source: str = ""  # session | keyring | sandbox | docker-config | docker-credential-helper | stdin

    def __repr__(self) -> str:  # never print the secret
        src = f", source={self.source!r}" if self.source else ""
        return f"Credential(host={self.host!r}, username={self.username!r}, password='***'{src})"

    __str__ = __repr__


@dataclass(frozen=True)
class KeyringStatus:
    usable: bool
    backend: str
    detail: str


@dataclass(frozen=True)
class SavedName:
    """What `list_saved` returns: names only, never the secret."""

    host: str
    username: str
    store: str  # keyring | session
    saved_at: float | None = None
    available: bool = True  # False: saved in a keyring this session cannot open

    def to_json(self) -> dict:
        return {"host": self.host, "username": self.username, "store": self.store, "saved_at": self.saved_at,
                "available": self.available}


class NoKeyring(EnvironmentProblem):
    """Exit 3: a keyring is required and none is usable."""

    kind = "no-keyring"


def keyring_status() -> KeyringStatus:
    import keyring
    from keyring.backends import fail

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken backend configuration
        return KeyringStatus(False, "error", f"the keyring could not be loaded: {exc}")
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, fail.Keyring):
        return KeyringStatus(False, name, "no OS keyring is available (no Secret Service on this session)")
    if _is_plaintext(backend):
        return KeyringStatus(False, name, f"the selected keyring backend {name} stores secrets in plain text on disk")
    return KeyringStatus(True, name, f"OS keyring: {name}")


def _is_plaintext(backend) -> bool:
    """keyrings.alt's PlaintextKeyring (and its chainer/wrappers) store secrets readable on disk."""
    names = [type(backend).__name__]
    for inner in getattr(backend, "backends", []) or []:
        names.append(type(inner).__name__)
    return any(n in ("PlaintextKeyring", "EncryptedKeyring_Uncrypted") for n in names)


def require_keyring() -> KeyringStatus:
    st = keyring_status()
    if not st.usable:
        raise NoKeyring(f"No usable keyring: {st.detail}.", fix=NO_KEYRING_FIX)
    return st


def service_name(host: str) -> str:
    return SERVICE_PREFIX + host


# --- the names-only index -------------------------------------------------------------------

_index_lock = threading.Lock()


def _index_path() -> Path:
    return paths.config_dir() / INDEX_FILE


def _read_file() -> dict:
    try:
        data = json.loads(_index_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def index_problem() -> str | None:
    """Why the names-only index cannot be read (corrupt, wrong shape), or None when it is fine or
    absent. Its entries are then ignored (the passwords stay in the keyring) until a save rewrites it."""
    p = _index_path()
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return f"the saved-registries index {p} cannot be read ({reason}); its names are ignored"
    if not isinstance(data, dict) or not isinstance(data.get("entries", []), list):
        return f"the saved-registries index {p} is not in the expected format; its names are ignored"
    return None


def _read_index(data: dict | None = None) -> list[dict]:
    entries = (_read_file() if data is None else data).get("entries")
    return [e for e in entries or [] if isinstance(e, dict) and e.get("host") and e.get("username")]


def _write_file(entries: list[dict] | None = None, use_docker_config: bool | None = None) -> None:
    current = _read_file()
    if entries is None:
        entries = _read_index()
    if use_docker_config is None:
        use_docker_config = bool(current.get("use_docker_config", False))
    d = paths.config_dir()
    d.mkdir(parents=True, exist_ok=True)
    clean = [{"host": e["host"], "username": e["username"], "saved_at": e.get("saved_at")} for e in entries]
    tmp = d / (INDEX_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"entries": clean, "use_docker_config": use_docker_config}, fh, indent=2)
    os.replace(tmp, _index_path())


def _write_index(entries: list[dict]) -> None:
    _write_file(entries=entries)


def docker_config_opted_in() -> bool:
    """Has the user chosen to also use their own Docker login (config.json / credential helper)?"""
    return bool(_read_file().get("use_docker_config", False))


def set_docker_config_opt_in(enabled: bool) -> None:
    """Remember the user's choice (the TUI's setting); `for_registry` follows it by default."""
    with _index_lock:
        _write_file(use_docker_config=bool(enabled))


def _index_add(host: str, username: str) -> None:
    with _index_lock:
        entries = [e for e in _read_index() if (e["host"], e["username"]) != (host, username)]
        entries.append({"host": host, "username": username, "saved_at": time.time()})
        _write_index(entries)


def _index_remove(host: str, username: str) -> bool:
    with _index_lock:
        entries = _read_index()
        kept = [e for e in entries if (e["host"], e["username"]) != (host, username)]
        if len(kept) != len(entries):
            _write_index(kept)
        return len(kept) != len(entries)


# --- session memory ---------------------------------------------------------------------------

_session: dict[tuple[str, str], Credential] = {}
_session_lock = threading.Lock()


def remember(cred: Credential) -> Credential:
    """Keep a credential in this process's memory only (gone when it exits)."""
    cred = Credential(cred.host, cred.username, cred.password, "session")
    with _session_lock:
        _session[(cred.host, cred.username)] = cred
    return cred


def forget(host: str, username: str) -> bool:
    with _session_lock:
        return _session.pop((host, username), None) is not None


def _session_for(host: str, username: str | None) -> Credential | None:
    with _session_lock:
        if username is not None:
            return _session.get((host, username))
        found = [c for (h, _), c in _session.items() if h == host]
    return found[-1] if found else None


# --- keyring ----------------------------------------------------------------------------------

def _keyring_call(what: str, fn, *args):
    import keyring.errors

    try:
        return fn(*args)
    except keyring.errors.PasswordDeleteError:
        raise  # "not found": the caller decides
    except keyring.errors.NoKeyringError as exc:
        raise NoKeyring(f"No usable keyring to {what}: {exc}.", fix=NO_KEYRING_FIX) from None
    except keyring.errors.KeyringLocked:
        raise NoKeyring(f"The keyring is locked, so railpack-tui cannot {what}.",
                        fix="unlock your login keyring (log in to the desktop session or unlock it in Seahorse), then retry") from None
    except keyring.errors.KeyringError as exc:
        raise NoKeyring(f"The keyring refused to {what}: {exc}.", fix=NO_KEYRING_FIX) from None
    except Exception as exc:  # a D-Bus failure inside the backend (secretstorage, jeepney)
        raise NoKeyring(f"The keyring failed to {what}: {type(exc).__name__}: {exc}.", fix=NO_KEYRING_FIX) from None


def save(cred: Credential) -> None:
    """Store in the OS keyring (raises `NoKeyring` when none is usable); record the name in the index."""
    import keyring

    if not cred.host or not cred.username:
        raise BadInput("A credential needs a registry host and a username.", fix="pass the registry and --username")
    st = keyring_status()
    if not st.usable:
        raise NoKeyring(f"No usable keyring to save the password for {cred.username}@{cred.host}: {st.detail}.", fix=NO_KEYRING_FIX)
    _keyring_call("save the password", keyring.set_password, service_name(cred.host), cred.username, cred.password)
    _index_add(cred.host, cred.username)


def load(host: str, username: str) -> Credential | None:
    """From the OS keyring; None when absent. Raises `NoKeyring` when the keyring is unusable."""
    import keyring

    st = keyring_status()
    if not st.usable:
        raise NoKeyring(f"No usable keyring to read the password for {username}@{host}: {st.detail}.", fix=NO_KEYRING_FIX)
    password = _keyring_call("read the password", keyring.get_password, service_name(host), username)
    if password is None:
        return None
    return Credential(host, username, password, "keyring")


def delete(host: str, username: str) -> bool:
    """Remove from the keyring, the index and session memory. True when anything was removed."""
    import keyring
    import keyring.errors

    removed = forget(host, username)
    removed = _index_remove(host, username) or removed
    if keyring_status().usable:
        try:
            _keyring_call(f"delete the password for {username}@{host}", keyring.delete_password, service_name(host), username)
            removed = True
        except keyring.errors.PasswordDeleteError:
            pass
    return removed


def list_saved() -> list[SavedName]:
    """Saved names (keyring index, then session memory); never secrets."""
    entries = _read_index()
    usable = keyring_status().usable if entries else True
    out = [SavedName(e["host"], e["username"], "keyring", e.get("saved_at"), usable) for e in entries]
    with _session_lock:
        out += [SavedName(c.host, c.username, "session") for c in _session.values()]
    return sorted(out, key=lambda s: (s.host, s.username, s.store))


def usernames_for(host: str) -> list[str]:
    """Usernames saved for a registry, most recent first."""
    return _usernames_in(_read_file(), host)


def _usernames_in(index: dict, host: str) -> list[str]:
    entries = sorted((e for e in _read_index(index) if e["host"] == host), key=lambda e: e.get("saved_at") or 0, reverse=True)
    return [e["username"] for e in entries]


# --- the user's Docker config (opt-in) -----------------------------------------------------------

def _docker_config_file() -> Path:
    d = os.environ.get("DOCKER_CONFIG")
    return (Path(d) if d else Path.home() / ".docker") / "config.json"


def _docker_keys(host: str) -> list[str]:
    if host == "docker.io":
        return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]
    return [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]


def _credential_helper(helper: str, key: str, host: str, timeout: float) -> Credential | None:
    exe = shutil.which(f"docker-credential-{helper}")
    if exe is None:
        raise EnvironmentProblem(f"Your Docker config names the credential helper {helper!r}, but docker-credential-{helper} is not on PATH.",
                                 fix=f"install docker-credential-{helper}, or log in with `railpack-tui registry login` instead", kind="missing-tool")
    try:
        r = subprocess.run([exe, "get"], input=key.encode(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"docker-credential-{helper} did not answer within {timeout:g}s.",
                                 fix="unlock or restart the credential helper, then retry") from None
    if r.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        data = json.loads(r.stdout)
    except ValueError:
        return None
    user, secret = data.get("Username") or "", data.get("Secret") or ""
    if not secret:
        return None
    return Credential(host, user, secret, "docker-credential-helper")


def from_docker_config(host: str, config_file: Path | None = None, timeout: float = 10.0) -> Credential | None:
    """The user's own Docker credentials for `host` (config.json `auths`, `credHelpers`, `credsStore`).
    Only call this when the user chose to use their Docker login. Read-only: the file is never written."""
    f = config_file or _docker_config_file()
    try:
        cfg = json.loads(f.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BadInput(f"Your Docker config {f} cannot be read: {exc}.", fix="fix or move that file, or use `railpack-tui registry login`") from None
    keys = _docker_keys(host)
    helpers = cfg.get("credHelpers") or {}
    for k in keys:
        if k in helpers:
            return _credential_helper(helpers[k], k, host, timeout)
    auths = cfg.get("auths") or {}
    for k in keys:
        entry = auths.get(k)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            if pw:
                return Credential(host, user, pw, "docker-config")
        if entry.get("username") and entry.get("password"):
            return Credential(host, entry["username"], entry["password"], "docker-config")
    store = cfg.get("credsStore")
    if store:
        for k in keys:
            cred = _credential_helper(store, k, host, timeout)
            if cred:
                return cred
    return None


# --- one resolution for builds and checks ---------------------------------------------------------

# The sandbox's state file and its password file (sandbox.STATE_FILE, sandbox.PASSWORD_FILE; a test
# keeps them equal): read here directly because importing the sandbox module (urllib, http.client,
# email, ssl, secrets) costs ~25 ms before every build's engine can start.
SANDBOX_STATE_FILE = "sandbox.json"
SANDBOX_PASSWORD_FILE = "registry-password"


def _sandbox_credential(host: str) -> Credential | None:
    try:
        state = json.loads((paths.sandbox_dir() / SANDBOX_STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not host or state.get("registry") != host:
        return None
    if state.get("dir") and state.get("username"):
        try:  # no keyring: `sandbox up` left the throwaway password in a 0600 file
            password = (Path(state["dir"]) / SANDBOX_PASSWORD_FILE).read_text()
            return Credential(host, state["username"], password, "sandbox")
        except (OSError, TypeError):
            pass
    from . import sandbox  # kept in the keyring, or a state this shortcut does not know

    try:
        info = sandbox.load()
    except Exception:
        return None
    if info is None or info.registry != host:
        return None
    cred = sandbox.sandbox_credential(info)
    return Credential(cred.host, cred.username, cred.password, "sandbox") if cred else None


def for_registry(host: str, username: str | None = None, *, use_docker_config: bool | None = None) -> Credential | None:
    """The credential to use for `host` (a normalised registry, e.g. `refs.parse(r).registry`):
    session memory, the keyring (the given username, else the most recently saved one), the
    sandbox's own credential when `host` is the sandbox registry, then — only when the user chose
    it (`use_docker_config`, default: their saved choice, see `set_docker_config_opt_in`) — their
    Docker config / credential helper. None when nothing is known.
    An unusable keyring is skipped here (not an error); `load` raises instead."""
    index = _read_file()  # once: the Docker-config choice and the saved names
    if use_docker_config is None:
        use_docker_config = bool(index.get("use_docker_config", False))
    cred = _session_for(host, username)
    if cred:
        return cred
    users = [username] if username else _usernames_in(index, host)
    if users and keyring_status().usable:  # asking for a backend is slow: only when a name is saved
        for user in users:
            try:
                cred = load(host, user)
            except NoKeyring:
                break
            if cred:
                return cred
    cred = _sandbox_credential(host)
    if cred and (username is None or cred.username == username):
        return cred
    if use_docker_config:
        cred = from_docker_config(host)
        if cred and (username is None or cred.username == username):
            return cred
    return None
