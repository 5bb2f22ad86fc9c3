"""The local sandbox: a real buildkitd (runc worker) and a real distribution registry with
htpasswd authentication, both on loopback, with state under one private directory.

`up` is idempotent and waits until both answer; `down` stops exactly the processes `up` started
(checked by pid *and* command line); `status` notices a crashed one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import credentials, paths, tools
from .errors import EnvironmentProblem
from .netutil import free_port, port_free

USERNAME = "railpack"
STATE_FILE = "sandbox.json"
LOCK_FILE = "sandbox.lock"
PORT_WAIT_S = 2.0  # how long a restart waits for its previous port before taking another
PASSWORD_FILE = "registry-password"
REQUIRED_TOOLS = ["buildkitd", "buildctl", "runc", "docker-registry", "htpasswd"]


@dataclass
class Daemon:
    pid: int
    argv0: str
    log: str
    alive: bool = False
    answering: bool = False


@dataclass
class SandboxInfo:
    dir: str
    buildkit_host: str = ""
    debug_addr: str = ""
    snapshotter: str = ""
    registry: str = ""
    username: str = USERNAME
    credential_store: str = ""
    started_at: float = 0.0
    buildkitd: Daemon | None = None
    registry_daemon: Daemon | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return bool(
            self.buildkitd and self.buildkitd.alive and self.buildkitd.answering
            and self.registry_daemon and self.registry_daemon.alive and self.registry_daemon.answering
        )

    def to_json(self) -> dict:
        data = asdict(self)
        data["running"] = self.running
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SandboxInfo":
        data = dict(data)
        data.pop("running", None)
        bk = data.pop("buildkitd", None)
        rg = data.pop("registry_daemon", None)
        info = cls(**data)
        info.buildkitd = Daemon(**bk) if bk else None
        info.registry_daemon = Daemon(**rg) if rg else None
        return info


def _state_path(d: Path) -> Path:
    return d / STATE_FILE


def _pid_matches(pid: int, argv0: str, d: Path) -> bool:
    """The pid is alive and still the process we started (not a reused pid)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    args = raw.split(b"\0")
    if not args or not args[0]:
        return False
    return os.path.basename(args[0].decode(errors="replace")) == os.path.basename(argv0) and str(d).encode() in raw


def _registry_answers(host: str) -> bool:
    import urllib.error  # here, not at the top: urllib.request (http.client, email, ssl) costs ~20 ms of CPU
    import urllib.request  # to every process that only reads the sandbox's state (each build does)

    try:
        urllib.request.urlopen(f"http://{host}/v2/", timeout=1.0)
        return True
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False


def _buildkitd_answers(addr: str, timeout: float = 3.0) -> bool:
    buildctl = tools.find("buildctl")
    if buildctl is None:
        return False
    try:
        r = subprocess.run([buildctl, "--addr", addr, "--timeout", str(int(max(1, timeout))), "debug", "workers"],
                           capture_output=True, timeout=timeout + 2)
        return r.returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


def load(d: Path | None = None) -> SandboxInfo | None:
    d = d or paths.sandbox_dir()
    try:
        return SandboxInfo.from_json(json.loads(_state_path(d).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def status(d: Path | None = None, probe: bool = True) -> SandboxInfo:
    d = d or paths.sandbox_dir()
    info = load(d)
    if info is None:
        return SandboxInfo(dir=str(d))
    for daemon in (info.buildkitd, info.registry_daemon):
        if daemon:
            daemon.alive = _pid_matches(daemon.pid, daemon.argv0, d)
    if probe:
        if info.buildkitd and info.buildkitd.alive:
            info.buildkitd.answering = _buildkitd_answers(info.buildkit_host)
        if info.registry_daemon and info.registry_daemon.alive:
            info.registry_daemon.answering = _registry_answers(info.registry)
    return info


def password_lost(info: SandboxInfo) -> bool:
    """A running sandbox whose registry password this session cannot read (kept in a keyring that
    is not available here): builds would reach its registry anonymously. One keyring read."""
    return info.running and sandbox_credential(info) is None


PASSWORD_LOST = ("the registry's password cannot be read in this session (it was kept in a keyring that is not "
                 "available now), so builds reach the registry anonymously and are refused: run `railpack-tui sandbox up` "
                 "to restart the sandbox with a new password (its cache and images are kept)")


def _write_state(info: SandboxInfo) -> None:
    d = Path(info.dir)
    tmp = _state_path(d).with_suffix(".tmp")
    tmp.write_text(json.dumps(info.to_json(), indent=2))
    os.replace(tmp, _state_path(d))


def _spawn(argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    fh = open(log, "ab")
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, close_fds=True)
    finally:
        fh.close()


def _stop_pid(pid: int, argv0: str, d: Path, timeout: float = 10.0) -> bool:
    if not _pid_matches(pid, argv0, d):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_matches(pid, argv0, d) and not _exiting(pid):
            break
        _reap(pid)
        time.sleep(0.05)
    else:
        if _pid_matches(pid, argv0, d) or _exiting(pid):  # never a pid reused meanwhile
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _reap(pid)
    return True


def _exiting(pid: int) -> bool:
    """The process is on its way out but not gone: its memory (so /proc/PID/cmdline) is already
    released while its files, such as the registry's listening socket, are not yet closed (the
    kernel closes those next; then it is a zombie). A restart that picks its port in that window
    found it busy and moved the registry to another port, losing the sticky port."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    fields = stat.rsplit(b")", 1)[-1].split()
    return not cmdline and bool(fields) and fields[0] not in (b"Z", b"X")


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _hash_password(htpasswd: str, password: str) -> str:
    # -i: the password comes on stdin, never in argv
    r = subprocess.run([htpasswd, "-niB", USERNAME], input=password.encode(), capture_output=True, timeout=30)
    if r.returncode != 0:
        raise EnvironmentProblem(f"htpasswd failed: {r.stderr.decode(errors='replace').strip()}",
                                 fix="reinstall apache2-utils (scripts/install-tools)")
    return r.stdout.decode().strip() + "\n"


def _store_password(info: SandboxInfo, password: str) -> None:
    d = Path(info.dir)
    st = credentials.keyring_status()
    if st.usable:
        try:
            credentials.save(credentials.Credential(info.registry, USERNAME, password))
            info.credential_store = f"keyring ({st.backend}), service {credentials.service_name(info.registry)!r}, user {USERNAME!r}"
            (d / PASSWORD_FILE).unlink(missing_ok=True)
            return
        except Exception as exc:  # a locked keyring, a dbus failure
            info.notes.append(f"keyring refused the sandbox password ({exc}); kept it in a 0600 file instead")
    f = d / PASSWORD_FILE
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password)
    info.credential_store = (f"file {f} (0600; no OS keyring here). It is the throwaway password of this "
                             "loopback sandbox only, regenerated by every `sandbox up`.")


def sandbox_credential(info: SandboxInfo | None = None) -> credentials.Credential | None:
    """The sandbox registry's own generated credential, wherever `up` stored it."""
    info = info or load()
    if info is None or not info.registry:
        return None
    f = Path(info.dir) / PASSWORD_FILE
    if f.exists():
        try:
            return credentials.Credential(info.registry, info.username, f.read_text())
        except OSError:
            return None
    try:
        return credentials.load(info.registry, info.username)
    except Exception:
        return None


def _sticky_port(d: Path, name: str) -> int:
    """The port this sandbox used last time when it is free, so cache refs survive a restart."""
    f = d / "ports.json"
    try:
        known = json.loads(f.read_text())
    except (OSError, ValueError):
        known = {}
    port = known.get(name)
    deadline = time.monotonic() + PORT_WAIT_S
    while True:  # a port our own stopped daemon held a moment ago comes free within milliseconds
        try:
            reusable = isinstance(port, int) and port_free(port)
        except OSError:  # e.g. a hand-edited ports.json with a privileged or invalid port
            reusable, port = False, None
        if reusable or not isinstance(port, int) or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if not reusable:
        port = free_port()
    known[name] = port
    f.write_text(json.dumps(known))
    return port


def _buildkitd_config(registry: str, snapshotter: str) -> str:
    return (
        "[worker.oci]\n"
        "  enabled = true\n"
        f'  snapshotter = "{snapshotter}"\n'
        "  gc = true\n"
        "[worker.containerd]\n"
        "  enabled = false\n"
        f'[registry."{registry}"]\n'
        "  http = true\n"
    )


def _registry_config(d: Path, port: int) -> str:
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {d / 'registry'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: {secrets.token_hex(16)}\n"
        f"auth:\n  htpasswd:\n    realm: railpack-tui-sandbox\n    path: {d / 'htpasswd'}\n"
    )


def _wait(pred, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.2)
    return pred()


def _tail(log: Path, n: int = 5) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-n:])
    except OSError:
        return ""


@contextlib.contextmanager
def _locked(d: Path):
    """One `up` or `down` at a time per sandbox directory, across processes: two dashboards (or
    `serve` tabs) starting together would otherwise each start a registry on the same port, and
    the loser's cleanup would stop the winner's daemons."""
    try:
        paths.ensure_private_dir(d)
        fd = os.open(d / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:  # a file in its place, no permission: was an internal error (exit 1)
        raise EnvironmentProblem(f"cannot use the sandbox directory {d}: {exc.strerror or exc}.",
                                 fix="point RAILPACK_TUI_SANDBOX_DIR (or RAILPACK_TUI_STATE_DIR) at a directory you can "
                                     "write, or move away what is in its place", kind="sandbox-dir") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def up(d: Path | None = None, timeout: float = 60.0, log=lambda msg: None) -> SandboxInfo:
    d = d or paths.sandbox_dir()
    missing = tools.missing(REQUIRED_TOOLS)
    if missing:
        raise EnvironmentProblem(f"the sandbox needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed.",
                                 fix=tools.INSTALL_HINT, kind="missing-tool")
    if os.geteuid() != 0:
        raise EnvironmentProblem("the sandbox's buildkitd runs the runc worker, which needs root.",
                                 fix="run `railpack-tui sandbox up` as root, or point BUILDKIT_HOST at your own buildkitd")
    with _locked(d):
        return _up(d, timeout, log)


def _up(d: Path, timeout: float, log) -> SandboxInfo:
    current = status(d)
    if current.running and not password_lost(current):
        log("sandbox already running")
        return current
    if current.running:  # e.g. started inside another session's keyring: a new password, same ports and storage
        log("the sandbox registry's password cannot be read in this session: restarting it with a new one")
        _down(d)
        current = status(d)
    if current.buildkitd or current.registry_daemon:
        log("sandbox partly running or crashed: restarting it")
        _down(d)
    (d / "registry").mkdir(exist_ok=True)
    info = SandboxInfo(dir=str(d), started_at=time.time())

    # registry with htpasswd auth
    port = _sticky_port(d, "registry")
    info.registry = f"127.0.0.1:{port}"
    password = secrets.token_urlsafe(24)
    htpasswd = tools.require("htpasswd", "to create the sandbox registry's password file")
    hp = d / "htpasswd"
    hp.write_text(_hash_password(htpasswd, password))
    os.chmod(hp, 0o600)
    cfg = d / "registry.yml"
    cfg.write_text(_registry_config(d, port))
    os.chmod(cfg, 0o600)
    reg_bin = tools.require("docker-registry", "for the sandbox registry")
    reg_log = d / "registry.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    proc = _spawn([reg_bin, "serve", str(cfg)], reg_log, env=env)
    info.registry_daemon = Daemon(pid=proc.pid, argv0=reg_bin, log=str(reg_log))
    _write_state(info)
    log(f"registry starting on {info.registry}")
    if not _wait(lambda: _registry_answers(info.registry), timeout, proc):
        _down(d)
        raise EnvironmentProblem(f"the sandbox registry did not start: {_tail(reg_log)}", fix=f"see {reg_log}")
    _store_password(info, password)

    # buildkitd: overlayfs, else native
    bk_bin = tools.require("buildkitd", "for the sandbox builder")
    bk_log = d / "buildkitd.log"
    sock = d / "buildkitd.sock"
    info.buildkit_host = f"unix://{sock}"
    last_err = ""
    for snapshotter in ("overlayfs", "native"):
        bk_cfg = d / "buildkitd.toml"
        bk_cfg.write_text(_buildkitd_config(info.registry, snapshotter))
        dport = _sticky_port(d, "debug")
        info.debug_addr = f"127.0.0.1:{dport}"
        sock.unlink(missing_ok=True)
        argv = [bk_bin, "--root", str(d / f"buildkit-{snapshotter}"), "--addr", info.buildkit_host,
                "--config", str(bk_cfg), "--save-cache-debug", "--debugaddr", info.debug_addr]
        env = dict(os.environ)
        env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin"
        proc = _spawn(argv, bk_log, env=env)
        info.buildkitd = Daemon(pid=proc.pid, argv0=bk_bin, log=str(bk_log))
        info.snapshotter = snapshotter
        _write_state(info)
        log(f"buildkitd starting ({snapshotter} snapshotter)")
        if _wait(lambda: _buildkitd_answers(info.buildkit_host, 2.0), timeout, proc):
            break
        last_err = _tail(bk_log)
        _stop_pid(proc.pid, bk_bin, d)
        info.buildkitd = None
        info.notes.append(f"buildkitd with {snapshotter} did not start: {last_err}")
    else:
        _down(d)
        raise EnvironmentProblem(f"buildkitd did not start: {last_err}", fix=f"see {bk_log}")
    _write_state(info)
    return status(d)


def down(d: Path | None = None) -> list[str]:
    d = d or paths.sandbox_dir()
    if not _state_path(d).exists():
        return []
    with _locked(d):
        return _down(d)


def _down(d: Path) -> list[str]:
    info = load(d)
    stopped = []
    if info is None:
        return stopped
    for name, daemon in (("buildkitd", info.buildkitd), ("registry", info.registry_daemon)):
        if daemon and _stop_pid(daemon.pid, daemon.argv0, d):
            stopped.append(f"{name} (pid {daemon.pid})")
    _unmount_leftovers(d)
    if info.registry:
        try:
            credentials.delete(info.registry, info.username)
        except Exception:
            pass
    (d / PASSWORD_FILE).unlink(missing_ok=True)
    _state_path(d).unlink(missing_ok=True)
    return stopped


def mounts_under(d: Path) -> list[str]:
    """Mount points inside `d`, deepest first (from /proc/self/mountinfo; [] where it is absent)."""
    root = str(d.resolve())
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            points = [line.split()[4] for line in fh]
    except OSError:
        return []
    points = [p.encode().decode("unicode_escape") for p in points]  # "\040" is a space
    return sorted((p for p in points if p == root or p.startswith(root + "/")), key=len, reverse=True)


def _unmount_leftovers(d: Path) -> None:
    """A buildkitd that was killed (OOM, SIGKILL) leaves its running steps' root filesystems
    mounted under its root: detach them so the sandbox directory can be removed."""
    for point in mounts_under(d):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=10, check=False)


def env_lines(info: SandboxInfo) -> list[str]:
    return [f"export BUILDKIT_HOST={info.buildkit_host}", f"export RAILPACK_TUI_SANDBOX_REGISTRY={info.registry}"]
