"""`railpack-tui` with no subcommand: the dashboard. The embedded default brings the local
sandbox up (when its tools are installed) and opens on the bundled example with the sandbox
registry as its cache."""

from __future__ import annotations

import sys

from .. import defaults
from ..errors import BadInput


def run(args) -> int:
    from railpack_tui import themes  # Textual loads here: the dashboard needs it anyway

    if args.theme and args.theme not in themes.NAMES:  # before the sandbox starts, not after
        raise BadInput(f"unknown theme {args.theme!r}.", fix=f"use one of {', '.join(themes.NAMES)}")
    setup = defaults.resolve(project=args.project, log=lambda m: print(f"railpack-tui: {m}", file=sys.stderr))
    from railpack_tui.tui.app import run_app  # Textual only loads here

    return run_app(setup, theme=args.theme)
