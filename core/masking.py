"""Known secrets masked in everything railpack-tui shows or keeps of a build's output.

The runner gives the build's `Masker` the passwords it put in the temporary Docker config; the
model (`BuildModel.masker`) applies it to step logs, errors, warnings and non-progress lines as
they arrive, so the CLI's output, the TUI's log view, reports and history all read masked text.
A secret is replaced by `***` wherever it appears whole in one log chunk or line (BuildKit sends
a step's output in chunks; a secret cut across two chunks is not recognised).
"""

from __future__ import annotations

from typing import Iterable

MASK = "***"
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words


class Masker:
    """Replaces each known secret (longest first) with `***`. Empty: every call is a no-op."""

    __slots__ = ("_texts", "_bytes")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._texts: list[str] = []
        self._bytes: list[bytes] = []
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET_LEN or secret in self._texts:
            return
        self._texts.append(secret)
        self._texts.sort(key=len, reverse=True)
        self._bytes = [t.encode() for t in self._texts]

    def __bool__(self) -> bool:
        return bool(self._texts)

    def text(self, value: str) -> str:
        for s in self._texts:
            if s in value:
                value = value.replace(s, MASK)
        return value

    def data(self, value: bytes) -> bytes:
        for s in self._bytes:
            if s in value:
                value = value.replace(s, MASK.encode())
        return value

    def __repr__(self) -> str:  # never the secrets themselves
        return f"Masker({len(self._texts)} secrets)"


_known = Masker()


def remember(secrets: Iterable[str]) -> None:
    """Add secrets this process has used (a build's registry passwords) to `known()`."""
    for s in secrets:
        _known.add(s)


def known() -> Masker:
    """Every secret this process has handed to a build so far: for text shown outside a build's
    model (the dashboard's command line)."""
    return _known
