"""Fixes are written for the command line ("use --engine railpack"); in the dashboard the same
fix names the control that does it."""

from __future__ import annotations

import copy
import re

from railpack_tui.core.errors import RailpackTuiError

_FORM = "the cache ref's form (e on Registries)"
_TERMS = [
    # the registry test's fixes (shown on the Registries screen): the cache ref's form does these
    (re.compile(r"(?:run|log in with) `railpack-tui registry login \S+ --username U --password-stdin`, "
                r"or pass --username with --password-stdin"), "give the cache ref a username and password (e on Registries)"),
    (re.compile(r"\(re-run `registry login` if the password changed\)"),
     "(type the new password in the cache ref's form, e on Registries, if it changed)"),
    (re.compile(r"pass the registry's CA with --ca-cert FILE"), f"give the registry's CA as the CA file in {_FORM}"),
    (re.compile(r"pass (?:a|a readable) PEM file of CA certificates to --ca-cert"),
     f"give a readable PEM file of CA certificates as the CA file in {_FORM}"),
    (re.compile(r"(?:use )?--insecure"), f'tick "Insecure" in {_FORM}'),
    (re.compile(r"(?:use |with )?--engine (buildkit|buildx|railpack)"), r'pick "Engine: \1" in the command palette (ctrl+p)'),
    (re.compile(r"(?:pass |give )?--cache-ref(?: REF)?"), "set a cache ref on the Registries screen (key 3)"),
    # the dashboard has no field for a tcp:// builder's client certificates: only `build` takes them
    (re.compile(r"and for TLS pass its client certificates with --tls-dir DIR (\([^)]*\))"),
     r"and for TLS: the dashboard cannot give the builder client certificates \1 yet, "
     r"`railpack-tui build PATH --tls-dir DIR` can"),
    (re.compile(r"as --builder"), "as the Builder on the Projects screen (key 2)"),
    (re.compile(r"pass another --builder"), "set another Builder on the Projects screen (key 2)"),
    (re.compile(r"(?:pass |give )?--builder(?: \S+)?"), "set the Builder on the Projects screen (key 2) to it"),
    # the Registries screen's test waits a fixed time per check: it has no --timeout to raise
    (re.compile(r",? or raise --timeout"), ", or give it longer from a shell: `railpack-tui registry test REF --timeout 30`"),
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
