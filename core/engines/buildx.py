"""buildx through python-on-whales: `docker.buildx.build(..., cache_from=..., cache_to=...,
progress="rawjson", stream_logs=True, builder=...)`.

python-on-whales does not stop the docker process when its log generator is closed, so this
engine runs the docker client as `env BUILDX_CONFIG=... setsid docker ...` (python-on-whales'
`client_call`): the client and its buildx plugin get a process group of their own, found by a
unique `--metadata-file` path, and cancel signals that whole group.

A buildx builder with the `docker` driver (the Docker daemon's built-in BuildKit) cannot export
registry cache; such a builder is refused up front with the command that creates a `remote`
builder for a BuildKit address instead. An address given as `--builder` (unix://, tcp://) gets a
`remote` buildx builder of its own, named after the address, created on first use."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from .. import tools
from ..builders import TLS, Builder
from ..errors import EnvironmentProblem
from .base import DOCKER_CONFIG_PLACEHOLDER, Engine, EngineProcess, Invocation, _live_groups, _live_lock, _stop_group, group_alive

if TYPE_CHECKING:
    from ..runner import BuildRequest

NO_REGISTRY_CACHE_DRIVERS = ("docker", "")
BUILDER_PREFIX = "railpack-tui-"


def buildx_config_dir() -> str:
    """Where buildx keeps its builders: BUILDX_CONFIG, else $DOCKER_CONFIG/buildx, else ~/.docker/buildx.
    Kept explicit because a build runs with a temporary DOCKER_CONFIG."""
    if os.environ.get("BUILDX_CONFIG"):
        return os.environ["BUILDX_CONFIG"]
    base = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return str(Path(base) / "buildx")


def _docker() -> str:
    docker = tools.require("docker", "for the buildx engine (the docker client; no Docker daemon is needed)")
    tools.require("docker-buildx", "for the buildx engine (install it as ~/.docker/cli-plugins/docker-buildx)")
    return docker


def _plugin_dir() -> str:
    return str(Path(tools.require("docker-buildx", "for the buildx engine")).parent)


def client(docker_config: str | None = None, client_call: list[str] | None = None):
    from python_on_whales import DockerClient

    return DockerClient(client_call=client_call or [_docker()], config=docker_config)


def list_builders() -> list:
    """`docker.buildx.list()`: python_on_whales Builder objects (name, driver, nodes)."""
    from python_on_whales.exceptions import DockerException

    try:
        return client().buildx.list()
    except DockerException as exc:
        raise EnvironmentProblem(f"`docker buildx ls` failed: {_first_error(exc)}.", fix="check the buildx installation",
                                 kind="unreachable") from None


def refusal_for_driver(name: str, driver: str, error: str | None = None) -> EnvironmentProblem:
    addr = os.environ.get("BUILDKIT_HOST") or "unix:///path/to/buildkitd.sock"
    why = f" ({error})" if error else ""
    return EnvironmentProblem(
        f"the buildx builder {name!r} uses the `docker` driver (the Docker daemon's built-in BuildKit), "
        f"which cannot export registry cache{why}.",
        fix=(f"create a `remote` builder for a BuildKit address and use it: "
             f"`docker buildx create --name {BUILDER_PREFIX}remote --driver remote {addr}` then "
             f"--builder {BUILDER_PREFIX}remote (or pass the address itself as --builder and railpack-tui creates it)"),
        kind="builder-cannot-export")


def inspect_builder(name: str, timeout: float = 5) -> object:
    """The named buildx builder; refuses `docker`-driver builders and unreachable ones."""
    for b in list_builders():
        if b.name != name:
            continue
        result = b._get_inspect_result()
        err = (getattr(result, "model_extra", None) or {}).get("Err")
        driver = b.driver or ""
        if driver in NO_REGISTRY_CACHE_DRIVERS:
            raise refusal_for_driver(name, driver or "docker", err)
        nodes = b.nodes or []
        if not any((n.status or "") == "running" for n in nodes):
            endpoints = ", ".join(n.endpoint or "?" for n in nodes) or "no endpoint"
            raise EnvironmentProblem(f"the buildx builder {name!r} ({driver} driver, {endpoints}) is not reachable.",
                                     fix="start the BuildKit it points at, or `docker buildx inspect --bootstrap "
                                         f"{name}` to see why", kind="unreachable")
        return b
    raise EnvironmentProblem(f"there is no buildx builder named {name!r}.",
                             fix="see `docker buildx ls`, or pass a BuildKit address (unix://, tcp://) as --builder",
                             kind="no-builder")


def as_buildkit_builder(name: str) -> Builder:
    """A buildx builder name used with buildctl (the buildkit/railpack engines): the BuildKit
    address of its `remote` driver node. Other drivers keep BuildKit where buildctl cannot reach."""
    b = inspect_builder(name)
    endpoints = [n.endpoint for n in (b.nodes or []) if n.endpoint]
    if b.driver != "remote" or not endpoints:
        raise EnvironmentProblem(f"the buildx builder {name!r} ({b.driver} driver) has no BuildKit address buildctl can use.",
                                 fix="use --engine buildx with it, or pass its BuildKit address as --builder", kind="no-builder")
    return Builder(addr=endpoints[0], source=f"buildx builder {name}")


def builder_name_for(addr: str) -> str:
    return BUILDER_PREFIX + hashlib.sha256(addr.encode()).hexdigest()[:10]


def create_remote_builder(addr: str, name: str | None = None, tls: TLS | None = None) -> str:
    """Create (or reuse) a `remote` buildx builder for a BuildKit address; returns its name."""
    from python_on_whales.exceptions import DockerException

    name = name or builder_name_for(addr)
    existing = {b.name: b for b in list_builders()}
    if name in existing:
        return name
    try:
        client().buildx.create(addr, driver="remote", name=name,
                               driver_options=tls.buildx_driver_opts() if tls else {})
    except DockerException as exc:
        raise EnvironmentProblem(f"could not create a remote buildx builder for {addr}: {_first_error(exc)}.",
                                 fix=f"run `docker buildx create --name {name} --driver remote {addr}` yourself to see why") from None
    return name


def _first_error(exc) -> str:
    text = (getattr(exc, "stderr", None) or str(exc) or "").strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("ERROR:") or ln.startswith("error:"):
            return ln.split(":", 1)[1].strip()[:300]
    return (lines[-1] if lines else "unknown error")[:300]


def _cache_dicts(request: "BuildRequest") -> tuple[list[dict], dict | None]:
    cache_from = [{"type": "registry", "ref": r} for r in request.import_refs()]
    cache_to = None
    exports = request.export_refs()
    if exports:
        cache_to = {"type": "registry", "ref": exports[0], "mode": request.mode}
        if request.ignore_export_error:
            cache_to["ignore-error"] = "true"
    return cache_from, cache_to


def _output(request: "BuildRequest") -> dict:
    out = request.output
    if not out or out == "none":
        return {}
    if out.startswith("push="):
        return {"type": "image", "name": out[len("push="):], "push": "true"}
    return {"type": "local", "dest": out}


class BuildxProcess(EngineProcess):
    """Drives python-on-whales' streaming build; the process is found through its marker."""

    def __init__(self, gen_factory: Callable[[], Iterator[str]], marker: str, invocation: Invocation, workdir: str):
        self.invocation = invocation
        self.cancelled = False
        self._marker = marker
        self._workdir = workdir
        self._gen_factory = gen_factory
        self._pid: int | None = None
        self.pgid = -1
        self.returncode: int | None = None
        self.error_text = ""
        self._lock = threading.Lock()

    def _find_pid(self) -> int | None:
        me = str(os.getpid())
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                cmd = open(f"/proc/{entry.name}/cmdline", "rb").read()
                stat = open(f"/proc/{entry.name}/stat", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if self._marker.encode() in cmd and stat.rsplit(")", 1)[-1].split()[1] == me:
                return int(entry.name)
        return None

    def _track(self) -> None:
        if self._pid is None:
            pid = self._find_pid()
            if pid is not None:
                with self._lock:
                    self._pid = self.pgid = pid
                with _live_lock:
                    _live_groups.add(pid)

    def batches(self) -> Iterator[list[str]]:
        """python-on-whales hands over one line at a time: a batch each."""
        return ([line] for line in self.lines())

    def lines(self) -> Iterator[str]:
        from python_on_whales.exceptions import DockerException

        if self.cancelled:
            self.returncode = 130
            return
        gen = self._gen_factory()
        try:
            for line in gen:
                self._track()
                for part in line.splitlines():
                    yield part
            self.returncode = 0
        except DockerException as exc:
            self.returncode = exc.return_code or 1
            self.error_text = _first_error(exc)
        finally:
            gen.close()

    def wait(self) -> int:
        if self.pgid > 0:
            deadline = time.monotonic() + 10
            while group_alive(self.pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            with _live_lock:
                _live_groups.discard(self.pgid)
        shutil.rmtree(self._workdir, ignore_errors=True)
        return self.returncode if self.returncode is not None else 1

    def cancel(self) -> None:
        self.cancelled = True
        deadline = time.monotonic() + 3
        while self._pid is None and time.monotonic() < deadline:
            self._track()
            if self._pid is None:
                time.sleep(0.05)
        if self._pid is not None:
            _stop_group(self._pid, lambda: None)


class BuildxEngine(Engine):
    name = "buildx"

    def _builder_name(self) -> str:
        return self.builder.buildx_name or builder_name_for(self.builder.addr or "")

    def prepare(self, request: "BuildRequest", docker_config: str | None, log: Callable[[str], None]) -> None:
        if self.builder.buildx_name:
            inspect_builder(self.builder.buildx_name)
            return
        assert self.builder.addr
        name = create_remote_builder(self.builder.addr, tls=self.builder.tls)
        log(f"buildx builder {name} (remote driver) -> {self.builder.addr}")
        inspect_builder(name)

    def _kwargs(self, request: "BuildRequest") -> dict:
        cache_from, cache_to = _cache_dicts(request)
        kw = dict(builder=self._builder_name(), cache_from=cache_from or None, cache_to=cache_to,
                  build_args=dict(request.build_args), progress="rawjson", stream_logs=True,
                  output=_output(request), cache=not request.no_cache)
        dockerfile = request.dockerfile_path()
        if dockerfile != request.project_dir() / "Dockerfile":
            kw["file"] = str(dockerfile)
        if request.target:
            kw["target"] = request.target
        return kw

    def _client_call(self) -> list[str]:
        return [tools.require("env", "to run docker"), f"BUILDX_CONFIG={buildx_config_dir()}",
                tools.require("setsid", "to give the docker client its own process group (util-linux)"), _docker()]

    def invocation(self, request: "BuildRequest", docker_config: str | None) -> Invocation:
        """The argv python-on-whales runs (for display and for the command line)."""
        docker = _docker()
        gen = client(docker_config=None, client_call=[docker]).buildx.build(str(request.project_dir()), **self._kwargs(request))
        argv = list(gen.gi_frame.f_locals["full_cmd"]) if gen.gi_frame else [docker, "buildx", "build"]
        gen.close()
        argv = [str(a) for a in argv]
        argv[0] = "docker"
        env = {"DOCKER_CONFIG": docker_config} if docker_config else {}
        return Invocation(argv, env, "rawjson")

    def command_line(self, request: "BuildRequest") -> str:
        return self.invocation(request, "/placeholder").shell({"DOCKER_CONFIG": DOCKER_CONFIG_PLACEHOLDER})

    def start(self, request: "BuildRequest", docker_config: str | None) -> BuildxProcess:
        workdir = tempfile.mkdtemp(prefix="railpack-tui-buildx-")
        marker = str(Path(workdir) / "metadata.json")
        if docker_config:
            # the docker CLI looks for plugins under $DOCKER_CONFIG/cli-plugins
            link = Path(docker_config) / "cli-plugins"
            if not link.exists():
                link.symlink_to(_plugin_dir())
        kwargs = self._kwargs(request)
        kwargs["metadata_file"] = marker
        whales = client(docker_config=docker_config, client_call=self._client_call())
        path = str(request.project_dir())
        inv = self.invocation(request, docker_config)

        def factory() -> Iterator[str]:
            return whales.buildx.build(path, **kwargs)

        return BuildxProcess(factory, marker, inv, workdir)

