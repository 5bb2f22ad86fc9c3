"""The plain-progress parser and format detection (core/progress.py)."""

from __future__ import annotations

from railpack_tui.core.model import BuildModel
from railpack_tui.core.progress import PlainParser, detect_format, parse_size


def plain(*lines: str, clock=None) -> BuildModel:
    m = BuildModel("plain")
    if clock is not None:
        m._plain = PlainParser(m, clock=clock)
    for line in lines:
        m.feed_line(line + "\n")
    return m


def test_detect_format():
    assert detect_format('{"vertexes":[]}') == "rawjson"
    assert detect_format(b'  {"logs":[]}\n') == "rawjson"
    assert detect_format("#1 [internal] load build definition from Dockerfile") == "plain"
    assert detect_format("#12 DONE 0.1s") == "plain"
    assert detect_format("") is None
    assert detect_format("WARNING: No output specified") is None
    assert detect_format("#not-a-vertex") is None


def test_parse_size():
    assert parse_size("462B") == 462
    assert parse_size("3.52kB") == 3520
    assert parse_size("1.08MB") == 1_080_000
    assert parse_size("2GiB") == 2 * 1024**3
    assert parse_size("fast") is None


def test_states_from_plain_lines():
    m = plain("#1 [1/4] COPY a /a", "#1 CACHED",
              "#2 [2/4] RUN make", "#2 0.052 compiling", "#2 DONE 1.2s",
              "#3 [3/4] RUN false", "#3 ERROR: process \"/bin/sh -c false\" did not complete successfully: exit code: 1",
              "#4 [4/4] RUN sleep 9", "#4 CANCELED")
    assert [s.state for s in m.steps] == ["cached", "executed", "error", "cancelled"]
    assert m.steps[1].duration_s == 1.2 and m.steps[1].logs.lines() == ["compiling"]
    assert "exit code: 1" in m.steps[2].error
    m.finish()
    assert m.status == "failed"


def test_running_until_done_and_repeated_headers():
    t = iter(range(100, 200))
    m = plain("#5 [1/1] RUN long", "#5 0.100 a", clock=lambda: float(next(t)))
    assert m.steps[0].state == "running"
    for line in ("#6 [internal] load x", "#6 DONE 0.0s", "#5 [1/1] RUN long", "#5 1.000 b", "#5 DONE 2.0s"):
        m.feed_line(line)
    s = m.steps[0]
    assert s.state == "executed" and s.logs.lines() == ["a", "b"] and s.duration_s == 2.0
    assert len(m.steps) == 1 and m.bookkeeping[0].name == "[internal] load x"


def test_layer_downloads_then_done_is_inferred_cached():
    m = plain("#9 [deps 2/2] RUN install",
              "#9 sha256:cc6f 3.52kB / 3.52kB 0.0s done",
              "#9 sha256:4a77 8.39MB / 8.39MB 0.1s done",
              "#9 extracting sha256:4a77 0.0s done",
              "#9 DONE 0.1s")
    s = m.steps[0]
    assert s.state == "cached" and s.cache_inferred
    assert s.pulled_bytes == 3520 + 8_390_000


def test_done_with_output_or_a_from_pull_is_executed():
    m = plain("#1 [1/2] RUN install", "#1 sha256:aa 1.0MB / 1.0MB done", "#1 0.3 x", "#1 0.300 printing", "#1 DONE 0.5s",
              "#2 [2/2] FROM docker.io/library/alpine@sha256:abc", "#2 sha256:bb 3.0MB / 3.0MB done", "#2 DONE 0.4s")
    assert [s.state for s in m.steps] == ["executed", "executed"]
    assert not any(s.cache_inferred for s in m.steps)


def test_progress_of_an_unfinished_download_counts_current_bytes():
    m = plain("#2 [1/1] RUN x", "#2 sha256:aa 1.5MB / 8.0MB 0.3s")
    assert m.steps[0].pulled_bytes == 1_500_000
    m.feed_line("#2 sha256:aa 8.0MB / 8.0MB 0.6s done")
    assert m.steps[0].pulled_bytes == 8_000_000


def test_non_progress_lines_in_plain_are_output_and_errors():
    m = plain("#1 [1/1] RUN x", "#1 ERROR: boom", "------", " > [1/1] RUN x:", "------",
              "ERROR: failed to solve: process did not complete successfully")
    assert m.error == "failed to solve: process did not complete successfully"
    assert "------" in m.output


def test_plain_warnings():
    m = plain("#1 [1/1] RUN x", "#1 WARN: JSONArgsRecommended: use JSON", "#1 DONE 0.1s")
    assert m.steps[0].warnings[0]["short"] == "JSONArgsRecommended: use JSON"


def test_plain_cache_import_and_export_outcomes():
    m = plain("#4 importing cache manifest from r:5000/app:cache", "#4 ERROR: failed to configure registry cache importer: r:5000/app:cache: not found",
              "#5 [1/1] RUN x", "#5 DONE 0.1s", "#6 exporting cache to registry", "#6 DONE 0.1s")
    m.finish()
    assert [(o.ref, o.state) for o in m.cache_import] == [("r:5000/app:cache", "not-found")]
    assert [o.state for o in m.cache_export] == ["ok"]
    assert m.status == "success"  # an import failure never fails the build
