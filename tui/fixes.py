"""Fixes are written for the command line ("use --engine railpack"); in the dashboard the same
fix names the control that does it."""

from __future__ import annotations

import copy
import re

from railpack_tui.core.errors import RailpackTuiError

_TERMS = [
    (re.compile(r"(?:use |with )?--engine (buildkit|buildx|railpack)"), r'pick "Engine: \1" in the command palette (ctrl+p)'),
    (re.compile(r"(?:pass |give )?--cache-ref(?: REF)?"), "set a cache ref on the Registries screen (key 3)"),
    (re.compile(r"as --builder"), "as the Builder on the Projects screen (key 2)"),
    (re.compile(r"(?:pass |give )?--builder(?: \S+)?"), "set the Builder on the Projects screen (key 2) to it"),
    (re.compile(r"--no-import"), '"Toggle cache import" in the command palette'),
    (re.compile(r"--no-export"), '"Toggle cache export" in the command palette'),
    (re.compile(r"--mode (max|min)"), r'"Cache mode: \1" in the command palette'),
]


def in_dashboard_terms(fix: str) -> str:
    for pattern, replacement in _TERMS:
        fix = pattern.sub(replacement, fix)
    return fix


def for_dashboard(error: BaseException) -> BaseException:
    """The error with its fix in dashboard terms (a copy; the original stays as it was recorded)."""
    if not isinstance(error, RailpackTuiError) or not error.fix:
        return error
    fix = in_dashboard_terms(error.fix)
    if fix == error.fix:
        return error
    shown = copy.copy(error)
    shown.fix = fix
    return shown
