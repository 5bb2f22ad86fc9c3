"""Line parsers for BuildKit progress: format detection and the `--progress=plain` parser.

rawjson lines are decoded by `BuildModel` itself (one `json.loads` per line, the hot path). Plain
lines (`#N name`, `#N CACHED`, `#N DONE 1.2s`, `#N ERROR: msg`, `#N CANCELED`, status lines
`#N <id> <cur> / <total> <secs> done`, log lines `#N <secs> <text>`) are turned into the same
model updates here. What plain progress cannot carry: timestamps (the arrival time is used),
vertex inputs (see `BuildModel.parents`), and whether a step pulled from the registry cache was
cached: BuildKit prints layer downloads + `DONE` for it, not `CACHED`. We infer `cached` for a
non-FROM step whose only activity was layer downloads (no output) and flag it `cache_inferred`.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .model import BuildModel, Step

_PLAIN_LINE = re.compile(r"^#(\d+) ?(.*)$")
_DONE = re.compile(r"^DONE(?: (\d+(?:\.\d+)?)s)?$")
_LOG = re.compile(r"^(\d+\.\d{3})(?: (.*))?$")
_SIZE = r"\d+(?:\.\d+)?(?:[kKMGTP]i?)?B"
_STATUS = re.compile(
    rf"^(?P<id>.*?)(?: (?P<cur>{_SIZE})(?: / (?P<tot>{_SIZE}))?)?(?: (?P<secs>\d+(?:\.\d+)?s))?(?P<done> done)?$"
)
_UNITS = {"": 1, "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5,
          "ki": 1024, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5}
_SIZE_PARTS = re.compile(r"^(\d+(?:\.\d+)?)([kKMGTP]i?)?B$")


def detect_format(line: str | bytes) -> str | None:
    """"rawjson", "plain", or None when the line says nothing (blank, or some other tool's line)."""
    if isinstance(line, bytes):
        line = line[:64].decode("utf-8", "replace")
    s = line.lstrip()
    if not s:
        return None
    if s.startswith("{"):
        return "rawjson"
    if _PLAIN_LINE.match(s) and s[1:2].isdigit():
        return "plain"
    return None


def parse_size(text: str) -> int | None:
    """`1.08MB` -> 1080000 (BuildKit prints decimal units); None when not a size."""
    m = _SIZE_PARTS.match(text)
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS.get(m.group(2) or "", 1))


def _is_from(name: str) -> bool:
    rest = name.split("] ", 1)[1] if name.startswith("[") and "] " in name else name
    return rest.startswith("FROM ") or rest.startswith("docker-image://")


class PlainParser:
    """Feeds `--progress=plain` lines into a `BuildModel`. Vertex ids are `#N`."""

    def __init__(self, model: "BuildModel", clock=time.time) -> None:
        self.model = model
        self.clock = clock

    def feed(self, line: str | bytes) -> None:
        if isinstance(line, bytes):
            line = line.decode("utf-8", "replace")
        line = line.rstrip("\r\n")
        if "\n" in line:  # several lines in one chunk
            for part in line.split("\n"):
                self.feed(part)
            return
        m = _PLAIN_LINE.match(line)
        if not m:
            self.model._other(line)
            return
        model = self.model
        vid = "#" + m.group(1)
        rest = m.group(2)
        st = model._by_id.get(vid)
        now = self.clock()
        if st is None or not st.name:
            if st is None:
                st = model._placeholder(vid)
            model._set_name(st, rest.strip())
            self._open(st, now)
            return
        if rest == st.name:
            self._open(st, now)  # the header is repeated when the vertex's output resumes
            return
        if rest == "CACHED":
            st.cached_reported = True
            self._close(st, now, None)
        elif rest.startswith("DONE"):
            d = _DONE.match(rest)
            secs = float(d.group(1)) if d and d.group(1) else None
            if (st.kind == "step" and not st._has_output and not st.cached_reported and not _is_from(st.name)
                    and any(k.startswith("sha256:") and rec[1] for k, rec in st.transfers.items())):
                st.cache_inferred = True
            self._close(st, now, secs)
        elif rest.startswith("ERROR:") or rest.startswith("ERROR "):
            st.error = rest[6:].strip() or "error"
            self._close(st, now, None)
        elif rest == "CANCELED" or rest == "CANCELLED":
            st.error = "context canceled"
            self._close(st, now, None)
        elif rest.startswith(("WARN:", "WARNING:")):
            if len(st.warnings) < 100:
                st.warnings.append({"level": 1, "short": rest.split(":", 1)[1].strip(), "detail": [], "url": None})
                model._changes.add(st.id)
        else:
            lg = _LOG.match(rest)
            if lg:
                model._log_bytes += st.logs.write(((lg.group(2) or "") + "\n").encode("utf-8", "replace"))
                if model._log_bytes > model._log_budget:
                    model._enforce_log_budget()
                model._changes.add(st._logkey)
                if not st._has_output:
                    model._first_output(st)
                return
            s = _STATUS.match(rest)
            if s and s.group("id"):
                cur = parse_size(s.group("cur")) if s.group("cur") else 0
                tot = parse_size(s.group("tot")) if s.group("tot") else 0
                model._transfer(st, s.group("id"), cur or 0, tot or 0, bool(s.group("done")))

    def _open(self, st: "Step", now: float) -> None:
        if st.started is None:
            st.started = now
            st._intervals[now] = None
            self.model._order_dirty = True
        if st.completed is not None and not st.error:
            st.completed = None  # re-opened
        self.model._touch_time(now)
        self.model._update_state(st)

    def _close(self, st: "Step", now: float, secs: float | None) -> None:
        if st.started is None:
            st.started = now
        st.completed = now
        if secs is not None:
            st.duration_s = secs
        elif st.duration_s is None:
            st.duration_s = 0.0 if st.cached_reported else round(now - st.started, 3)
        self.model._touch_time(now)
        self.model._update_state(st)
        self.model._changes.add(st.id)
