"""Unexpected exceptions go to a log file, not to the user's terminal."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from . import paths


def record(exc: BaseException) -> str:
    try:
        d = paths.ensure_private_dir(paths.state_dir() / "logs")
        f = d / "crash.log"
        with open(f, "a") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
            fh.write("".join(traceback.format_exception(exc)))
        return str(f)
    except OSError:
        return "the message above"


def log_path() -> Path:
    return paths.state_dir() / "logs" / "crash.log"
