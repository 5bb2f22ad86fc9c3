"""BuildModel behaviour on small hand-written streams: merging, states, bookkeeping, cache
outcomes, status, root misses, change notifications, bounded logs."""

from __future__ import annotations

import base64
import json
from collections import deque

import pytest

from railpack_tui.core.model import (BuildModel, LogBuffer, classify_cache_error, classify_name, parse_step_name,
                                     parse_time)

T0 = "2026-12-03T16:21:45.000000000Z"
T1 = "2026-12-03T16:21:46.500000000Z"
T2 = "2026-12-03T16:21:47.000000000Z"


def d(n: int) -> str:
    return f"sha256:{n:064x}"


def vx(n, name, *, inputs=(), started=None, completed=None, cached=None, error=None) -> str:
    v = {"digest": d(n), "name": name}
    if inputs:
        v["inputs"] = [d(i) for i in inputs]
    for k, val in (("started", started), ("completed", completed), ("cached", cached), ("error", error)):
        if val is not None:
            v[k] = val
    return json.dumps({"vertexes": [v]})


def log(n, text: bytes | str, stream=1) -> str:
    data = text.encode() if isinstance(text, str) else text
    return json.dumps({"logs": [{"vertex": d(n), "stream": stream, "data": base64.b64encode(data).decode(),
                                 "timestamp": T1}]})


def feed(m: BuildModel, *lines: str) -> BuildModel:
    for line in lines:
        m.feed_line(line)
    return m


def test_names_are_classified():
    assert classify_name("[build 1/2] COPY src/ /app/src/") == "step"
    assert classify_name("[2/3] RUN make") == "step"
    assert classify_name("[linux/arm64 build 1/2] RUN make") == "step"
    assert classify_name("install mise packages: node") == "step"  # a Railpack command
    assert classify_name("[railpack] merge packages:mise, build") == "step"
    assert classify_name("[internal] load build context") == "internal"
    assert classify_name("[internal] load metadata for docker.io/library/alpine:3") == "internal"
    assert classify_name("[auth] sharing credentials for 127.0.0.1:5055") == "auth"
    assert classify_name("importing cache manifest from r:5000/x:cache") == "cache-import"
    assert classify_name("exporting cache to registry") == "cache-export"
    assert classify_name("exporting cache") == "cache-export"
    assert classify_name("exporting to image") == "export"
    assert classify_name("exporting to client directory") == "export"
    assert classify_name("[stage-2 1/3] LINK COPY --link x /x") == "link"
    assert classify_name("") == "unknown"


def test_step_names_are_parsed():
    assert parse_step_name("[build 1/2] COPY a b") == (None, "build", 1, 2)
    assert parse_step_name("[3/5] RUN x") == (None, None, 3, 5)
    assert parse_step_name("[linux/amd64 build 2/4] RUN x") == ("linux/amd64", "build", 2, 4)
    assert parse_step_name("[linux/arm64/v8 1/2] FROM docker.io/library/alpine@sha256:abc") == ("linux/arm64/v8", None, 1, 2)
    assert parse_step_name("copy .") == (None, None, None, None)


def test_times_parse_with_nanoseconds_and_garbage():
    assert parse_time("2026-12-03T16:21:45.903726044Z") == pytest.approx(1796314905.903726, abs=1e-5)
    assert parse_time("2026-12-03T16:21:45Z") == pytest.approx(1796314905.0)
    assert parse_time("yesterday") is None and parse_time(None) is None and parse_time(12) is None


@pytest.mark.parametrize("msg, export, want", [
    ("failed to configure registry cache importer: r/x:cache: not found", False, "not-found"),
    ("unexpected status from HEAD request to http://r/v2/x/manifests/cache: 401 Unauthorized", False, "unauthorized"),
    ("failed to do request: Head \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
     False, "unreachable"),
    ("error writing layer blob: ... 403 Forbidden", True, "unauthorized"),
    ("something odd", True, "error"),
    ("not found", True, "error"),  # an export cannot be not-found
])
def test_cache_errors_are_classified(msg, export, want):
    assert classify_cache_error(msg, export=export) == want


def test_vertex_updates_merge_by_digest_and_walk_through_states():
    m = BuildModel("rawjson")
    feed(m, vx(1, "[1/1] RUN make"))
    assert [s.state for s in m.steps] == ["pending"]
    feed(m, vx(1, "[1/1] RUN make", started=T0))
    assert m.steps[0].state == "running"
    feed(m, vx(1, "[1/1] RUN make", started=T0, completed=T1))
    s = m.steps[0]
    assert len(m.steps) == 1 and s.state == "executed" and s.duration_s == 1.5
    assert (s.stage, s.index, s.total) == (None, 1, 1)


def test_cached_flag_once_then_absent_stays_cached():
    m = BuildModel("rawjson")
    feed(m, vx(1, "[1/1] RUN make", started=T0, cached=True),
         vx(1, "[1/1] RUN make", started=T0, completed=T0, cached=True),
         vx(1, "[1/1] RUN make", started=T1),  # re-opened for a lazy pull, no flag
         vx(1, "[1/1] RUN make", started=T1, completed=T2))
    s = m.steps[0]
    assert s.state == "cached" and s.duration_s == 0.5


def test_a_step_that_printed_output_executed_even_if_once_reported_cached():
    m = BuildModel("rawjson")
    feed(m, vx(1, "[1/1] RUN make", started=T0, completed=T0, cached=True), log(1, "compiling\n"))
    assert m.steps[0].state == "executed"


def test_error_and_cancel_states():
    m = BuildModel("rawjson")
    feed(m, vx(1, "[a 1/1] RUN false", started=T0, completed=T1, error="process did not complete successfully: exit code: 1"),
         vx(2, "[b 1/1] RUN sleep 9", started=T0, completed=T1, error="context canceled"))
    assert [s.state for s in m.steps] == ["error", "cancelled"]
    m.finish()
    assert m.status == "failed"


def test_bookkeeping_is_kept_apart_and_root_misses_follow_inputs_through_it():
    m = BuildModel("rawjson")
    feed(m,
         vx(10, "[internal] load build context", started=T0, completed=T0),
         vx(1, "[base 1/2] COPY busybox /bin/busybox", inputs=[10], started=T0, completed=T0, cached=True),
         vx(2, "[base 2/2] RUN install", inputs=[1], started=T0, completed=T0, cached=True),
         vx(3, "[build 1/2] COPY src/ /src/", inputs=[2, 10], started=T0, completed=T1),
         vx(4, "[build 2/2] RUN make", inputs=[3], started=T1, completed=T2),
         vx(11, "[final 1/2] LINK COPY --link --from=build /out /", inputs=[4], started=T2, completed=T2),
         vx(5, "[final 1/2] COPY --link --from=build /out /", inputs=[11], started=T2, completed=T2, cached=True),
         vx(6, "[final 2/2] RUN ls", inputs=[5], started=T2, completed=T2))
    assert [s.name.split("]")[0] for s in m.steps] == ["[base 1/2", "[base 2/2", "[build 1/2", "[build 2/2",
                                                       "[final 1/2", "[final 2/2"]
    assert {b.kind for b in m.bookkeeping} == {"internal", "link"}
    # [final 2/2] executed, but its ancestors include executed steps (through the cached COPY and
    # the LINK bookkeeping vertex): not a root miss. Never inferred from position.
    assert m.root_misses() == ["[build 1/2] COPY src/ /src/"]
    assert m.parents()[d(5)] == [d(4)]


def test_root_miss_is_not_inferred_from_position():
    # Two independent stages: the second one's executed step is a root miss of its own even
    # though it comes after another executed step.
    m = BuildModel("rawjson")
    feed(m, vx(1, "[a 1/1] RUN one", started=T0, completed=T1),
         vx(2, "[b 1/1] RUN two", started=T1, completed=T2))
    assert m.root_misses() == ["[a 1/1] RUN one", "[b 1/1] RUN two"]


def test_summary_counts_and_ratio():
    m = BuildModel("rawjson")
    feed(m, vx(1, "[1/3] COPY a /a", started=T0, completed=T0, cached=True),
         vx(2, "[2/3] RUN b", inputs=[1], started=T0, completed=T1),
         vx(3, "[3/3] RUN c", inputs=[2]))
    s = m.summary()
    assert (s["steps"], s["cached"], s["executed"], s["errors"], s["pending"], s["hit_ratio"]) == (3, 1, 1, 0, 1, 0.333)
    assert BuildModel().summary()["hit_ratio"] == 0.0


def test_status_from_the_stream_alone():
    assert feed(BuildModel(), vx(1, "[1/1] RUN x", started=T0)).to_report()["status"] == "incomplete"
    m = feed(BuildModel(), vx(1, "[1/1] RUN x", started=T0))
    m.finish()
    assert m.status == "incomplete" and m.steps[0].state == "running"
    m = feed(BuildModel(), vx(1, "[1/1] RUN x", started=T0, completed=T1))
    m.finish()
    assert m.status == "success"
    m = feed(BuildModel(), vx(1, "[1/1] RUN x", started=T0, completed=T1), "error: failed to solve: boom")
    m.finish()
    assert m.status == "failed" and m.error == "failed to solve: boom"
    m = BuildModel()
    m.finish()
    assert m.status == "incomplete"


def test_status_from_the_returncode_and_cancel_flag():
    m = feed(BuildModel(), vx(1, "[1/1] RUN x", started=T0))
    m.finish(returncode=0)
    assert m.status == "success" and m.steps[0].state == "executed"
    m = feed(BuildModel(), vx(1, "[1/1] RUN x", started=T0))
    m.finish(returncode=1)
    assert m.status == "failed" and m.steps[0].state == "cancelled"
    m = feed(BuildModel(), vx(1, "[1/1] RUN x", started=T0))
    m.finish(returncode=None, cancelled=True)
    assert m.status == "cancelled"


def test_non_json_lines_are_kept_and_never_raise():
    m = BuildModel("rawjson")
    feed(m, "WARNING: No output specified with docker-container driver", "{not json", '{"vertexes": 3}',
         "[1, 2]", "", "   ", "error: failed to solve: process did not complete")
    assert m.error == "failed to solve: process did not complete"
    assert list(m.output)[0].startswith("WARNING: No output")
    assert "{not json" in m.output
    assert m.bad_lines >= 2


def test_expected_cache_refs_are_known_before_the_vertexes():
    m = BuildModel("rawjson")
    m.expect_cache(import_refs=["r:5000/app:cache"], export_refs=["r:5000/app:cache"])
    assert [(o.ref, o.state) for o in m.cache_import] == [("r:5000/app:cache", "pending")]
    assert [(o.ref, o.state) for o in m.cache_export] == [("r:5000/app:cache", "pending")]
    feed(m, vx(9, "importing cache manifest from r:5000/app:cache", started=T0, completed=T1,
               error="failed to configure registry cache importer: r:5000/app:cache: not found"))
    assert m.cache_import[0].state == "not-found" and m.import_first_build
    feed(m, vx(1, "[1/1] RUN x", started=T0, completed=T1), vx(8, "exporting cache to registry", started=T1, completed=T2))
    m.finish(0)
    assert [(o.ref, o.state) for o in m.cache_export] == [("r:5000/app:cache", "ok")]


def test_an_import_the_stream_never_mentions_is_reported():
    m = BuildModel("rawjson")
    m.expect_cache(import_refs=["r/app:cache"], export_refs=["r/app:cache"])
    feed(m, vx(1, "[1/1] RUN x", started=T0, completed=T1))
    m.finish(0)
    [imp] = m.cache_import
    assert imp.state == "error" and "never reported" in imp.detail
    assert m.import_failed and not m.import_first_build
    assert m.cache_export[0].state == "error"


def test_export_error_with_ignore_error_flag():
    m = BuildModel("rawjson")
    m.expect_cache(export_refs=["r/app:cache"], ignore_export_error=True)
    feed(m, vx(8, "exporting cache to registry", started=T1, completed=T2, error="... 401 Unauthorized"))
    m.finish(0)
    assert [(o.ref, o.state) for o in m.cache_export] == [("r/app:cache", "ignored-error")]


def test_status_bytes_count_once_per_status_id_with_the_largest_amount():
    m = BuildModel("rawjson")
    feed(m, vx(1, "[1/1] RUN x", started=T0))
    for cur, done in ((100, False), (600, False), (600, False), (1000, True), (1000, True)):
        st = {"id": "sha256:aa", "vertex": d(1), "current": cur, "total": 1000, "timestamp": T1}
        if done:
            st["completed"] = T1
        m.feed_line(json.dumps({"statuses": [st]}))
    m.feed_line(json.dumps({"statuses": [{"id": "extracting sha256:aa", "vertex": d(1), "current": 0}]}))
    m.feed_line(json.dumps({"statuses": [{"id": "transferring context:", "vertex": d(1), "current": 5000}]}))
    assert m.steps[0].pulled_bytes == 1000


def test_warnings_are_decoded():
    m = BuildModel("rawjson")
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    feed(m, vx(1, "[1/1] RUN x"), json.dumps({"warnings": [{"vertex": d(1), "level": 1, "short": b64("JSONArgsRecommended"),
                                                             "detail": [b64("use JSON")], "url": "https://docs"}]}))
    assert m.steps[0].warnings == [{"level": 1, "short": "JSONArgsRecommended", "detail": ["use JSON"], "url": "https://docs"}]


def test_logs_before_their_vertex_are_kept():
    m = BuildModel("rawjson")
    feed(m, log(1, "early\n"))
    assert m.steps == [] and m.bookkeeping == []  # not named yet
    feed(m, vx(1, "[1/1] RUN x", started=T0, completed=T1))
    assert m.steps[0].logs.lines() == ["early"]


def test_change_notifications_are_coalesced():
    m = BuildModel("rawjson")
    feed(m, vx(1, "[1/1] RUN x", started=T0))
    ch = m.drain_changes()
    assert {d(1), "summary", "order"} <= ch
    assert m.drain_changes() == set()
    for i in range(100):
        m.feed_line(log(1, f"line {i}\n"))
    assert m.drain_changes() == {"logs:" + d(1)}
    feed(m, vx(1, "[1/1] RUN x", started=T0, completed=T1))
    assert {d(1), "summary"} <= m.drain_changes()
    m.finish(0)
    assert "status" in m.drain_changes()


def test_order_is_computed_lazily():
    m = BuildModel("rawjson")
    feed(m, vx(2, "[2/2] RUN b", inputs=[1]), vx(1, "[1/2] RUN a"))
    first = m.steps
    assert [s.index for s in first] == [1, 2]
    assert m._order() is m._order()  # cached until a vertex changes
    for i in range(10):
        m.feed_line(log(2, f"{i}\n"))
    assert not m._order_dirty


def test_log_buffer_keeps_head_and_tail_and_counts_the_rest():
    b = LogBuffer(head_lines=2, tail_lines=3)
    grew = sum(b.write(f"l{i}\n".encode()) for i in range(10))
    assert b.lines() == ["l0", "l1", "… 5 lines not kept …", "l7", "l8", "l9"]
    assert b.total_lines == 10 and b.dropped == 5 and grew == b.nbytes == 2 * 2 + 3 * 2
    b.write(b"part")
    b.write(b"ial\nnext")
    assert b.lines()[-2:] == ["partial", "next"]
    b.flush()
    assert b.total_lines == 12 and not b.partial


def test_log_buffer_counts_lines_only_once_they_are_kept():
    """A dashboard thread reads `total_lines`, then the lines, then the count again: a count that
    already includes lines not yet in the tail would make it show too few lines, for good."""
    b = LogBuffer(head_lines=1, tail_lines=3)
    counts_while_storing = []

    class Tail(deque):
        def append(self, x):
            counts_while_storing.append(b.total_lines)
            super().append(x)

        def extend(self, xs):
            counts_while_storing.append(b.total_lines)
            super().extend(xs)

    b.tail = Tail(maxlen=3)
    b.write(b"h\n")
    b.write(b"one line\n")
    b.write(b"a\nchunk\nof\nlines\n")
    assert counts_while_storing == [1, 2]
    assert b.total_lines == 6 and list(b.tail) == [b"chunk", b"of", b"lines"]


def test_log_buffer_splits_chunks_and_cuts_long_lines():
    b = LogBuffer(head_lines=10, tail_lines=10, max_line_bytes=8)
    b.write(b"a\nb\n\nc")
    assert b.lines() == ["a", "b", "", "c"]
    b.write(b"x" * 100)  # a partial line longer than the limit is cut, not held
    assert b.lines()[-1].startswith("c" + "x" * 7) and b.lines()[-1].endswith("[line cut]")
    assert b.partial == b""


def test_global_log_budget_bounds_memory():
    m = BuildModel("rawjson", log_head_lines=10, log_tail_lines=100_000, log_budget_bytes=200_000)
    for n in range(1, 6):
        m.feed_line(vx(n, f"[{n}/5] RUN chatty", started=T0))
    line = "y" * 99 + "\n"
    for i in range(20_000):
        m.feed_line(log(1 + i % 5, line))
    kept = sum(s.logs.nbytes for s in m.vertexes)
    assert kept == m._log_bytes <= 200_000
    assert all(s.logs.total_lines == 4000 for s in m.steps)
    assert all(s.logs.dropped > 0 for s in m.steps)


def test_plain_and_auto_detection():
    m = BuildModel()
    feed(m, "some tool banner", "#1 [1/1] RUN x", "#1 0.100 hello", "#1 DONE 0.5s")
    assert m.format == "plain"
    assert m.steps[0].state == "executed" and m.steps[0].logs.lines() == ["hello"]
    assert m.output[0] == "some tool banner"
    m = BuildModel()
    feed(m, "", vx(1, "[1/1] RUN x", started=T0, completed=T1))
    assert m.format == "rawjson" and m.steps[0].state == "executed"


def test_bytes_lines_and_bad_utf8():
    m = BuildModel()
    m.feed_line(vx(1, "[1/1] RUN x", started=T0).encode() + b"\n")
    m.feed_line(b"\xff\xfe garbage \x00\n")
    m.feed_line(log(1, b"\xff\xfe raw\n").encode())
    assert m.steps[0].logs.lines() == ["\ufffd\ufffd raw"]
    assert len(m.output) == 1


def test_a_chunk_of_several_lines_is_split():
    m = BuildModel("rawjson")
    m.feed_line(vx(1, "[1/1] RUN x", started=T0) + "\n" + log(1, "hi\n") + "\n" + vx(1, "[1/1] RUN x", started=T0, completed=T1) + "\n")
    assert m.steps[0].state == "executed" and m.steps[0].logs.lines() == ["hi"] and m.bad_lines == 0
    p = BuildModel("plain")
    p.feed_line("#1 [1/1] RUN x\n#1 0.100 hi\n#1 DONE 0.1s\n")
    assert p.steps[0].state == "executed" and p.steps[0].logs.lines() == ["hi"]


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        BuildModel("tty")


@pytest.mark.parametrize("size", [0, 1, 700, 767, 768, 769, 5000, 300_000])
def test_log_data_decodes_as_binascii_does_on_both_sides_of_the_fast_path(size):
    import binascii
    import random

    from railpack_tui.core import model as model_mod

    raw = random.Random(size).randbytes(size)
    strict = base64.b64encode(raw).decode()
    mime = base64.encodebytes(raw).decode()  # newlines every 76 characters: binascii skips them
    assert model_mod.decode_log_data(strict) == raw == binascii.a2b_base64(strict)
    assert model_mod.decode_log_data(mime) == binascii.a2b_base64(mime) == raw
    if size >= 768:  # 1,024 base64 characters and more take pybase64, which must be installed
        assert len(strict) >= model_mod.FAST_B64_MIN and model_mod._fast_b64decode() is not None


def test_a_large_log_chunk_reaches_the_step_through_the_fast_decoder():
    m = BuildModel("rawjson")
    m.feed_line(json.dumps({"vertexes": [{"digest": "sha256:" + "1" * 64, "name": "[1/1] RUN x",
                                          "started": "2026-12-03T16:21:45Z"}]}))
    chunk = b"".join(b"line %d\n" % i for i in range(2000))
    m.feed_line(json.dumps({"logs": [{"vertex": "sha256:" + "1" * 64, "stream": 1,
                                      "data": base64.b64encode(chunk).decode()}]}))
    logs = m.steps[0].logs
    assert logs.total_lines == 2000 and logs.head[0] == b"line 0" and logs.tail[-1] == b"line 1999"
