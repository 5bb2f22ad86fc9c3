"""The project path input: completes directory names as you type (Textual's Input suggester;
Right or End accepts the suggestion) and shows paths under $HOME as `~/...`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from textual.suggester import Suggester
from textual.widgets import Input


def tilde(path: Path | str) -> str:
    """`/home/me/src/app` -> `~/src/app`; anything else unchanged."""
    p = Path(path)
    try:
        home = Path.home()
    except RuntimeError:
        return str(p)
    try:
        rel = p.relative_to(home)
    except ValueError:
        return str(p)
    return "~" if str(rel) == "." else f"~/{rel}"


def expand(text: str) -> Path:
    return Path(os.path.expanduser(text.strip() or "."))


def complete_dir(value: str, limit: int = 2000) -> str | None:
    """The first sub-directory (sorted, hidden ones only when asked for with a leading dot)
    that completes `value`, returned as `value` plus the missing characters and a slash."""
    if not value:
        return None
    head, sep, prefix = value.rpartition("/")
    if not sep:
        head, prefix = ".", value
    if not prefix:
        return None  # "dir/": nothing typed yet to complete
    parent = Path(os.path.expanduser(head + "/" if head else "/"))
    try:
        names = []
        with os.scandir(parent) as it:
            for n, entry in enumerate(it):
                if n >= limit:
                    break
                if entry.name.startswith(prefix) and (prefix.startswith(".") or not entry.name.startswith(".")):
                    try:
                        if entry.is_dir():
                            names.append(entry.name)
                    except OSError:
                        continue
    except OSError:
        return None
    names = [n for n in sorted(names) if n != prefix]
    if not names:
        return None
    return value + names[0][len(prefix):] + "/"


class DirectorySuggester(Suggester):
    """Suggests directory completions; the file system is read off the event loop."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_dir, value)


class ProjectPathInput(Input):
    """A path input with directory completion."""

    def __init__(self, value: str = "", **kwargs) -> None:
        kwargs.setdefault("placeholder", "a project directory (→ completes)")
        kwargs.setdefault("compact", True)
        super().__init__(value, suggester=DirectorySuggester(), **kwargs)
