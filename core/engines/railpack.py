"""Railpack builds with registry cache, on BuildKit.

railpack v0.23.0 (the newest the Go module proxy serves here) has no `--cache-from/--cache-to` on
`railpack build`. Two paths, chosen by RAILPACK_TUI_RAILPACK_MODE (default `llb`):

`llb` (default): railpack's own plan -> LLB conversion (the `railpack-llb` helper, see
railpack_llb.py) piped into `buildctl build --local context=APP_DIR --import-cache ... --export-cache
...`: registry cache is imported and exported.

`frontend`: the way Railway's platform builds go, `railpack frontend` running *inside BuildKit* as a
gateway frontend. BuildKit exports the registry cache, but railpack's frontend drops the client's
cache imports (its `c.Solve` passes no `CacheImports`), so a warm build from the registry is
impossible on this path; the engine says so in its notes. Used when the helper cannot be built.

    buildctl build --frontend gateway.v0 --opt source=FRONTEND_IMAGE \
        --local context=APP_DIR --local dockerfile=PLAN_DIR --opt filename=railpack-plan.json \
        --import-cache type=registry,ref=R --export-cache type=registry,ref=R,mode=max --progress=rawjson

The plan: `railpack-plan.json` in the app directory when there is one (hand-written or saved
earlier), else `railpack prepare APP --plan-out ...`, which downloads mise and resolves versions
over the network; offline it fails and we say exactly that.

The frontend image: `--railpack-frontend IMAGE` / RAILPACK_TUI_RAILPACK_FRONTEND, else one we
build `FROM scratch` with the local (static) railpack binary and push next to the cache ref
(`REGISTRY/railpack-tui/railpack-frontend:vX.Y.Z`), so nothing has to come from ghcr.io.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .. import tools
from ..errors import CheckFailed, EnvironmentProblem
from .base import Engine, Invocation
from .buildkit import request_args

if TYPE_CHECKING:
    from ..runner import BuildRequest

PLAN_FILE = "railpack-plan.json"
FRONTEND_REPO = "railpack-tui/railpack-frontend"
PREPARE_TIMEOUT_S = 120
PUBLISH_TIMEOUT_S = 300


def railpack_version() -> str:
    exe = tools.require("railpack", "for the railpack engine")
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"(\d+\.\d+\.\d+)", out)
    return f"v{m.group(1)}" if m else "unknown"


def default_frontend(cache_ref: str | None) -> str | None:
    env = os.environ.get("RAILPACK_TUI_RAILPACK_FRONTEND")
    if env:
        return env
    if cache_ref:
        from .. import refs

        return f"{refs.parse(cache_ref).registry}/{FRONTEND_REPO}:{railpack_version()}"
    return None


def plan_images(plan: dict) -> list[str]:
    """Every image a plan pulls (step inputs, copy-from-image commands, the deploy base)."""
    found: list[str] = []

    def add(layer):
        if isinstance(layer, dict) and layer.get("image") and layer["image"] not in found:
            found.append(layer["image"])

    for step in plan.get("steps") or []:
        for layer in step.get("inputs") or []:
            add(layer)
        for cmd in step.get("commands") or []:
            add(cmd)
    deploy = plan.get("deploy") or {}
    add(deploy.get("base"))
    for layer in deploy.get("inputs") or []:
        add(layer)
    return found


def vertex_names(plan: dict) -> dict[str, str]:
    """Vertex name -> plan step name, through the commands' custom names (what BuildKit shows)."""
    names: dict[str, str] = {}
    for step in plan.get("steps") or []:
        sname = step.get("name", "")
        for cmd in step.get("commands") or []:
            if isinstance(cmd, str):
                names.setdefault(cmd.split(":", 1)[-1] if cmd.startswith(("RUN", "RUN#")) else cmd, sname)
            elif isinstance(cmd, dict):
                if cmd.get("customName"):
                    names.setdefault(cmd["customName"], sname)
                elif cmd.get("src") and cmd.get("src") == cmd.get("dest"):
                    names.setdefault(f"copy {cmd['src']}", sname)
    return names


def prepare_plan(app_dir: Path, out_dir: Path, env: dict[str, str] | None = None) -> Path:
    """`railpack-plan.json` from the app directory, else `railpack prepare` (needs the network)."""
    target = out_dir / PLAN_FILE
    own = app_dir / PLAN_FILE
    if own.is_file():
        shutil.copy2(own, target)
        return target
    exe = tools.require("railpack", "for the railpack engine")
    # not --hide-pretty-plan: railpack v0.23.0 then prints nothing at all when it fails
    argv = [exe, "prepare", str(app_dir), "--plan-out", str(target), "--info-out", str(out_dir / "railpack-info.json")]
    for k, v in (env or {}).items():
        argv += ["--env", f"{k}={v}"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=PREPARE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"`railpack prepare` did not finish within {PREPARE_TIMEOUT_S} s (it downloads mise and "
                                 "resolves package versions over the network).",
                                 fix=f"check network access to github.com, or put a hand-written {PLAN_FILE} in the app directory",
                                 kind="railpack-plan") from None
    if r.returncode != 0 or not target.is_file():
        detail = _railpack_error(r.stdout + "\n" + r.stderr)
        if any(s in detail for s in ("download", "no such host", "dial tcp", "lookup ", "mise")):
            raise EnvironmentProblem(
                f"`railpack prepare` could not generate a build plan because it needs the network: it downloads mise "
                f"and resolves package versions ({detail}).",
                fix=f"run where github.com is reachable, or put a hand-written {PLAN_FILE} in the app directory (see docs/ENGINES.md)",
                kind="railpack-plan")
        raise CheckFailed(f"`railpack prepare` failed: {detail}.", fix="see `railpack info` for what it detected", kind="railpack-plan")
    return target


def _railpack_error(text: str) -> str:
    lines = [ln.strip(" ✖\t") for ln in text.splitlines() if ln.strip(" ✖\t│╭╮╰╯─")]
    for ln in lines:
        if "failed" in ln.lower() or "error" in ln.lower():
            return ln[:400]
    return (lines[-1] if lines else "no output")[:400]


FRONTEND_DOCKERFILE = """FROM scratch
COPY railpack /railpack
ENTRYPOINT ["/railpack", "frontend"]
"""


def publish_image(buildctl_args: list[str], dockerfile: str, files: dict[str, Path], ref: str,
                  docker_config: str | None, timeout: int = PUBLISH_TIMEOUT_S) -> None:
    """Build a tiny image from `scratch` (the Dockerfile text plus files copied into the context)
    and push it to `ref`. Used for the railpack frontend image (and by tests for a base image)."""
    buildctl = tools.require("buildctl", "to build the railpack frontend image")
    with tempfile.TemporaryDirectory(prefix="railpack-tui-img-") as d:
        ctx = Path(d)
        (ctx / "Dockerfile").write_text(dockerfile)
        for name, src in files.items():
            shutil.copy2(src, ctx / name)
        argv = [buildctl, *buildctl_args, "build", "--frontend", "dockerfile.v0", "--local", f"context={ctx}",
                "--local", f"dockerfile={ctx}", "--progress=plain", "--output", f"type=image,name={ref},push=true",
                "--opt", "build-arg:SOURCE_DATE_EPOCH=0"]  # the same bytes every time: the same digest
        env = dict(os.environ)
        if docker_config:
            env["DOCKER_CONFIG"] = docker_config
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
                               start_new_session=True)
        except subprocess.TimeoutExpired:
            raise EnvironmentProblem(f"pushing {ref} took longer than {timeout} s.", fix="check the registry") from None
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if "ERROR" in ln or "error:" in ln] or r.stderr.splitlines()[-1:]
        raise EnvironmentProblem(f"could not push the image {ref}: {(lines[-1] if lines else 'unknown error').strip()[:300]}.",
                                 fix="check that the registry is reachable and the credential for it may push")


FRONTEND_IMPORT_NOTE = ("railpack's gateway frontend ignores cache imports (its solve passes no CacheImports): "
                        "this build exported registry cache but could not import it")


class RailpackEngine(Engine):
    name = "railpack"

    def __init__(self, builder):
        super().__init__(builder)
        self._workdir: Path | None = None
        self.plan: dict | None = None
        self.step_for_vertex: dict[str, str] = {}
        self.mode = os.environ.get("RAILPACK_TUI_RAILPACK_MODE", "llb")
        self._definition: Path | None = None

    def frontend_image(self, request: "BuildRequest") -> str:
        image = request.railpack_frontend or default_frontend(request.cache_ref)
        if not image:
            raise EnvironmentProblem("the railpack engine needs a frontend image and there is no registry to publish one to.",
                                     fix="pass --cache-ref (the frontend image is pushed next to it) or set RAILPACK_TUI_RAILPACK_FRONTEND")
        return image

    def extra_registries(self, request: "BuildRequest") -> list[str]:
        from .. import refs

        hosts = [refs.parse(self.frontend_image(request)).registry] if self.mode == "frontend" else []
        plan_path = request.project_dir() / PLAN_FILE
        if plan_path.is_file():
            try:
                for image in plan_images(json.loads(plan_path.read_text())):
                    host = refs.parse(image).registry
                    if host not in hosts:
                        hosts.append(host)
            except (ValueError, OSError):
                pass
        return hosts

    def prepare(self, request: "BuildRequest", docker_config: str | None, log: Callable[[str], None]) -> None:
        self._workdir = Path(tempfile.mkdtemp(prefix="railpack-tui-plan-"))
        log("railpack: build plan")
        plan_path = prepare_plan(request.project_dir(), self._workdir, request.build_args)
        try:
            self.plan = json.loads(plan_path.read_text())
        except ValueError as exc:
            raise CheckFailed(f"{PLAN_FILE} is not valid JSON: {exc}.", fix="fix the plan file") from None
        self.step_for_vertex = vertex_names(self.plan)
        if self.mode == "llb":
            from . import railpack_llb

            try:
                helper = railpack_llb.ensure(railpack_version(), log)
            except EnvironmentProblem as exc:
                self.mode = "frontend"
                self.notes.append(f"railpack-llb unavailable ({exc.message}); used the gateway frontend instead")
            else:
                self._definition = railpack_llb.write_definition(helper, plan_path, self._workdir / "railpack.llb")
                return
        self.notes.append(FRONTEND_IMPORT_NOTE)
        image = self.frontend_image(request)
        if not request.railpack_frontend and not os.environ.get("RAILPACK_TUI_RAILPACK_FRONTEND"):
            log(f"railpack: publishing the frontend image {image} (railpack {railpack_version()} from scratch)")
            publish_image(self.builder.buildctl_args(), FRONTEND_DOCKERFILE,
                          {"railpack": Path(tools.require("railpack", "for the railpack engine"))}, image, docker_config)
            self.notes.append(f"railpack frontend image: {image}")

    def cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def invocation(self, request: "BuildRequest", docker_config: str | None) -> Invocation:
        if self.mode == "llb":
            return self._llb_invocation(request, docker_config)
        buildctl = tools.require("buildctl", "for the railpack engine (it runs railpack as a BuildKit frontend)")
        plan_dir = str(self._workdir) if self._workdir else "PLAN_DIR"
        argv = [buildctl, *self.builder.buildctl_args(), "build", "--frontend", "gateway.v0",
                "--opt", f"source={self.frontend_image(request)}",
                "--local", f"context={request.project_dir()}", "--local", f"dockerfile={plan_dir}",
                "--opt", f"filename={PLAN_FILE}", "--progress=rawjson"]
        argv += request_args(request)
        env = {"DOCKER_CONFIG": docker_config} if docker_config else {}
        return Invocation(argv, env, "rawjson")

    def _llb_invocation(self, request: "BuildRequest", docker_config: str | None) -> Invocation:
        buildctl = tools.require("buildctl", "for the railpack engine")
        argv = [buildctl, *self.builder.buildctl_args(), "build", "--local", f"context={request.project_dir()}",
                "--progress=rawjson", *request_args(request)]
        env = {"DOCKER_CONFIG": docker_config} if docker_config else {}
        stdin = str(self._definition) if self._definition else None
        return Invocation(argv, env, "rawjson", stdin_path=stdin)

    def command_line(self, request: "BuildRequest") -> str:
        line = super().command_line(request)
        if self.mode == "llb":
            return f"railpack-llb {PLAN_FILE} | {line}"
        return line
