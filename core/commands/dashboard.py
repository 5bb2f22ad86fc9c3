"""`railpack-tui` with no subcommand: the dashboard. The embedded default brings the local
sandbox up (when its tools are installed) and opens on the bundled example with the sandbox
registry as its cache."""

from __future__ import annotations

import sys

from .. import defaults
from ..errors import BadInput


def check_theme(theme: str | None) -> None:
    """BadInput for a theme the dashboard does not have (the dashboard and `serve` check first)."""
    from railpack_tui import themes  # Textual loads here: the dashboard needs it anyway

    if theme and theme not in themes.NAMES:
        raise BadInput(f"unknown theme {theme!r}.", fix=f"use one of {', '.join(themes.NAMES)}")


def run(args) -> int:
    check_theme(args.theme)  # before the sandbox starts, not after
    setup = defaults.resolve(project=args.project, log=lambda m: print(f"railpack-tui: {m}", file=sys.stderr))
    from railpack_tui.tui.app import run_app  # Textual only loads here

    return run_app(setup, theme=args.theme)
