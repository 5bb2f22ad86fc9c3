"""The recent projects list (newest first), fed from the settings the app remembers in
`paths.config_dir()`; selecting one opens it."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from .projects_path_input import tilde


BUDGET = 26  # name + parent in cells: one line in the narrowest browse pane


class RecentProjects(OptionList):
    def show(self, projects: list[tuple[str, str]], current: str | None = None) -> None:
        """`projects`: (path, cache ref or "") pairs, newest first; the ref shows as a tooltip."""
        self.clear_options()
        if not projects:
            self.add_option(Option(Text("no recent projects yet", style="dim italic"), disabled=True))
            return
        for path, cache_ref in projects:
            p = Path(path)
            mark = "● " if path == current else "  "
            name, parent = p.name or path, tilde(p.parent)
            room = max(0, BUDGET - len(name))
            if len(parent) > room:
                parent = ("…" + parent[-(room - 1):]) if room > 1 else ""
            label = Text.assemble(mark, (name, "bold"), "  ", (parent, "dim"))
            self.add_option(Option(label, id=path))
        self.tooltip = "\n".join(f"{Path(p).name}: {ref}" for p, ref in projects if ref) or None
