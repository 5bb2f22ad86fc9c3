"""The live model of one BuildKit build, fed line by line from its progress stream.

`BuildModel` turns `--progress=rawjson` (buildctl, buildx) or `--progress=plain` (railpack, buildx
fallback) into steps with a cache state each, the cache import/export outcome per ref and the
build's final status. It never raises on what it is fed: garbage, truncated JSON and non-JSON
lines (`error: failed to solve: ...`, the Dockerfile excerpt) become the build's error text and
trailing output.

What is a *step*: a Dockerfile instruction (`[stage i/N] ...`, `[i/N] ...`, optionally with a
platform prefix) or a Railpack command (custom names such as `copy .`, `[railpack] merge ...`).
Everything else (`[internal] ...`, `[auth] ...`, cache import/export, image export) is
bookkeeping: kept in `model.bookkeeping`, never counted in `summary()`.

When a step is *cached*: BuildKit reported `cached: true` for its vertex at least once (the flag
can be absent from later updates of the same digest: lazy layer pulls re-open the vertex) and the
step did not execute (no process output). In plain progress a step pulled from the registry cache
prints layer downloads + `DONE` instead of `CACHED`; the plain parser infers `cached` for a
non-FROM step whose only activity is layer downloads (`Step.cache_inferred` is then True).

The TUI polls `drain_changes()` (cheap; coalesced keys) and redraws only what changed.
"""

from __future__ import annotations

import binascii
import heapq
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, Iterable

# log chunks at least this long (base64 characters) are decoded with pybase64: BuildKit sends a
# chatty step's output a few KB a message, where binascii takes ~20 us and pybase64 ~1 us; below
# this binascii's smaller per-call cost wins
FAST_B64_MIN = 1024
_fast_b64: Any = False  # pybase64.b64decode once looked up; None where it is not installed


def _fast_b64decode() -> Any:
    global _fast_b64
    if _fast_b64 is False:  # imported on the first large chunk, not at start-up (~3 ms)
        try:
            from pybase64 import b64decode as _fast_b64
        except ImportError:
            _fast_b64 = None
    return _fast_b64


def decode_log_data(data: str) -> bytes:
    """A rawjson log entry's `data` (base64), decoded as binascii.a2b_base64 decodes it."""
    if len(data) >= FAST_B64_MIN:
        fast = _fast_b64decode()
        if fast is not None:
            try:
                return fast(data, validate=True)
            except ValueError:
                pass  # not strict base64: binascii's lenient decoding, as always
    return binascii.a2b_base64(data)


STEP_STATES = ("pending", "running", "cached", "executed", "error", "cancelled")
IMPORT_STATES = ("ok", "not-found", "unauthorized", "unreachable", "error")
EXPORT_STATES = ("ok", "unauthorized", "unreachable", "error", "ignored-error")
BUILD_STATUSES = ("success", "failed", "cancelled", "incomplete")
# the detail of an import a build never reached (it ended before BuildKit imported or ran anything)
NOT_IMPORTED = "not imported: the build ended before the cache import"

# Change keys besides step ids and "logs:<id>".
CHANGE_SUMMARY = "summary"
CHANGE_CACHE = "cache"
CHANGE_STATUS = "status"
CHANGE_ORDER = "order"  # a step appeared or the build order changed
CHANGE_OUTPUT = "output"  # trailing non-progress output / the build's error text

_STEP_NAME = re.compile(
    r"^\[(?:(?P<platform>[\w.-]+/[\w.-]+(?:/[\w.-]+)?) )?(?:(?P<stage>[^\s\[\]]+) )?(?P<index>\d+)/(?P<total>\d+)\] "
)
_COPY_FROM = re.compile(r"\] (?:COPY|ADD) (?:--\S+ )*?--from=([^\s]+)")
_IMPORT_PREFIX = "importing cache manifest from "
_EXPORT_PREFIXES = ("exporting to ", "exporting layers", "exporting manifest", "exporting config",
                    "exporting attestation", "writing image", "naming to ", "unpacking to ", "pushing ",
                    "sending tarball", "exporting image")
# raw LLB sources (Railpack builds name them so; Dockerfile builds show FROM steps instead)
_SOURCE_PREFIXES = ("docker-image://", "local://", "git://", "oci-layout://", "https://", "http://", "loading ")
_INTERNAL_PREFIXES = ("[internal]", "building with ", "resolve image config for ", "resolving provenance", "load metadata for ",
                      "[context ", "load remote build context")


def classify_name(name: str) -> str:
    """"step" for the build's own steps, else the bookkeeping kind: internal, source (an image or
    local source of a Railpack build), auth, cache-import, cache-export, export,
    link (`[s i/N] LINK COPY --link ...`, the merge that goes with the
    instruction's COPY vertex); "unknown" for a vertex known only from a status/log (no name yet)."""
    if not name:
        return "unknown"
    if name.startswith(_INTERNAL_PREFIXES):
        return "internal"
    if name.startswith(_SOURCE_PREFIXES):
        return "source"
    if name.startswith("[auth]"):
        return "auth"
    if name.startswith(_IMPORT_PREFIX):
        return "cache-import"
    if name.startswith("exporting cache"):
        return "cache-export"
    if name.startswith(_EXPORT_PREFIXES):
        return "export"
    m = _STEP_NAME.match(name)
    if m and name.startswith("LINK ", m.end()):
        return "link"  # the merge half of a `COPY --link` instruction: its COPY vertex is the step
    return "step"


def parse_step_name(name: str) -> tuple[str | None, str | None, int | None, int | None]:
    """(platform, stage, index, total) of a Dockerfile step name; Nones when it is not one."""
    m = _STEP_NAME.match(name)
    if not m:
        return None, None, None, None
    return m.group("platform"), m.group("stage"), int(m.group("index")), int(m.group("total"))


def parse_time(value: Any) -> float | None:
    """RFC 3339 (nanoseconds allowed) to epoch seconds; None when absent or unparsable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except (ValueError, OverflowError, OSError):
        pass
    try:  # more than 6 fractional digits with an offset other than Z, etc.
        m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", value)
        if not m:
            return None
        frac = m.group(2) or "0"
        base = datetime.fromisoformat(m.group(1) + (m.group(3) or "Z"))
        return base.timestamp() + float("0." + frac)
    except (ValueError, OverflowError, OSError):
        return None


def _status_code(text: str, *codes: str) -> bool:
    return any(re.search(rf"(?<![0-9a-z]){c}(?![0-9a-z])", text) for c in codes)


def classify_cache_error(message: str, *, export: bool = False) -> str:
    """The contract's cache outcome for a failed import/export vertex error message."""
    m = message.lower()
    # status codes as whole words only: a blob digest in the message often holds "401" or "404"
    if _status_code(m, "401", "403") or any(k in m for k in (
            "unauthorized", "forbidden", "denied", "authentication required", "no basic auth credentials",
            "authorization failed")):
        return "unauthorized"
    if not export and (_status_code(m, "404") or any(k in m for k in ("not found", "manifest unknown", "name unknown"))):
        return "not-found"
    if any(k in m for k in ("connection refused", "no such host", "i/o timeout", "dial tcp", "network is unreachable",
                            "connection reset", "deadline exceeded", "tls:", "x509", "no route to host",
                            "server gave http response", "eof")):
        return "unreachable"
    return "error"


def _is_cancel(error: str) -> bool:
    e = error.strip().lower()
    return e.endswith("context canceled") or e in ("canceled", "cancelled") or e.endswith(": canceled")


class LogBuffer:
    """A step's output, bounded: the first `head_lines` lines and the last `tail_lines` lines are
    kept (as bytes, decoded on read); lines in between are counted in `dropped`. A line longer than
    `max_line_bytes` is cut. Partial lines (no newline yet) are held until completed or flushed.
    `write` returns the change in retained bytes (the model keeps a global budget)."""

    __slots__ = ("head", "tail", "dropped", "total_lines", "nbytes", "partial", "head_lines", "tail_lines",
                 "max_line_bytes")

    def __init__(self, head_lines: int = 50, tail_lines: int = 1000, max_line_bytes: int = 16384) -> None:
        self.head: list[bytes] = []
        self.tail: deque[bytes] = deque(maxlen=tail_lines)
        self.dropped = 0
        self.total_lines = 0
        self.nbytes = 0
        self.partial = b""
        self.head_lines = head_lines
        self.tail_lines = tail_lines
        self.max_line_bytes = max_line_bytes

    def write(self, data: bytes) -> int:
        if not self.partial and data[-1:] == b"\n" and data.find(b"\n", 0, len(data) - 1) < 0:
            # the common case in synthetic streams: exactly one complete line
            n = len(data) - 1
            if n > self.max_line_bytes:
                return self._add_lines([data[:-1]])
            if len(self.head) < self.head_lines:
                self.head.append(data[:-1])
            else:
                tail = self.tail
                if len(tail) == tail.maxlen:  # the append pushes the oldest line out (or, kept 0, this one)
                    n -= len(tail[0]) if tail else n
                    self.dropped += 1
                tail.append(data[:-1])
            self.nbytes += n
            self.total_lines += 1  # last: a reader thread that sees the count sees the lines
            return n
        if self.partial:
            data = self.partial + data
            self.partial = b""
        parts = data.split(b"\n")
        last = parts.pop()
        size = None
        if len(last) > self.max_line_bytes:
            parts.append(last)
        else:
            self.partial = last
            if len(data) <= self.max_line_bytes:  # no line to cut, and the lines' bytes are known
                size = len(data) - len(last) - len(parts)
        return self._add_lines(parts, size) if parts else 0

    def _add_lines(self, lines: list[bytes], size: int | None = None) -> int:
        """Keep a chunk of complete lines without a Python call per line (a real build's step
        output arrives in chunks of hundreds of lines): slices, `deque.extend` (the tail's
        maxlen pushes the oldest lines out) and `sum(map(len, ...))` run in C. `size`: the
        lines' bytes when the caller knows them and none is over the limit (then neither the
        cut check nor the sum of the new lines walks the chunk)."""
        limit = self.max_line_bytes
        if size is None and max(map(len, lines)) > limit:
            cut = " … [line cut]".encode()
            lines = [ln[:limit] + cut if len(ln) > limit else ln for ln in lines]
        count = len(lines)
        grew = 0
        room = self.head_lines - len(self.head)
        if room > 0:
            head = lines[:room]
            self.head.extend(head)
            grew = sum(map(len, head))
            lines = lines[room:]
            if size is not None:
                size -= grew
        if lines:
            tail = self.tail
            keep = tail.maxlen
            if len(lines) >= keep:  # the extend replaces the whole tail
                self.dropped += len(tail) + len(lines) - keep
                grew -= sum(map(len, tail))
                lines = lines[len(lines) - keep:] if keep else []
                size = None
            else:
                out = len(tail) + len(lines) - keep  # oldest lines the extend pushes out
                if out > 0:
                    self.dropped += out
                    grew -= sum(map(len, islice(tail, out)))
            grew += sum(map(len, lines)) if size is None else size
            tail.extend(lines)
        self.nbytes += grew
        self.total_lines += count  # last: a reader thread that sees the count sees the lines
        return grew

    def flush(self) -> int:
        """Turn a pending partial line into a line (at the end of a step or the build)."""
        if self.partial:
            p, self.partial = self.partial, b""
            return self._add_lines([p])
        return 0

    def trim_tail(self, keep: int) -> int:
        """Drop the oldest tail lines down to `keep`; returns the bytes freed."""
        freed = 0
        while len(self.tail) > keep:
            freed += len(self.tail.popleft())
            self.dropped += 1
        self.nbytes -= freed
        return freed

    def lines(self) -> list[str]:
        """Kept lines decoded (UTF-8, invalid bytes replaced), with one marker line for the gap."""
        # list() snapshots first: a reader thread may call this while the feeding thread appends
        head, tail, dropped, partial = list(self.head), list(self.tail), self.dropped, self.partial
        out = [b.decode("utf-8", "replace") for b in head]
        if dropped:
            out.append(f"… {dropped} lines not kept …")
        out.extend(b.decode("utf-8", "replace") for b in tail)
        if partial:
            out.append(partial[: self.max_line_bytes].decode("utf-8", "replace"))
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def __len__(self) -> int:
        return self.total_lines + (1 if self.partial else 0)


@dataclass(eq=False)
class Step:
    """One vertex of the build (a step, or bookkeeping when `kind != "step"`)."""

    id: str
    name: str = ""
    kind: str = "unknown"
    stage: str | None = None
    index: int | None = None
    total: int | None = None
    platform: str | None = None
    state: str = "pending"
    started: float | None = None
    completed: float | None = None
    duration_s: float | None = None
    pulled_bytes: int = 0
    error: str | None = None
    inputs: list[str] = field(default_factory=list)
    logs: LogBuffer = field(default_factory=LogBuffer)
    warnings: list[dict] = field(default_factory=list)
    miss: dict | None = None
    cached_reported: bool = False  # BuildKit said cached at least once
    cache_inferred: bool = False  # plain progress: cached inferred from layer downloads + DONE
    transfers: dict[str, list] = field(default_factory=dict)  # status id -> [current, total, done]
    seq: int = 0  # first-seen order
    # internal
    _intervals: dict = field(default_factory=dict, repr=False)
    _has_output: bool = field(default=False, repr=False)
    _logkey: str = field(default="", repr=False)

    def to_json(self) -> dict:
        return {
            "name": self.name, "stage": self.stage, "index": self.index, "total": self.total,
            "state": self.state if self.state != "running" else "pending",
            "duration_s": self.duration_s, "pulled_bytes": self.pulled_bytes, "error": self.error,
            "miss": self.miss,
            # beyond the contract
            "id": self.id, "platform": self.platform, "live_state": self.state,
            "started": self.started, "completed": self.completed,
            "cache_inferred": self.cache_inferred, "log_lines": len(self.logs),
            "warnings": [w.get("short", "") for w in self.warnings],
        }


@dataclass
class CacheOutcome:
    """The outcome of importing from / exporting to one cache ref. `state` is one of the
    contract's states, or "pending" while the build has not reported on it yet."""

    ref: str | None
    state: str = "pending"
    detail: str = ""
    vertex: str | None = None
    duration_s: float | None = None

    def to_json(self) -> dict:
        return {"ref": self.ref, "state": self.state, "detail": self.detail}


_MAX_WARNINGS = 100
_scan_json = json.JSONDecoder().scan_once
_MAX_OUTPUT_LINES = 400


class BuildModel:
    """See the module docstring. Feed with `feed_line` (or `feed_message` for decoded JSON), end
    with `finish`. Not thread-safe: feed and read from one thread (or hold your own lock)."""

    def __init__(self, format: str = "auto", *, log_head_lines: int = 50, log_tail_lines: int = 1000,
                 log_budget_bytes: int = 32 * 1024 * 1024, max_line_bytes: int = 16384) -> None:
        if format not in ("auto", "rawjson", "plain"):
            raise ValueError(f"unknown progress format {format!r}")
        self.format = format  # "auto" until the first progress line decides
        self.status = "running"  # until finish(): success | failed | cancelled | incomplete
        self.error: str | None = None  # the build's error text (e.g. "failed to solve: ...")
        self.output: deque[str] = deque(maxlen=_MAX_OUTPUT_LINES)  # non-progress lines, last ones
        self.output_dropped = 0
        self.returncode: int | None = None
        self.lines_fed = 0
        self.bad_lines = 0  # lines that looked like JSON but were not a progress message
        self.first_time: float | None = None
        self.last_time: float | None = None
        self._log_head = log_head_lines
        self._log_tail = log_tail_lines
        self._log_budget = log_budget_bytes
        self._max_line = max_line_bytes
        self._log_bytes = 0
        self._by_id: dict[str, Step] = {}
        self._seq = 0
        self._order_dirty = True
        self._ordered: list[Step] = []
        self._changes: set[str] = set()
        self._expected_import: list[str] | None = None
        self._expected_export: list[str] | None = None
        self._ignore_export_error: bool | None = None
        self._import_vertexes: list[Step] = []
        self._export_vertexes: list[Step] = []
        self._finished = False
        self._plain = None  # progress.PlainParser, created on demand
        self.masker = None  # core.masking.Masker: known secrets replaced by *** as output arrives

    # ------------------------------------------------------------------ feeding

    def feed_line(self, line: str | bytes) -> None:
        """One line of the progress stream (with or without its newline). Never raises."""
        self.lines_fed += 1
        try:
            if self.format == "rawjson":
                # hot path: the C JSON scanner directly (json.loads adds encoding detection and
                # three Python-level calls per line)
                text = line.decode() if type(line) is bytes else line
                if text[:1] == "{":
                    msg, end = _scan_json(text, 0)
                    if type(msg) is dict and (end == len(text) or not text[end:].strip()):
                        self.feed_message(msg)
                        return
                    if "\n" in text.rstrip("\r\n"):  # several lines in one chunk
                        self.lines_fed -= 1
                        self.feed_lines(text.splitlines())
                        return
                    self.bad_lines += 1
                elif text[:1] in (" ", "\t") and text.lstrip()[:1] == "{":
                    msg = json.loads(text)
                    if type(msg) is dict:
                        self.feed_message(msg)
                        return
                    self.bad_lines += 1
                self._other(line)
            elif self.format == "plain":
                if self.masker:
                    line = self.masker.data(line) if type(line) is bytes else self.masker.text(line)
                self._plain_parser().feed(line)
            else:
                from .progress import detect_format

                detected = detect_format(line)
                if detected is None:
                    self._other(line)
                else:
                    self.format = detected
                    self._changes.add(CHANGE_STATUS)
                    self.lines_fed -= 1
                    self.feed_line(line)
        except Exception:  # noqa: BLE001 - truncated/invalid JSON, bad UTF-8, deep nesting, odd types
            self.bad_lines += 1
            try:
                self._other(line)
            except Exception:  # noqa: BLE001
                pass

    def feed_lines(self, lines: Iterable[str | bytes]) -> None:
        for line in lines:
            self.feed_line(line)

    def feed_message(self, msg: dict) -> None:
        """One decoded rawjson message (`SolveStatus`: vertexes, statuses, logs, warnings)."""
        try:
            vs = msg.get("vertexes")
            if vs:
                for v in vs:
                    self._vertex(v)
            ss = msg.get("statuses")
            if ss:
                for s in ss:
                    self._status(s)
            logs = msg.get("logs")
            if logs:
                by_id = self._by_id
                changes = self._changes
                a2b = binascii.a2b_base64
                for lg in logs:
                    st = by_id.get(lg["vertex"])
                    if st is None:
                        st = self._placeholder(lg["vertex"])
                    raw = lg["data"]
                    data = a2b(raw) if len(raw) < FAST_B64_MIN else decode_log_data(raw)
                    if self.masker:
                        data = self.masker.data(data)
                    self._log_bytes += st.logs.write(data)
                    changes.add(st._logkey)
                    if not st._has_output:
                        self._first_output(st)
                if self._log_bytes > self._log_budget:
                    self._enforce_log_budget()
            ws = msg.get("warnings")
            if ws:
                for w in ws:
                    self._warning(w)
        except Exception:  # noqa: BLE001
            self.bad_lines += 1

    def _other(self, line: str | bytes) -> None:
        """A line that is not progress: keep it as trailing output; `error:` lines are the error."""
        if isinstance(line, bytes):
            line = line.decode("utf-8", "replace")
        line = line.rstrip("\r\n")
        if not line.strip():
            return
        if self.masker:
            line = self.masker.text(line)
        if len(line) > self._max_line:
            line = line[: self._max_line] + " … [line cut]"
        if len(self.output) == self.output.maxlen:
            self.output_dropped += 1
        self.output.append(line)
        low = line.lstrip().lower()
        if self.error is None and low.startswith("error:"):
            self.error = line.lstrip()[6:].strip() or line.strip()
            self._changes.add(CHANGE_STATUS)
        self._changes.add(CHANGE_OUTPUT)

    def _plain_parser(self):
        if self._plain is None:
            from .progress import PlainParser

            self._plain = PlainParser(self)
        return self._plain

    # ------------------------------------------------------------------ vertexes

    def _placeholder(self, vid: Any) -> Step:
        if not isinstance(vid, str):
            raise TypeError("vertex id must be a string")
        st = Step(id=vid, logs=LogBuffer(self._log_head, self._log_tail, self._max_line), seq=self._seq)
        st._logkey = "logs:" + vid
        self._seq += 1
        self._by_id[vid] = st
        self._order_dirty = True
        self._changes.add(CHANGE_ORDER)
        return st

    def _set_name(self, st: Step, name: str) -> None:
        st.name = name
        st.kind = classify_name(name)
        if st.kind == "step":
            st.platform, st.stage, st.index, st.total = parse_step_name(name)
        elif st.kind == "cache-import":
            self._import_vertexes.append(st)
            self._changes.add(CHANGE_CACHE)
        elif st.kind == "cache-export":
            self._export_vertexes.append(st)
            self._changes.add(CHANGE_CACHE)
        self._order_dirty = True
        self._changes.add(CHANGE_ORDER)
        self._changes.add(CHANGE_SUMMARY)

    def _vertex(self, v: dict) -> None:
        vid = v.get("digest")
        st = self._by_id.get(vid)
        if st is None:
            st = self._placeholder(vid)
        name = v.get("name")
        if self.masker and isinstance(name, str):  # a build arg expanded into an exec-form RUN's name
            name = self.masker.text(name)
        if name and isinstance(name, str) and name != st.name:
            self._set_name(st, name)
        inputs = v.get("inputs")
        if inputs and isinstance(inputs, list) and inputs != st.inputs:
            st.inputs = [i for i in inputs if isinstance(i, str)]
            self._order_dirty = True
        if v.get("cached") and not st.cached_reported:
            st.cached_reported = True
        started = parse_time(v.get("started"))
        if started is not None:
            completed = parse_time(v.get("completed"))
            if completed is not None or started not in st._intervals:
                st._intervals[started] = completed
            if st.started is None or started < st.started:
                st.started = started
                self._order_dirty = True
            st.completed = completed  # None again when a vertex is re-opened (lazy pulls)
            self._touch_time(completed or started)
            st.duration_s = self._duration(st)
        err = v.get("error")
        if err and isinstance(err, str):
            st.error = self.masker.text(err) if self.masker else err
        self._update_state(st)
        self._changes.add(st.id)

    def _touch_time(self, t: float) -> None:
        if self.first_time is None or t < self.first_time:
            self.first_time = t
        if self.last_time is None or t > self.last_time:
            self.last_time = t

    @staticmethod
    def _duration(st: Step) -> float | None:
        spans = sorted((s, c) for s, c in st._intervals.items() if c is not None)
        if not spans:
            return None
        total = 0.0
        cur_s, cur_e = spans[0]
        for s, e in spans[1:]:
            if s > cur_e:
                total += max(0.0, cur_e - cur_s)
                cur_s, cur_e = s, e
            elif e > cur_e:
                cur_e = e
        total += max(0.0, cur_e - cur_s)
        return round(total, 3)

    def _state_of(self, st: Step) -> str:
        if st.error:
            return "cancelled" if _is_cancel(st.error) else "error"
        if st.completed is None:
            return "running" if st.started is not None else "pending"
        if (st.cached_reported or st.cache_inferred) and not st._has_output:
            return "cached"
        return "executed"

    def _update_state(self, st: Step) -> None:
        new = self._state_of(st)
        if new != st.state:
            st.state = new
            self._changes.add(st.id)
            if st.kind == "step":
                self._changes.add(CHANGE_SUMMARY)
            elif st.kind in ("cache-import", "cache-export"):
                self._changes.add(CHANGE_CACHE)

    def _first_output(self, st: Step) -> None:
        st._has_output = True
        if st.cached_reported or st.cache_inferred:
            self._update_state(st)

    def _status(self, s: dict) -> None:
        vid = s.get("vertex")
        st = self._by_id.get(vid)
        if st is None:
            st = self._placeholder(vid)
        sid = s.get("id")
        if not isinstance(sid, str):
            return
        cur = s.get("current") or 0
        total = s.get("total") or 0
        done = bool(s.get("completed"))
        if not isinstance(cur, (int, float)) or not isinstance(total, (int, float)):
            return
        self._transfer(st, sid, int(cur), int(total), done)

    def _transfer(self, st: Step, sid: str, cur: int, total: int, done: bool) -> None:
        """Byte progress of one status id. Only statuses with a total (layer downloads) count
        towards `pulled_bytes`, each id once, with the largest amount seen."""
        rec = st.transfers.get(sid)
        if rec is None:
            if len(st.transfers) >= 1000:  # bound: a vertex with endless status ids
                return
            rec = st.transfers[sid] = [0, 0, False]
        old = rec[0] if rec[1] else 0
        rec[0] = max(rec[0], cur)
        rec[1] = max(rec[1], total)
        rec[2] = rec[2] or done
        new = (max(rec[0], rec[1]) if rec[2] else rec[0]) if rec[1] else 0
        if rec[1]:
            if new < old:
                new = old
            if new != old:
                st.pulled_bytes += new - old
                rec[0] = max(rec[0], new) if rec[2] else rec[0]
                self._changes.add(st.id)
                if st.kind == "step":
                    self._changes.add(CHANGE_SUMMARY)

    def _warning(self, w: dict) -> None:
        vid = w.get("vertex")
        st = self._by_id.get(vid) if isinstance(vid, str) else None
        if st is None and isinstance(vid, str):
            st = self._placeholder(vid)
        if st is None or len(st.warnings) >= _MAX_WARNINGS:
            return

        def dec(x: Any) -> str:
            if not isinstance(x, str):
                return ""
            try:
                return binascii.a2b_base64(x).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return x

        if self.masker:
            dec = lambda x, _dec=dec: self.masker.text(_dec(x))  # noqa: E731
        detail = w.get("detail")
        st.warnings.append({
            "level": w.get("level"), "short": dec(w.get("short")),
            "detail": [dec(d) for d in detail] if isinstance(detail, list) else [],
            "url": w.get("url") if isinstance(w.get("url"), str) else None,
        })
        self._changes.add(st.id)

    def _enforce_log_budget(self) -> None:
        # Halve the tail of the biggest buffers until under 3/4 of the budget.
        target = self._log_budget * 3 // 4
        bufs = sorted((s.logs for s in self._by_id.values()), key=lambda b: b.nbytes, reverse=True)
        for b in bufs:
            if self._log_bytes <= target:
                break
            while self._log_bytes > target and b.tail:
                self._log_bytes -= b.trim_tail(len(b.tail) // 2)
                if len(b.tail) <= 1:
                    self._log_bytes -= b.trim_tail(0)
                    break
        # the head lines of every step stay; if they alone exceed the budget, shrink heads too
        if self._log_bytes > self._log_budget:
            for b in bufs:
                freed = sum(len(x) for x in b.head[1:])
                b.dropped += len(b.head) - 1 if b.head else 0
                del b.head[1:]
                b.nbytes -= freed
                self._log_bytes -= freed
                b.head_lines = 1
                if self._log_bytes <= target:
                    break

    # ------------------------------------------------------------------ engines

    def expect_cache(self, import_refs: Iterable[str] = (), export_refs: Iterable[str] = (),
                     ignore_export_error: bool = False) -> None:
        """Tell the model which refs the build imports from / exports to (engines call this before
        the build starts), so outcomes exist before BuildKit reports, and a ref the stream never
        mentions is reported as such."""
        self._expected_import = [r for r in import_refs if r]
        self._expected_export = [r for r in export_refs if r]
        self._ignore_export_error = bool(ignore_export_error)
        self._changes.add(CHANGE_CACHE)

    def finish(self, returncode: int | None = None, cancelled: bool = False) -> None:
        """The stream ended. Sets `status`: success, failed, cancelled or incomplete (the stream
        ended with steps still running and no return code)."""
        try:
            self.returncode = returncode
            for st in self._by_id.values():
                self._log_bytes += st.logs.flush()
            status = self._final_status(returncode, cancelled)
            if status in ("failed", "cancelled"):
                for st in self._by_id.values():
                    if st.state == "running":
                        st.state = "cancelled"
                        self._changes.add(st.id)
            elif status == "success":
                for st in self._by_id.values():
                    if st.state == "running":
                        st.completed = self.last_time if self.last_time is not None else st.started
                        self._update_state(st)
            self.status = status
            self._finished = True
        except Exception:  # noqa: BLE001
            self.status = "failed" if returncode else "incomplete"
        self._changes.update((CHANGE_STATUS, CHANGE_SUMMARY, CHANGE_CACHE))

    def _final_status(self, returncode: int | None, cancelled: bool) -> str:
        err = (self.error or "").lower()
        if cancelled or (returncode not in (None, 0) and ("context canceled" in err or "canceled" in err)):
            return "cancelled"
        if returncode is not None:
            return "success" if returncode == 0 else "failed"
        if "canceled" in err:
            return "cancelled"
        if self.error:
            return "failed"
        vertexes = list(self._by_id.values())
        if any(s.state == "error" and s.kind == "step" for s in vertexes):
            return "failed"
        if any(s.state == "cancelled" for s in vertexes):
            return "cancelled"
        if any(s.state == "error" and s.kind not in ("cache-import", "cache-export") for s in vertexes):
            return "failed"
        if any(s.state == "running" for s in vertexes):
            return "incomplete"
        steps = [s for s in vertexes if s.kind == "step"]
        if not vertexes or (steps and all(s.state == "pending" for s in steps)) \
                or (not steps and any(s.state == "pending" for s in vertexes)):  # cut before any step
            return "incomplete"
        return "success"

    # ------------------------------------------------------------------ reading

    @property
    def finished(self) -> bool:
        return self._finished

    def _order(self) -> list[Step]:
        if not self._order_dirty:
            return self._ordered
        self._order_dirty = False  # before reading: a concurrent change marks it dirty again
        nodes = dict(self._by_id)  # a snapshot (a reader thread may race the feeding thread)
        children: dict[str, list[str]] = {}
        indeg: dict[str, int] = dict.fromkeys(nodes, 0)
        implied = self._plain_parents() if self.format == "plain" else {}
        for vid, st in nodes.items():
            for i in implied.get(vid) or st.inputs:
                if i in nodes and i != vid:
                    children.setdefault(i, []).append(vid)
                    indeg[vid] += 1
        inf = float("inf")

        def key(st: Step):
            return (st.started if st.started is not None else inf, st.seq)

        heap = [(key(nodes[v]), v) for v, d in indeg.items() if d == 0]
        heapq.heapify(heap)
        out: list[Step] = []
        while heap:
            _, vid = heapq.heappop(heap)
            out.append(nodes[vid])
            for c in children.get(vid, ()):
                indeg[c] -= 1
                if indeg[c] == 0:
                    heapq.heappush(heap, (key(nodes[c]), c))
        if len(out) < len(nodes):  # a cycle (only in garbage input): append the rest in seen order
            seen = {s.id for s in out}
            out.extend(sorted((s for s in nodes.values() if s.id not in seen), key=lambda s: s.seq))
        self._ordered = out
        return out

    @property
    def steps(self) -> list[Step]:
        """The build's own steps in build order (inputs before their users, then start time)."""
        return [s for s in self._order() if s.kind == "step"]

    @property
    def bookkeeping(self) -> list[Step]:
        """Vertexes that are not steps: [internal], [auth], cache import/export, image export."""
        return [s for s in self._order() if s.kind not in ("step", "unknown")]

    @property
    def vertexes(self) -> list[Step]:
        return list(self._order())

    def step(self, vid: str) -> Step | None:
        return self._by_id.get(vid)

    def step_by_name(self, name: str) -> Step | None:
        for s in list(self._by_id.values()):
            if s.name == name:
                return s
        return None

    @property
    def cache_import(self) -> list[CacheOutcome]:
        out: list[CacheOutcome] = []
        seen: set[int] = set()
        vx = self._import_vertexes
        for ref in self._expected_import or []:
            match = next((i for i, v in enumerate(vx) if i not in seen and _ref_matches(v.name[len(_IMPORT_PREFIX):], ref)), None)
            if match is None:
                out.append(self._unreported(ref, "import"))
            else:
                seen.add(match)
                out.append(_import_outcome(ref, vx[match]))
        for i, v in enumerate(vx):
            if i not in seen:
                out.append(_import_outcome(v.name[len(_IMPORT_PREFIX):], v))
        return out

    @property
    def cache_export(self) -> list[CacheOutcome]:
        refs = list(self._expected_export or [])
        vx = self._export_vertexes
        out: list[CacheOutcome] = []
        build_ok = self.status == "success" if self._finished else self._final_status(self.returncode, False) == "success"
        ignore = self._ignore_export_error
        for i in range(max(len(refs), len(vx))):
            ref = refs[i] if i < len(refs) else None
            if i >= len(vx):
                out.append(self._unreported(ref, "export"))
                continue
            v = vx[i]
            o = CacheOutcome(ref=ref, vertex=v.id, duration_s=v.duration_s)
            if v.error:
                state = classify_cache_error(v.error, export=True)
                if ignore or (ignore is None and build_ok):
                    state = "ignored-error"
                o.state, o.detail = state, v.error
            elif v.completed is not None:
                o.state, o.detail = "ok", "cache exported"
            else:
                o.state, o.detail = "pending", "exporting"
            out.append(o)
        return out

    def _unreported(self, ref: str | None, what: str) -> CacheOutcome:
        if not self._finished:
            return CacheOutcome(ref=ref, state="pending", detail=f"waiting for BuildKit to report the cache {what}")
        if what == "import":
            if self.status != "success" and not any(s.kind == "step" and s.state in ("cached", "executed")
                                                    for s in list(self._by_id.values())):
                # e.g. a Dockerfile parse error: not a cache problem, and no step ran cold
                return CacheOutcome(ref=ref, state="error", detail=NOT_IMPORTED)
            return CacheOutcome(ref=ref, state="error",
                                detail="the progress stream never reported importing this ref: the build ran without it")
        if self.status != "success":
            return CacheOutcome(ref=ref, state="error", detail="not exported: the build ended before the cache export")
        return CacheOutcome(ref=ref, state="error", detail="the progress stream never reported exporting this ref")

    @property
    def import_failed(self) -> bool:
        """True when any cache import did not succeed (the build ran cold, at least partly),
        including `not-found` (an empty ref: the normal first build, see `import_first_build`)."""
        return any(o.state not in ("ok", "pending") for o in self.cache_import)

    @property
    def import_first_build(self) -> bool:
        """True when imports failed only because the ref is empty (`not-found`): the normal first
        build, not a misconfiguration."""
        failed = [o for o in self.cache_import if o.state not in ("ok", "pending")]
        return bool(failed) and all(o.state == "not-found" for o in failed)

    @property
    def import_reported(self) -> bool:
        """False when the stream never mentioned any cache import."""
        return bool(self._import_vertexes)

    def summary(self) -> dict:
        counts = dict.fromkeys(STEP_STATES, 0)
        vertexes = list(self._by_id.values())
        for st in vertexes:
            if st.kind == "step":
                counts[st.state] = counts.get(st.state, 0) + 1
        n = sum(counts.values())
        return {
            "steps": n, "cached": counts["cached"], "executed": counts["executed"], "errors": counts["error"],
            "hit_ratio": round(counts["cached"] / n, 3) if n else 0.0,
            "cancelled": counts["cancelled"], "pending": counts["pending"], "running": counts["running"],
            "pulled_bytes": sum(s.pulled_bytes for s in vertexes if s.kind == "step"),
        }

    def parents(self) -> dict[str, list[str]]:
        """Step id -> ids of its nearest ancestor steps, following inputs through bookkeeping
        vertexes. Plain progress has no inputs: see `_plain_parents`."""
        nodes = dict(self._by_id)
        if self.format == "plain":
            return self._plain_parents()
        out: dict[str, list[str]] = {}
        for s in nodes.values():
            if s.kind != "step":
                continue
            found: list[str] = []
            stack = list(s.inputs)
            seen = {s.id}
            while stack:
                i = stack.pop()
                if i in seen:
                    continue
                seen.add(i)
                p = nodes.get(i)
                if p is None:
                    continue
                if p.kind == "step":
                    found.append(i)
                else:
                    stack.extend(p.inputs)
            out[s.id] = found
        return out

    def _plain_parents(self) -> dict[str, list[str]]:
        """Plain progress carries no inputs. Implied by Dockerfile semantics (not by position):
        step i of a stage builds on step i-1 of the same stage, and `COPY --from=S` reads the last
        step of stage S. The parent stage of a stage's first step is unknown."""
        nodes = dict(self._by_id)
        by_pos: dict[tuple, Step] = {}
        last_of_stage: dict[tuple, Step] = {}
        for s in nodes.values():
            if s.kind == "step" and s.index:
                by_pos[(s.platform, s.stage, s.index)] = s
                if s.index == s.total:
                    last_of_stage[(s.platform, s.stage)] = s
        out: dict[str, list[str]] = {}
        for s in nodes.values():
            if s.kind != "step":
                continue
            found = []
            p = by_pos.get((s.platform, s.stage, s.index - 1)) if s.index else None
            if p is not None:
                found.append(p.id)
            m = _COPY_FROM.search(s.name)
            if m:
                src = last_of_stage.get((s.platform, m.group(1)))
                if src is not None and src is not s:
                    found.append(src.id)
            out[s.id] = found
        return out

    def root_misses(self) -> list[str]:
        """Names of executed steps none of whose ancestor steps executed (where the cache broke)."""
        parents = self.parents()
        nodes = dict(self._by_id)
        memo: dict[str, bool] = {}

        def executed_ancestor(vid: str) -> bool:
            # iterative DFS: does any ancestor step of vid have state executed?
            if vid in memo:
                return memo[vid]
            stack, seen, hit = list(parents.get(vid, ())), set(), False
            while stack:
                p = stack.pop()
                if p in seen:
                    continue
                seen.add(p)
                if memo.get(p) or (p in nodes and nodes[p].state == "executed"):
                    hit = True
                    break
                stack.extend(parents.get(p, ()))
            memo[vid] = hit
            return hit

        return [s.name for s in self.steps if s.state == "executed" and not executed_ancestor(s.id)]

    def to_report(self) -> dict:
        """The contract's report JSON (plus extra keys)."""
        status = self.status if self._finished else self._final_status(self.returncode, False)
        steps = self.steps
        imp = self.cache_import
        return {
            "status": status,
            "steps": [s.to_json() for s in steps],
            "summary": self.summary(),
            "root_misses": self.root_misses(),
            "cache_import": [o.to_json() for o in imp],
            "cache_export": [o.to_json() for o in self.cache_export],
            # beyond the contract
            "error": self.error,
            "format": self.format,
            "import_failed": self.import_failed,
            "import_first_build": self.import_first_build,
            "import_reported": self.import_reported,
            "bookkeeping": [{"name": b.name, "kind": b.kind, "state": b.state, "duration_s": b.duration_s,
                             "error": b.error} for b in self.bookkeeping],
            "duration_s": round(self.last_time - self.first_time, 3)
            if self.first_time is not None and self.last_time is not None else None,
        }

    def drain_changes(self) -> set[str]:
        """Keys changed since the last call: step ids, "logs:<id>", "summary", "cache", "status",
        "order" (a vertex appeared / order changed), "output" (non-progress lines, error text)."""
        ch = self._changes
        self._changes = set()
        return ch


def _ref_matches(seen: str, expected: str) -> bool:
    if seen == expected:
        return True
    norm = lambda r: r.removeprefix("docker.io/").removeprefix("library/")  # noqa: E731
    return norm(seen) == norm(expected) or seen.endswith("/" + expected) or expected.endswith("/" + seen)


def _import_outcome(ref: str, v: Step) -> CacheOutcome:
    o = CacheOutcome(ref=ref, vertex=v.id, duration_s=v.duration_s)
    if v.error:
        o.state = classify_cache_error(v.error)
        o.detail = v.error
        if o.state == "not-found":
            o.detail = f"no cache at this ref yet (the normal first build): {v.error}"
    elif v.completed is not None:
        o.state, o.detail = "ok", "cache manifest imported"
    else:
        o.state, o.detail = "pending", "importing"
    return o


def load(lines: Iterable[str | bytes], format: str = "auto", returncode: int | None = None) -> BuildModel:
    """A finished model from a whole recorded stream."""
    m = BuildModel(format)
    for line in lines:
        m.feed_line(line)
    m.finish(returncode)
    return m
