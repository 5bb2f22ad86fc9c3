""".dockerignore semantics, as Docker and BuildKit apply them (moby/patternmatcher v0.6.1 and its
ignorefile reader):

- a UTF-8 BOM is dropped; lines starting with `#` are comments; each line is trimmed; empty lines
  are skipped;
- `!` makes an exception (re-includes); the pattern is `filepath.Clean`ed and a leading `/` is
  stripped (`/a/b` == `a/b`);
- `*` matches any run of non-separators, `?` one non-separator, `[...]` a class, `\\` escapes;
  `**` matches any number of directories (zero included); a trailing `**` matches everything below;
- a pattern that matches a parent directory of a file matches the file;
- the last matching pattern wins.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput

_REGEX_SPECIAL = set(".+()|{}$")  # what patternmatcher escapes; everything else goes through raw


@dataclass
class Pattern:
    text: str            # cleaned pattern (no `!`)
    exclusion: bool      # a `!` exception
    match_type: str      # exact | prefix | suffix | regexp
    regex: re.Pattern | None

    def match(self, path: str) -> bool:
        if self.match_type == "exact":
            return path == self.text
        if self.match_type == "prefix":
            return path.startswith(self.text[:-2])
        if self.match_type == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        return bool(self.regex and self.regex.match(path))


def _clean(p: str) -> str:
    """Go's filepath.Clean for slash paths."""
    if not p:
        return "."
    cleaned = posixpath.normpath(p)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def read_patterns(text: str) -> list[str]:
    """ignorefile.ReadAll: the pattern strings (exceptions keep their `!`)."""
    out = []
    if text.startswith("\ufeff"):
        text = text[1:]
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = _clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


def _compile(text: str) -> tuple[str, re.Pattern | None]:
    reg = "^"
    kind = "exact"
    i, n = 0, len(text)
    pos = 0
    while i < n:
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        reg += ".*"
                        kind = "regexp"
                else:
                    reg += "(.*/)?"
                    kind = "regexp"
                if pos == 0:
                    kind = "suffix"
            else:
                reg += "[^/]*"
                kind = "regexp"
        elif ch == "?":
            reg += "[^/]"
            kind = "regexp"
        elif ch in _REGEX_SPECIAL:
            reg += "\\" + ch
        elif ch == "\\":
            if i < n:
                reg += re.escape(text[i])
                i += 1
                kind = "regexp"
            else:
                reg += "\\\\"
        elif ch in "[]":
            reg += ch
            kind = "regexp"
        else:
            reg += ch
        pos += 1
    if kind != "regexp":
        return kind, None
    try:
        return kind, re.compile(reg + "$", re.S)
    except re.error as exc:
        raise ValueError(str(exc)) from None


def _check_syntax(text: str) -> None:
    """Reject what Go's filepath.Match rejects: unbalanced or empty classes, a trailing `\\`."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError("trailing backslash")
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and text[j] == "^":
                j += 1
            start = j
            while j < n and text[j] != "]":
                if text[j] == "\\":
                    j += 1
                j += 1
            if j >= n or j == start:
                raise ValueError("unbalanced or empty [ ]")
            i = j + 1
            continue
        if c == "]":
            raise ValueError("unbalanced ]")
        i += 1


class Matcher:
    def __init__(self, patterns: list[str], source: str = ".dockerignore") -> None:
        self.patterns: list[Pattern] = []
        for p in patterns:
            p = p.strip()
            if not p:
                continue
            p = _clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise BadInput(f"{source}: illegal exception pattern \"!\".", fix="remove the lone `!` line")
                p = p[1:]
            try:
                _check_syntax(p)
                kind, regex = _compile(p)
            except ValueError as exc:
                raise BadInput(f"{source}: bad pattern {p!r} ({exc}).", fix="fix or remove that line") from None
            self.patterns.append(Pattern(p, exclusion, kind, regex))

    def excluded(self, path: str) -> bool:
        """MatchesOrParentMatches for a slash path relative to the context."""
        path = _clean(path)
        if path == ".":
            return False
        parent = posixpath.dirname(path) or "."
        parent_dirs = parent.split("/")
        matched = False
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue
            hit = pat.match(path)
            if not hit and parent != ".":
                for i in range(len(parent_dirs)):
                    if pat.match("/".join(parent_dirs[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pat.exclusion
        return matched


def for_context(context: Path, dockerfile: Path | None = None) -> tuple[Matcher, str | None]:
    """The matcher BuildKit uses for a context: `<Dockerfile>.dockerignore` next to the Dockerfile
    wins over `.dockerignore` at the context root. Returns (matcher, file used or None)."""
    candidates = []
    if dockerfile is not None:
        candidates.append(dockerfile.parent / (dockerfile.name + ".dockerignore"))
    candidates.append(context / ".dockerignore")
    for c in candidates:
        if c.is_file():
            try:
                text = c.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise BadInput(f"cannot read {c}: {exc.strerror}.", fix="check its permissions") from None
            return Matcher(read_patterns(text), source=str(c)), str(c)
    return Matcher([]), None
