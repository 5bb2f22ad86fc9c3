"""BuildKit direct: `buildctl build --frontend dockerfile.v0` with registry cache import/export and
`--progress=rawjson`. Credentials reach buildkitd through the client session from DOCKER_CONFIG."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import tools
from .base import Engine, Invocation, cache_option

if TYPE_CHECKING:
    from ..runner import BuildRequest


def output_args(output: str | None) -> list[str]:
    """--output for buildctl: none, a local directory, or push=IMAGE."""
    if not output or output == "none":
        return []
    if output.startswith("push="):
        return ["--output", f"type=image,name={output[len('push='):]},push=true"]
    return ["--output", f"type=local,dest={output}"]


def cache_args(request: "BuildRequest") -> list[str]:
    args: list[str] = []
    for ref in request.import_refs():
        args += ["--import-cache", cache_option("import", ref, request)]
    for ref in request.export_refs():
        args += ["--export-cache", cache_option("export", ref, request)]
    return args


def request_args(request: "BuildRequest") -> list[str]:
    """Build args, --no-cache, registry cache and output: the buildctl flags every frontend shares."""
    args: list[str] = []
    for k, v in request.build_args.items():
        args += ["--opt", f"build-arg:{k}={v}"]
    if request.no_cache:
        args += ["--no-cache"]
    return args + cache_args(request) + output_args(request.output)


class BuildKitEngine(Engine):
    name = "buildkit"

    def invocation(self, request: "BuildRequest", docker_config: str | None) -> Invocation:
        buildctl = tools.require("buildctl", "for the buildkit engine")
        path = str(request.project_dir())
        dockerfile = request.dockerfile_path()
        argv = [buildctl, *self.builder.buildctl_args(), "build", "--frontend", "dockerfile.v0",
                "--local", f"context={path}", "--local", f"dockerfile={dockerfile.parent}",
                "--progress=rawjson"]
        if dockerfile.name != "Dockerfile":
            argv += ["--opt", f"filename={dockerfile.name}"]
        if request.target:
            argv += ["--opt", f"target={request.target}"]
        argv += request_args(request)
        env = {"DOCKER_CONFIG": docker_config} if docker_config else {}
        return Invocation(argv, env, "rawjson")
