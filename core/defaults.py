"""What the dashboard opens on when nothing is configured: the bundled example, the builder
from BUILDKIT_HOST or the local sandbox, and a cache ref in the sandbox registry."""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from . import example, sandbox, tools
from .errors import BadInput, RailpackTuiError


_REPO_CHARS = frozenset(string.ascii_lowercase + string.digits + "._-")


@dataclass
class Setup:
    project: Path
    builder: str | None
    cache_ref: str | None
    sandbox: sandbox.SandboxInfo | None = None
    notices: list[str] = field(default_factory=list)


def sandbox_cache_ref(info: sandbox.SandboxInfo, project: Path) -> str:
    """`REGISTRY/railpack-tui/NAME:cache`, NAME the directory's name made a valid repository path
    component: lowercase ASCII letters and digits, joined by '.', '_', '__' or dashes."""
    name = "".join(ch if ch in _REPO_CHARS else "-" for ch in project.name.lower())
    name = re.sub(r"[._-]+", lambda m: m.group() if re.fullmatch(r"\.|_|__|-+", m.group()) else "-", name)
    return f"{info.registry}/railpack-tui/{name.strip('-._') or 'project'}:cache"


def project_dir(project: str) -> Path:
    """The --project directory, resolved; BadInput that says what is wrong with it otherwise."""
    p = Path(project).expanduser().resolve()
    if p.is_file():  # e.g. the Dockerfile itself
        raise BadInput(f"{project!r} is a file, not a project directory.", fix=f"pass the directory that holds it: {p.parent}")
    if not p.is_dir():
        raise BadInput(f"project directory {project!r} does not exist.", fix="pass a directory that holds a Dockerfile or a Railpack app")
    return p


def _sandbox_behind(builder: str) -> sandbox.SandboxInfo | None:
    """The running sandbox when BUILDKIT_HOST is its builder (`eval "$(railpack-tui sandbox env)"`
    sets exactly that): the dashboard then still gets its registry, login and default cache ref."""
    info = sandbox.status(probe=False)
    daemons = (info.buildkitd, info.registry_daemon)
    if info.buildkit_host == builder and all(d is not None and d.alive for d in daemons):
        return info
    return None


def resolve(project: str | None = None, start_sandbox: bool = True, log=lambda m: None) -> Setup:
    notices: list[str] = []
    if project:
        p = project_dir(project)
    else:
        p = example.prepare()
    builder = os.environ.get("BUILDKIT_HOST") or None
    info = _sandbox_behind(builder) if builder else None
    if builder is None and start_sandbox:
        missing = tools.missing(sandbox.REQUIRED_TOOLS)
        if missing:
            notices.append(f"No builder: BUILDKIT_HOST is unset and the sandbox tools are missing ({', '.join(missing)}). "
                           f"Fix: {tools.INSTALL_HINT}.")
        else:
            try:
                log("starting the local sandbox (buildkitd + registry on loopback)...")
                info = sandbox.up(log=log)
                builder = info.buildkit_host
            except RailpackTuiError as exc:
                notices.append(f"The sandbox did not start: {exc}")
    cache_ref = sandbox_cache_ref(info, p) if info else None
    return Setup(project=p, builder=builder, cache_ref=cache_ref, sandbox=info, notices=notices)
