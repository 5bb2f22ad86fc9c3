"""Where railpack-tui keeps things: XDG directories, each overridable by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "railpack-tui"


def _dir(env: str, default: str) -> Path:
    value = os.environ.get(env)
    path = Path(value).expanduser() if value else Path(default)
    return path


def config_dir() -> Path:
    """Settings: saved registries (names only), themes, recent projects."""
    return _dir("RAILPACK_TUI_CONFIG_DIR", platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    """History database, the materialised example project."""
    return _dir("RAILPACK_TUI_DATA_DIR", platformdirs.user_data_dir(APP))


def state_dir() -> Path:
    """Logs and the sandbox (sockets, daemon state, registry storage)."""
    return _dir("RAILPACK_TUI_STATE_DIR", platformdirs.user_state_dir(APP))


def sandbox_dir() -> Path:
    return _dir("RAILPACK_TUI_SANDBOX_DIR", str(state_dir() / "sandbox"))


def ensure_private_dir(path: Path) -> Path:
    """Create a directory readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
