"""A temporary Docker config for one build: `config.json` holding only the needed registries'
auth, 0600 in a 0700 directory, removed afterwards (also on errors, cancel and SIGTERM, as long
as the caller's `finally` runs; `runner.install_signal_handlers` covers SIGTERM/SIGHUP)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from .credentials import Credential

_live: set[Path] = set()
_lock = threading.Lock()


def _auth_entry(cred: Credential) -> dict:
    token = base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
    return {"auth": token}


DOCKER_HUB_KEY = "https://index.docker.io/v1/"


def config_key(host: str) -> str:
    """The `auths` key BuildKit and the Docker CLI look up: Docker Hub has its historical URL
    (BuildKit maps registry-1.docker.io to it), every other registry its host[:port]."""
    return DOCKER_HUB_KEY if host in ("docker.io", "index.docker.io", "registry-1.docker.io") else host


def write(creds: Iterable[Credential]) -> Path:
    """Create the directory and config; the caller must `remove` it."""
    d = Path(tempfile.mkdtemp(prefix="railpack-tui-docker-"))
    os.chmod(d, 0o700)
    with _lock:
        _live.add(d)
    data = {"auths": {config_key(c.host): _auth_entry(c) for c in creds}}
    fd = os.open(d / "config.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return d


def remove(d: Path) -> None:
    shutil.rmtree(d, ignore_errors=True)
    with _lock:
        _live.discard(d)


def remove_all() -> None:
    with _lock:
        live = list(_live)
    for d in live:
        remove(d)


@contextmanager
def temporary(creds: Iterable[Credential]) -> Iterator[Path]:
    d = write(creds)
    try:
        yield d
    finally:
        remove(d)
