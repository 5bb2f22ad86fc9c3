"""How an engine's output reaches the model: whole lines in batches, one per read of the pipe, and
one progress event per batch (a flood of log lines is not an event per line; the last change
before a quiet stretch is never held back). Fed from recorded streams through a real pipe."""

from __future__ import annotations

import sys
from pathlib import Path

from railpack_tui.core.engines.base import EngineProcess, Invocation, line_batches
from railpack_tui.core.model import BuildModel
from railpack_tui.core.runner import BuildRequest, BuildRun

RECORDED = Path(__file__).resolve().parent / "fixtures" / "recorded"


def _reads(*chunks: bytes):
    """A `read(fd, size)` that hands out these chunks, then end of file."""
    queue = list(chunks)
    return lambda fd, size: queue.pop(0) if queue else b""


def test_lines_are_whole_across_reads_and_keep_what_a_line_iterator_gives():
    euro = "€".encode()
    batches = list(line_batches(_reads(b"one\r\ntw", b"o\n\nthr" + euro[:1], euro[1:] + b"ee\n", b"\xff\xfelast"), 0))
    assert batches == [["one"], ["two", ""], ["thr€ee"], ["\ufffd\ufffdlast"]]
    assert list(line_batches(_reads(b"a\nb\n"), 0)) == [["a", "b"]]
    assert list(line_batches(_reads(), 0)) == []


def test_a_recorded_stream_through_a_pipe_gives_the_model_of_feeding_it_line_by_line(tmp_path):
    path = RECORDED / "failing-step.rawjson.jsonl"
    events = []
    run = BuildRun(BuildRequest(path=str(tmp_path)), on_event=events.append)
    run.model = BuildModel("rawjson")
    tail: list[str] = []
    rc = run._pump(EngineProcess(Invocation(["cat", str(path)])), tail)

    alone = BuildModel("rawjson")
    lines = path.read_text().splitlines()
    for line in lines:
        alone.feed_line(line)
    assert rc == 0
    assert [(s.name, s.state, s.logs.lines()) for s in run.model.steps] == [(s.name, s.state, s.logs.lines()) for s in alone.steps]
    assert run.model.error == alone.error and "exit code: 3" in run.model.error
    assert tail[-1].startswith("error: failed to solve")
    progress = [e for e in events if e.kind == "progress"]
    assert 1 <= len(progress) < len([x for x in lines if x.startswith("{")]) // 4  # per read, not per line
    assert events[-1].kind == "progress"  # the last change is handed on, not held for a next line


def test_a_change_is_handed_on_before_the_engine_says_more(tmp_path):
    """An engine that prints one line and then waits: the change reaches on_event while it waits
    (it prints its next line only after the event; it gives up after 10 s and says so)."""
    path = RECORDED / "failing-step.rawjson.jsonl"
    alone = BuildModel("rawjson")
    lines = []
    for line in (x for x in path.read_text().splitlines() if x.startswith("{")):
        alone.feed_line(line)
        if alone.drain_changes():
            lines.append(line)
    lines = lines[:5]
    ack = tmp_path / "ack"
    script = ("import os, sys, time\n"
              "for n, line in enumerate(sys.argv[2:], 1):\n"
              "    print(line, flush=True)\n"
              "    deadline = time.monotonic() + 10\n"
              "    while not os.path.exists(f'{sys.argv[1]}.{n}'):\n"
              "        if time.monotonic() > deadline:\n"
              "            print('NO-EVENT-WHILE-WAITING', flush=True)\n"
              "            break\n"
              "        time.sleep(0.01)\n")
    events = []

    def on_event(event):
        events.append(event)
        if event.kind == "progress":
            Path(f"{ack}.{len([e for e in events if e.kind == 'progress'])}").touch()

    run = BuildRun(BuildRequest(path=str(tmp_path)), on_event=on_event)
    run.model = BuildModel("rawjson")
    tail: list[str] = []
    assert run._pump(EngineProcess(Invocation([sys.executable, "-c", script, str(ack), *lines])), tail) == 0
    assert "NO-EVENT-WHILE-WAITING" not in tail
    assert len([e for e in events if e.kind == "progress"]) == len(lines)
