"""The bundled example project, prepared in the user's data directory (so it can be edited to
see cache misses) with a static busybox copied in (the Dockerfile builds from `scratch`)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from . import paths
from .errors import EnvironmentProblem

NAME = "cache-demo"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


def source_dir() -> Path:
    return Path(str(resources.files("railpack_tui.examples") / NAME))


def find_busybox() -> Path:
    for c in BUSYBOX_CANDIDATES:
        p = Path(c)
        if p.is_file():
            return p
    raise EnvironmentProblem("a static busybox is needed to build the example from `scratch`.",
                             fix="apt-get install busybox-static (or run scripts/install-tools)", kind="missing-tool")


def prepare(dest: Path | None = None, reset: bool = False) -> Path:
    """Copy the example to `dest` (default: the data directory) unless it is there already."""
    dest = dest or (paths.data_dir() / "examples" / NAME)
    try:
        if reset and dest.exists():
            shutil.rmtree(dest)
        if not (dest / "Dockerfile").exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source_dir(), dest, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "__init__.py", "busybox"))
        bb = dest / "busybox"
        if not bb.exists():
            shutil.copy2(find_busybox(), bb)
    except (OSError, shutil.Error) as exc:  # a file where a directory goes, a read-only data dir
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise EnvironmentProblem(f"cannot prepare the bundled example in {dest}: {reason}.", kind="data-dir",
                                 fix="point RAILPACK_TUI_DATA_DIR at a directory you can write, "
                                     "or open your own project with --project DIR") from None
    return dest
