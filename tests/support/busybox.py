"""A static busybox that no other test shares."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


def copy_unique_busybox(dest: Path) -> Path:
    """Copy busybox to `dest` with a unique tail: trailing bytes do not change how the ELF runs,
    but they give every step that copies it a cache key no other test shares, so a snapshot an
    earlier test left on the builder (BuildKit keeps those of cancelled builds even through
    `prune --all`) cannot make this test's cold build cached."""
    from railpack_tui.core import example

    shutil.copy2(example.find_busybox(), dest)
    with open(dest, "ab") as fh:
        fh.write(b"\0railpack-tui-test-" + uuid.uuid4().hex.encode())
    return dest
