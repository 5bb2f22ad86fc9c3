"""Finding the external programs railpack-tui drives."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import EnvironmentProblem

INSTALL_HINT = "run scripts/install-tools from the railpack-tui checkout (installs BuildKit, buildx, railpack and the Debian packages)"

_EXTRA_DIRS = ("/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", str(Path.home() / ".docker" / "cli-plugins"))


def find(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in _EXTRA_DIRS:
        candidate = Path(d) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require(name: str, purpose: str) -> str:
    path = find(name)
    if path is None:
        raise EnvironmentProblem(f"`{name}` is not installed; it is needed {purpose}.", fix=INSTALL_HINT, kind="missing-tool")
    return path


def missing(names: list[str]) -> list[str]:
    return [n for n in names if find(n) is None]
