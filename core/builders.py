"""Which BuildKit a build runs on. `--builder` takes what BuildKit takes (`unix:///...`,
`tcp://host:port`, `docker-container://name`, ...) or a buildx builder name; without it the
builder comes from BUILDKIT_HOST, then from the local sandbox. Every probe is bounded in time:
an unreachable builder is an `EnvironmentProblem` within seconds, never a hang."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import tools
from .errors import BadInput, EnvironmentProblem

ADDRESS_SCHEMES = ("unix://", "tcp://", "docker-container://", "kube-pod://", "podman-container://",
                   "nerdctl-container://", "ssh://", "npipe://")
PROBE_TIMEOUT_S = 4
TLS_FILES = (("ca.pem", "cert.pem", "key.pem"), ("ca.crt", "tls.crt", "tls.key"))


@dataclass(frozen=True)
class TLS:
    """Client TLS material for a `tcp://` buildkitd (paths, never contents)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    servername: str | None = None

    @classmethod
    def from_dir(cls, d: str | os.PathLike, servername: str | None = None) -> "TLS":
        p = Path(d).expanduser()
        if not p.is_dir():
            raise BadInput(f"TLS directory {str(d)!r} does not exist.", fix="pass a directory holding ca.pem, cert.pem and key.pem")
        for names in TLS_FILES:
            files = [p / n for n in names]
            if all(f.is_file() for f in files):
                return cls(*(str(f) for f in files), servername=servername)
        raise BadInput(f"TLS directory {str(d)!r} holds neither ca.pem/cert.pem/key.pem nor ca.crt/tls.crt/tls.key.",
                       fix="put the CA certificate, client certificate and client key there under those names")

    def buildctl_args(self) -> list[str]:
        args: list[str] = []
        for flag, value in (("--tlscacert", self.ca), ("--tlscert", self.cert), ("--tlskey", self.key),
                            ("--tlsservername", self.servername)):
            if value:
                args += [flag, value]
        return args

    def buildx_driver_opts(self) -> dict[str, str]:
        opts = {}
        for name, value in (("cacert", self.ca), ("cert", self.cert), ("key", self.key), ("servername", self.servername)):
            if value:
                opts[name] = value
        return opts


@dataclass(frozen=True)
class Builder:
    """A resolved builder. `addr` is a BuildKit address (None for a buildx builder name)."""

    addr: str | None
    source: str  # "flag", "BUILDKIT_HOST", "sandbox"
    buildx_name: str | None = None
    tls: TLS | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def kind(self) -> str:
        if self.addr is None:
            return "buildx"
        return self.addr.split("://", 1)[0]

    @property
    def display(self) -> str:
        return self.addr if self.addr else f"buildx:{self.buildx_name}"

    def buildctl_args(self) -> list[str]:
        if self.addr is None:
            raise EnvironmentProblem(f"the buildx builder {self.buildx_name!r} has no BuildKit address buildctl can use.",
                                     fix="use --engine buildx with a buildx builder name, or pass its address (unix://, tcp://) as --builder")
        return ["--addr", self.addr, *(self.tls.buildctl_args() if self.tls else [])]


def is_address(value: str) -> bool:
    return "://" in value


def resolve(value: str | None = None, *, tls: TLS | None = None, start_sandbox: bool = False) -> Builder:
    """Turn `--builder` (or its absence) into a Builder; no network probe (see `check`)."""
    if value:
        value = value.strip()
        if is_address(value):
            if not value.startswith(ADDRESS_SCHEMES):
                raise BadInput(f"unknown builder address scheme in {value!r}.",
                               fix="use unix:///path/buildkitd.sock, tcp://host:port, docker-container://name or a buildx builder name")
            return Builder(addr=value, source="flag", tls=tls)
        if not all(ch.isalnum() or ch in "-_." for ch in value):
            raise BadInput(f"{value!r} is neither a BuildKit address nor a buildx builder name.",
                           fix="use unix:///path/buildkitd.sock, tcp://host:port, docker-container://name or a buildx builder name")
        return Builder(addr=None, source="flag", buildx_name=value, tls=tls)
    env = os.environ.get("BUILDKIT_HOST")
    if env:
        return Builder(addr=env, source="BUILDKIT_HOST", tls=tls)
    from . import sandbox

    info = sandbox.status()
    if not info.running and start_sandbox:
        info = sandbox.up()
    if info.running:
        return Builder(addr=info.buildkit_host, source="sandbox")
    raise EnvironmentProblem("no builder: --builder is not given, BUILDKIT_HOST is unset and the local sandbox is not running.",
                             fix="run `railpack-tui sandbox up`, or pass --builder unix:///path/buildkitd.sock (or tcp://host:port)",
                             kind="no-builder")


def check(builder: Builder, timeout: int = PROBE_TIMEOUT_S) -> str:
    """Probe a BuildKit address (`buildctl debug workers`); returns the workers listing.
    Raises EnvironmentProblem within about `timeout` seconds when it does not answer."""
    if builder.addr is None:
        from .engines import buildx

        buildx.inspect_builder(builder.buildx_name or "", timeout=timeout)
        return ""
    buildctl = tools.require("buildctl", "to talk to BuildKit")
    argv = [buildctl, *builder.buildctl_args(), "--timeout", str(timeout), "debug", "workers"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 3, stdin=subprocess.DEVNULL,
                           start_new_session=True)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"the builder {builder.display} did not answer within {timeout + 3} s.",
                                 fix=_fix_for(builder), kind="unreachable") from None
    if r.returncode != 0:
        raise EnvironmentProblem(f"the builder {builder.display} is not reachable: {_last_error(r.stderr)}.",
                                 fix=_fix_for(builder), kind="unreachable")
    return r.stdout


def _last_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    msg = lines[-1] if lines else "no answer"
    if msg.startswith("error: "):
        msg = msg[len("error: "):]
    return msg.rstrip(".")[:300]


def _fix_for(builder: Builder) -> str:
    if builder.source == "sandbox":
        return "run `railpack-tui sandbox up` (or `sandbox status` to see why it stopped)"
    if builder.kind == "tcp":
        return ("check that buildkitd listens on that host and port, and for TLS pass its client certificates "
                "with --tls-dir DIR (ca.pem, cert.pem, key.pem)")
    if builder.kind == "docker-container":
        return "docker-container:// needs a running Docker daemon and that container; use unix:// or tcp:// otherwise"
    if builder.source == "BUILDKIT_HOST":
        return "fix or unset BUILDKIT_HOST (without it the local sandbox is used)"
    return "start buildkitd at that address, or pass another --builder"


# gRPC's words when the connection to buildkitd drops in the middle of a solve (buildctl and buildx)
_LOST_MARKERS = ("code = unavailable", "error reading from server", "transport is closing",
                 "connection reset by peer", "broken pipe", "failed to receive status")


def connection_lost(error_text: str | None) -> bool:
    """True when a build's error says the builder went away mid-build (not a step failure)."""
    low = (error_text or "").lower()
    return any(m in low for m in _LOST_MARKERS) and "exit code" not in low


def lost_error(builder: Builder, detail: str) -> EnvironmentProblem:
    """The error a build shows when its builder stopped answering in the middle of it."""
    return EnvironmentProblem(f"builder connection lost: {builder.display} stopped answering during the build "
                              f"({_last_error(detail)}).", fix=_fix_for(builder), kind="builder-lost")
