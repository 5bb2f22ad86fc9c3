"""Property tests: whatever the stream holds (truncated lines, random JSON, out-of-order and
repeated updates, huge and non-UTF-8 logs), the model never raises, its counts add up and its
memory stays within the log budget."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from railpack_tui.core.model import STEP_STATES, BuildModel

FIX = Path(__file__).resolve().parent / "fixtures"
RAW_LINES = (FIX / "recorded" / "file-change.rawjson.jsonl").read_text().splitlines()
FAIL_LINES = (FIX / "recorded" / "failing-step.rawjson.jsonl").read_text().splitlines()
PLAIN_LINES = (FIX / "recorded" / "file-change.plain.txt").read_text().splitlines()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_invariants(m: BuildModel) -> dict:
    """Everything a reader may call works, and the counts add up."""
    report = json.loads(json.dumps(m.to_report()))
    s = m.summary()
    assert s["steps"] == len(m.steps) == len(report["steps"])
    assert s["steps"] == s["cached"] + s["executed"] + s["errors"] + s["cancelled"] + s["pending"] + s["running"]
    assert s["hit_ratio"] == (round(s["cached"] / s["steps"], 3) if s["steps"] else 0.0)
    assert all(x.state in STEP_STATES for x in m.vertexes)
    assert set(m.root_misses()) <= {x.name for x in m.steps if x.state == "executed"}
    assert m._log_bytes == sum(x.logs.nbytes for x in m.vertexes)
    assert m._log_bytes <= m._log_budget
    for x in m.vertexes:
        assert all(isinstance(line, str) for line in x.logs.lines())
    for o in m.cache_import + m.cache_export:
        assert isinstance(o.state, str)
    m.drain_changes()
    assert report["status"] in ("success", "failed", "cancelled", "incomplete")
    return report


@SETTINGS
@given(st.lists(st.one_of(st.text(max_size=200), st.binary(max_size=200)), max_size=40),
       st.sampled_from(["auto", "rawjson", "plain"]), st.one_of(st.none(), st.integers(-2, 3)))
def test_arbitrary_lines_never_raise(lines, fmt, rc):
    m = BuildModel(fmt)
    for line in lines:
        m.feed_line(line)
    check_invariants(m)
    m.finish(rc)
    check_invariants(m)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
digests = st.sampled_from([f"sha256:{i:064x}" for i in range(1, 6)]) | json_values
names = st.sampled_from(["[1/3] COPY a /a", "[2/3] RUN b", "[build 3/3] RUN c", "[internal] load build context",
                         "importing cache manifest from r/x:c", "exporting cache to registry", "[s 1/1] LINK COPY x",
                         "copy .", ""]) | json_values
times = st.sampled_from(["2026-12-03T16:21:45.903726044Z", "2026-12-03T16:21:46Z", "bogus", ""]) | json_values
vertex = st.fixed_dictionaries({"digest": digests}, optional={
    "name": names, "inputs": st.lists(digests, max_size=3) | json_values, "started": times, "completed": times,
    "cached": st.booleans() | json_values, "error": st.sampled_from(["context canceled", "401 Unauthorized", "not found"])
    | json_values})
status = st.fixed_dictionaries({"vertex": digests}, optional={
    "id": st.sampled_from(["sha256:aa", "sha256:bb", "extracting"]) | json_values,
    "current": st.integers(-5, 10**12) | json_values, "total": st.integers(-5, 10**12) | json_values,
    "completed": times})
b64 = st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())
log = st.fixed_dictionaries({"vertex": digests}, optional={"data": b64 | json_values, "stream": st.integers(0, 3)})
warning = st.fixed_dictionaries({"vertex": digests}, optional={"short": b64 | json_values,
                                                               "detail": st.lists(b64, max_size=2) | json_values})
message = st.fixed_dictionaries({}, optional={"vertexes": st.lists(vertex, max_size=3) | json_values,
                                              "statuses": st.lists(status, max_size=3) | json_values,
                                              "logs": st.lists(log, max_size=3) | json_values,
                                              "warnings": st.lists(warning, max_size=2) | json_values})


@SETTINGS
@given(st.lists(message | json_values, max_size=30), st.booleans())
def test_random_json_messages_never_raise(msgs, as_lines):
    m = BuildModel("rawjson")
    for msg in msgs:
        if as_lines:
            m.feed_line(json.dumps(msg))
        else:
            m.feed_message(msg)  # type: ignore[arg-type]
    check_invariants(m)
    m.finish()
    check_invariants(m)


@SETTINGS
@given(st.data())
def test_truncated_lines_never_raise(data):
    lines = data.draw(st.sampled_from([RAW_LINES, FAIL_LINES, PLAIN_LINES]))
    m = BuildModel()
    for line in lines:
        cut = data.draw(st.integers(0, len(line)))
        m.feed_line(line[:cut] if data.draw(st.booleans()) else line)
    check_invariants(m)
    m.finish()
    check_invariants(m)


@SETTINGS
@given(st.permutations(RAW_LINES))
def test_out_of_order_updates_never_raise_and_keep_the_same_steps(lines):
    m = BuildModel()
    for line in lines:
        m.feed_line(line)
    m.finish()
    check_invariants(m)
    ref = BuildModel()
    for line in RAW_LINES:
        ref.feed_line(line)
    ref.finish()
    assert sorted(s.name for s in m.steps) == sorted(s.name for s in ref.steps)
    # cached is sticky: a step reported cached (and silent) is never counted executed, in any order
    cached = {s.name for s in ref.steps if s.state == "cached"}
    assert not any(s.state == "executed" for s in m.steps if s.name in cached)


@SETTINGS
@given(st.lists(st.integers(1, 3), min_size=len(RAW_LINES), max_size=len(RAW_LINES)),
       st.sampled_from(["recorded/file-change.rawjson.jsonl", "recorded/copy-link-reordered.rawjson.jsonl",
                        "shared-v0.32.2/03-src-changed.rawjson.jsonl"]))
def test_repeated_updates_give_the_same_result(repeats, name):
    lines = (FIX / name).read_text().splitlines()
    once, many = BuildModel(), BuildModel()
    for i, line in enumerate(lines):
        once.feed_line(line)
        for _ in range(repeats[i % len(repeats)]):
            many.feed_line(line)
    once.finish()
    many.finish()
    check_invariants(many)
    key = lambda m: [(s.name, s.state, s.pulled_bytes, s.duration_s) for s in m.steps]  # noqa: E731
    assert key(once) == key(many)
    assert once.summary() == many.summary()
    assert once.root_misses() == many.root_misses()
    assert [o.to_json() for o in once.cache_import] == [o.to_json() for o in many.cache_import]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 3_000_000), st.integers(0, 2**32 - 1)), min_size=1,
                max_size=12))
def test_huge_and_non_utf8_logs_stay_within_budget(chunks):
    import random

    m = BuildModel("rawjson", log_head_lines=5, log_tail_lines=50, log_budget_bytes=1_000_000, max_line_bytes=4096)
    for n in (1, 2, 3):
        m.feed_line(json.dumps({"vertexes": [{"digest": f"sha256:{n:064x}", "name": f"[{n}/3] RUN x",
                                              "started": "2026-12-03T16:21:45Z"}]}))
    for vid, size, seed in chunks:
        data = random.Random(seed).randbytes(size)  # random bytes: invalid UTF-8, random newlines
        m.feed_line(json.dumps({"logs": [{"vertex": f"sha256:{vid:064x}", "stream": 1,
                                          "data": base64.b64encode(data).decode()}]}))
        assert m._log_bytes <= 1_000_000
    m.finish(0)
    check_invariants(m)
    for s in m.steps:
        assert len(s.logs.head) <= 5 and len(s.logs.tail) <= 50


plain_rest = st.one_of(
    st.sampled_from(["[1/2] COPY a /a", "[build 2/2] RUN make", "[internal] load build context", "CACHED", "DONE",
                     "DONE 1.5s", "DONE xs", "ERROR: boom", "ERROR:", "CANCELED", "WARN: careful",
                     "importing cache manifest from r/x:c", "exporting cache to registry"]),
    st.builds(lambda f, t: f"{f:.3f} {t}", st.floats(0, 1e4, allow_nan=False), st.text(max_size=40)),
    st.builds(lambda h, a, b: f"sha256:{h} {a} / {b} 0.1s done", st.text("0123456789abcdef", max_size=8),
              st.sampled_from(["1.5MB", "3kB", "12B", "9.9GiB", "x"]), st.sampled_from(["2MB", "3kB", "?"])),
    st.text(max_size=60))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 6), plain_rest), max_size=60), st.one_of(st.none(), st.integers(0, 1)))
def test_random_plain_lines_never_raise(lines, rc):
    m = BuildModel("plain")
    for n, rest in lines:
        m.feed_line(f"#{n} {rest}")
    check_invariants(m)
    m.finish(rc)
    check_invariants(m)


class _LinesByHand:
    """What a LogBuffer must keep, line by line: every complete line (cut past the limit; a
    partial line past the limit becomes a line at once), the partial line held."""

    def __init__(self, limit: int) -> None:
        self.limit, self.lines, self.partial = limit, [], b""

    def write(self, data: bytes) -> None:
        data, self.partial = self.partial + data, b""
        *done, last = data.split(b"\n")
        if len(last) > self.limit:
            done.append(last)
        else:
            self.partial = last
        self.lines.extend(x[:self.limit] + " … [line cut]".encode() if len(x) > self.limit else x for x in done)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 30), st.sampled_from([b"a", b"bb\n", b"\n", b"xyz" * 7])),
                max_size=40),
       st.integers(0, 6), st.integers(0, 8), st.integers(1, 30), st.booleans())
def test_log_buffer_keeps_the_same_lines_however_the_output_is_chunked(chunks, head, tail, limit, flush):
    from railpack_tui.core.model import LogBuffer

    buf, ref = LogBuffer(head_lines=head, tail_lines=tail, max_line_bytes=limit), _LinesByHand(limit)
    grew = 0
    for n_lines, pad, piece in chunks:  # one line per write, or hundreds of lines in one chunk
        data = b"".join(b"l%d" % i + b"." * pad + b"\n" for i in range(n_lines)) + piece
        grew += buf.write(data)
        ref.write(data)
    if flush:
        grew += buf.flush()
        ref.write(b"\n") if ref.partial else None
    want_head = ref.lines[:head]
    rest = ref.lines[head:]
    want_tail = rest[max(0, len(rest) - tail):] if tail else []
    assert buf.head == want_head and list(buf.tail) == want_tail
    assert buf.total_lines == len(ref.lines)
    assert buf.dropped == len(ref.lines) - len(want_head) - len(want_tail)
    assert buf.partial == ref.partial
    assert grew == buf.nbytes == sum(map(len, want_head + want_tail))
