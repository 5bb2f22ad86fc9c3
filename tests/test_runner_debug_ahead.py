"""The builder's cache debug database is read while BuildKit exports the cache (once every step of
the build has settled), not after the build: the explanations' evidence must be what reading it
after the build gave, and a read-ahead that no longer matches the build is not used."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

from railpack_tui.core import cachedebug, dockerfile, example, model, runner
from railpack_tui.core.runner import BuildRequest, BuildRun

STEP_A = "sha256:" + "a" * 64
STEP_B = "sha256:" + "b" * 64
EXPORT = "sha256:" + "e" * 64


def _vertex(digest: str, name: str, started: str | None = None, completed: str | None = None, **extra) -> str:
    v = {"digest": digest, "name": name, **extra}
    if started:
        v["started"] = started
    if completed:
        v["completed"] = completed
    return json.dumps({"vertexes": [v]})


def _model(*lines: str) -> model.BuildModel:
    m = model.BuildModel(format="rawjson")
    for line in lines:
        m.feed_line(line)
    return m


COPY_DONE = _vertex(STEP_A, "[1/2] COPY a /a", "2026-12-04T10:00:00Z", "2026-12-04T10:00:01Z", cached=True)
RUN_STARTED = _vertex(STEP_B, "[2/2] RUN true", "2026-12-04T10:00:01Z", inputs=[STEP_A])
RUN_DONE = _vertex(STEP_B, "[2/2] RUN true", "2026-12-04T10:00:01Z", "2026-12-04T10:00:02Z", inputs=[STEP_A])
EXPORT_STARTED = _vertex(EXPORT, "exporting cache to registry", "2026-12-04T10:00:02Z")


def test_the_solve_is_over_once_every_step_settled_and_an_export_began():
    assert runner._settled_steps(_model(COPY_DONE, RUN_STARTED)) is None
    assert runner._settled_steps(_model(COPY_DONE, RUN_DONE)) is None  # no export yet: more may come
    assert runner._settled_steps(_model(COPY_DONE, RUN_STARTED, EXPORT_STARTED)) is None  # a step still runs
    assert runner._settled_steps(_model(COPY_DONE, RUN_DONE, EXPORT_STARTED)) == ((STEP_A, "cached"), (STEP_B, "executed"))
    assert runner._settled_steps(_model(EXPORT_STARTED)) is None  # no step at all
    assert runner._CACHE_CHANGED == model.CHANGE_CACHE


class _Earlier:
    def __init__(self, runs):
        self.runs = runs


def _prepared(tmp_path: Path, no_cache: bool = False, earlier_runs=("run 1",)) -> runner._Prepared:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    p = runner._Prepared(BuildRequest(path=str(tmp_path), no_cache=no_cache), False, threading.Event())
    p.debug_addr = "127.0.0.1:1"
    p.earlier = _Earlier(list(earlier_runs))
    p._done.set()  # as when its thread has read the history
    return p


def _fetches(monkeypatch) -> list[str]:
    calls: list[str] = []
    records = [{"digest": "sha256:1", "type": "json", "data": [{"type": 2, "data": "eyJFeGVjIjp7Im1ldGEiOnsiYXJncyI6WyJ0cnVlIl19fSwiYnVpbGRraXQuZXhlYy52MCI6MX0="}]}]

    def fetch_all(addr, timeout=5.0):
        calls.append(threading.current_thread().name)
        return records

    monkeypatch.setattr(cachedebug, "fetch_all", fetch_all)
    return calls


def test_read_ahead_is_handed_over_when_the_steps_did_not_change(tmp_path, monkeypatch):
    calls = _fetches(monkeypatch)
    p = _prepared(tmp_path)
    m = _model(COPY_DONE, RUN_STARTED)
    p.read_debug_ahead(m)  # the solve is not over: nothing read
    assert calls == []
    m.feed_line(RUN_DONE)
    m.feed_line(EXPORT_STARTED)
    p.read_debug_ahead(m)
    p.read_debug_ahead(m)  # once per build
    m.finish(returncode=0)
    records, execs = p.debug_records_for(m)
    assert calls == ["railpack-tui-cachedebug"]
    assert records[0]["digest"] == "sha256:1"
    assert execs == cachedebug.exec_records(records) and execs[0]["args"] == ["true"]


def test_read_ahead_is_not_used_when_a_step_changed_after_it(tmp_path, monkeypatch):
    calls = _fetches(monkeypatch)
    p = _prepared(tmp_path)
    m = _model(COPY_DONE, RUN_DONE, EXPORT_STARTED)
    p.read_debug_ahead(m)
    m.feed_line(_vertex("sha256:" + "c" * 64, "[3/3] RUN late", "2026-12-04T10:00:03Z", "2026-12-04T10:00:04Z"))
    m.finish(returncode=0)
    assert calls == ["railpack-tui-cachedebug"]
    assert p.debug_records_for(m) is None  # cachedebug.confirm reads the database itself


def test_read_ahead_failure_leaves_the_read_to_the_explanations(tmp_path, monkeypatch):
    def fail(addr, timeout=5.0):
        raise OSError("connection refused")

    monkeypatch.setattr(cachedebug, "fetch_all", fail)
    p = _prepared(tmp_path)
    m = _model(COPY_DONE, RUN_DONE, EXPORT_STARTED)
    p.read_debug_ahead(m)
    m.finish(returncode=0)
    assert p.debug_records_for(m) is None


def test_nothing_read_ahead_when_the_explanations_will_not_read_it(tmp_path, monkeypatch):
    calls = _fetches(monkeypatch)
    settled_cached = _model(COPY_DONE, EXPORT_STARTED)  # nothing executed: no miss to confirm
    for p, m in ((_prepared(tmp_path / "a"), settled_cached),
                 (_prepared(tmp_path / "b", earlier_runs=()), _model(COPY_DONE, RUN_DONE, EXPORT_STARTED)),  # first build
                 (_prepared(tmp_path / "c", no_cache=True), _model(COPY_DONE, RUN_DONE, EXPORT_STARTED))):
        p.read_debug_ahead(m)
        assert p.debug_records_for(m) is None
    not_ready = _prepared(tmp_path / "d")
    not_ready._done.clear()  # the history is still being read
    not_ready.read_debug_ahead(_model(COPY_DONE, RUN_DONE, EXPORT_STARTED))
    assert calls == []


def _project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    shutil.copy2(example.find_busybox(), d / "busybox")
    with open(d / "busybox", "ab") as fh:  # a cache key of its own (see conftest.example_project)
        fh.write(b"\0railpack-tui-test-" + os.urandom(8).hex().encode())
    # the RUN sleeps: the runner's history read is surely done when the export begins
    (d / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/busybox\nARG V=1\n'
                                  'RUN ["/bin/busybox", "sh", "-c", "sleep 1; echo $V"]\n')
    return d


def test_a_real_build_reads_the_debug_database_while_the_cache_exports(sandbox, sandbox_credential, tmp_path,
                                                                       unique_ref, monkeypatch):
    """On the sandbox (buildkitd --save-cache-debug): the second build's build-arg miss is confirmed
    from the database read by the read-ahead thread, once, with the evidence a read after the
    build gives."""
    proj = _project(tmp_path)
    calls: list[str] = []
    real = cachedebug.fetch_all

    def fetch_all(addr, timeout=5.0):
        calls.append(threading.current_thread().name)
        return real(addr, timeout)

    monkeypatch.setattr(cachedebug, "fetch_all", fetch_all)
    results = []
    for v in ("1", "2"):
        calls.clear()
        r = BuildRun(BuildRequest(path=str(proj), builder=sandbox.buildkit_host, cache_ref=unique_ref,
                                  build_args={"V": v})).run()
        assert r.ok, (r.error, r.notes)
        results.append(r)
    assert calls == ["railpack-tui-cachedebug"]
    step = '[2/2] RUN ["/bin/busybox", "sh", "-c", "sleep 1; echo 2"]'
    miss = results[1].model.step_by_name(step).miss
    assert miss["kind"] == "build-arg-changed", miss
    evidence = miss["cache_debug"]
    assert evidence["confirmed"] is True and "differ only in env" in evidence["evidence"], evidence
    # the same evidence from the database read now, after the build
    monkeypatch.setattr(cachedebug, "fetch_all", real)
    step_now = SimpleNamespace(miss={k: v for k, v in miss.items() if k != "cache_debug"}, stage=None, index=2)
    ctx = SimpleNamespace(info={"builder": sandbox.buildkit_host}, df=dockerfile.parse((proj / "Dockerfile").read_text()),
                          snapshot=None)
    cachedebug.confirm(ctx, [step_now])
    now = step_now.miss["cache_debug"]
    assert now["confirmed"] is True and now["source"] == evidence["source"]
    assert now["evidence"].split("; ")[1] == evidence["evidence"].split("; ")[1] == "they differ only in env V"
