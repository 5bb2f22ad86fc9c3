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

    def holds_secret(self, value: str) -> bool:
        return any(s in value for s in self._texts)

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


def progress_line(masker: Masker, line: str) -> str:
    """One line of a progress stream as written to `--progress-file`: text masked, and in a
    rawjson message the base64 log and warning data masked too (re-encoded)."""
    if not masker:
        return line
    line = masker.text(line)
    if not line.startswith("{") or not any(k in line for k in ('"logs"', '"warnings"')):
        return line
    import base64
    import binascii
    import json

    try:
        msg = json.loads(line)
    except ValueError:
        return line

    changed = []

    def clean(value):
        if not isinstance(value, str):
            return value
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value
        masked = masker.data(raw)
        if masked == raw:
            return value
        changed.append(True)
        return base64.b64encode(masked).decode()

    for log in msg.get("logs") or []:
        if isinstance(log, dict):
            log["data"] = clean(log.get("data"))
    for w in msg.get("warnings") or []:
        if isinstance(w, dict):
            w["short"] = clean(w.get("short"))
            if isinstance(w.get("detail"), list):
                w["detail"] = [clean(d) for d in w["detail"]]
    return json.dumps(msg, separators=(",", ":")) if changed else line
