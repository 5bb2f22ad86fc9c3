"""Errors a user can see. Each carries a kind, an exit code (see the CLI contract) and a fix."""

from __future__ import annotations


class RailpackTuiError(Exception):
    """A failure with a message meant for the user; never shown with a traceback."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, *, fix: str | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if kind is not None:
            self.kind = kind

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message} Fix: {self.fix}"
        return self.message

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": str(self)}


class BadInput(RailpackTuiError):
    """Exit 2: an invalid reference, a missing path, an unreadable file, a bad flag."""

    exit_code = 2
    kind = "bad-input"


class EnvironmentProblem(RailpackTuiError):
    """Exit 3: no builder reachable, no keyring when one is required, a missing tool."""

    exit_code = 3
    kind = "environment"


class CheckFailed(RailpackTuiError):
    """Exit 1: a build failed, or a registry check failed."""

    exit_code = 1
