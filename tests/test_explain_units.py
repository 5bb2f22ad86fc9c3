"""Pieces of the miss explanations that need no builder: which files a COPY source covers, what
changed between two manifests, and reading a real `/debug/cache/all` answer (recorded from the
sandbox's buildkitd v0.32.2 after building the bundled example)."""

import json
from pathlib import Path

import pytest

from railpack_tui.core import cachedebug, explain, project

RECORDED = Path(__file__).parent / "fixtures" / "cachedebug" / "all-after-example-build.json"


@pytest.mark.parametrize("src, path, covered", [
    (".", "anything/at/all", True),
    ("./", "a", True),
    ("src/", "src/a.txt", True),
    ("src", "src/deep/a.txt", True),
    ("src", "srcx/a.txt", False),
    ("/requirements.txt", "requirements.txt", True),
    ("*.txt", "a.txt", True),
    ("*.txt", "sub/a.txt", False),
    ("src/*.py", "src/a.py", True),
    ("src/*", "src/pkg/mod.py", True),      # a matching directory brings everything under it
])
def test_source_matches(src, path, covered):
    assert explain._source_matches(src, path) is covered


def test_changed_files_added_removed_modified_and_mode():
    old = {"src/a": {"sha256": "1", "mode": 0o100644}, "src/b": {"sha256": "2", "mode": 0o100644},
           "src/c": {"sha256": "3", "mode": 0o100644}, "other": {"sha256": "9", "mode": 0o100644}}
    new = {"src/a": {"sha256": "1", "mode": 0o100755}, "src/b": {"sha256": "22", "mode": 0o100644},
           "src/d": {"sha256": "4", "mode": 0o100644}, "other": {"sha256": "99", "mode": 0o100644}}
    added, removed, modified = explain._changed_files(["src/"], old, new)
    assert (added, removed, modified) == (["src/d"], ["src/c"], ["src/a", "src/b"])


def test_recorded_debug_database_parses():
    records = json.loads(RECORDED.read_text())
    execs = cachedebug.exec_records(records)
    by_cmd = {e["args"][-1][:22]: e for e in execs}
    build = by_cmd['echo "building $APP_VE']
    assert "APP_VERSION=1.0.0" in build["env"] and build["cwd"] == "/app"  # the cache key holds the ARG as env
    assert ["/bin/busybox", "--install", "-s", "/bin"] in [e["args"] for e in execs]
    lists = cachedebug.file_lists(records)
    src = next(fl for fl in lists if "main.txt" in fl)
    assert set(src) == {"", "main.txt", "util.txt"} and all(v.startswith("sha256:") for v in src.values())


def test_confirm_run_reads_env_differences():
    df = project.dockerfile_mod.parse('FROM scratch\nARG V=1\nRUN echo "$V"\n')
    ins = df.stages[0].instructions[1]
    execs = [{"args": ["/bin/sh", "-c", 'echo "$V"'], "env": ["PATH=/bin", f"V={v}"], "cwd": "/"} for v in ("1", "2")]
    miss = {"kind": "build-arg-changed", "args": ["V"]}
    ev = cachedebug._confirm_run(miss, ins, execs)
    assert ev["confirmed"] is True and "env V" in ev["evidence"]
    ev = cachedebug._confirm_run({"kind": "cache-unavailable"}, ins, execs[:1])
    assert ev["confirmed"] is True and "did not change" in ev["evidence"]
    assert cachedebug._confirm_run(miss, ins, execs[:1])["confirmed"] is False


def _railpack_stream(copy_cached: bool, copy_name: str = "copy .") -> list[str]:
    """Railpack-shaped vertex names (custom names, no [stage i/N]); Railpack cannot build offline here."""
    t = "2026-12-03T10:00:0{}Z"
    ctx, cp, inst = ("sha256:" + c * 64 for c in "abc")
    v = [{"digest": ctx, "name": "[internal] load build context", "started": t.format(0), "completed": t.format(1)},
         {"digest": cp, "name": copy_name, "inputs": [ctx], "started": t.format(1), "completed": t.format(2),
          **({"cached": True} if copy_cached else {})},
         {"digest": inst, "name": "npm ci", "inputs": [cp], "started": t.format(2), "completed": t.format(5)}]
    return [json.dumps({"vertexes": [x]}) for x in v]


def test_railpack_copy_step_files_changed(tmp_path):
    from railpack_tui.core import history, model

    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text("{}")
    (app / "index.js").write_text("console.log(1)\n")
    p = project.detect(app)
    assert p.kind == "railpack"
    h = history.History.open(tmp_path / "h.sqlite3")
    info = {"project": p.path, "engine": "railpack", "debug_addr": None}
    m1 = model.load(_railpack_stream(False), returncode=0)
    s1 = project.snapshot(p, {})
    h.record(info, m1, s1)
    explain.annotate(m1, s1, h, info)
    assert m1.step_by_name("copy .").miss["kind"] == "first-build"
    (app / "index.js").write_text("console.log(2)\n")
    m2 = model.load(_railpack_stream(False), returncode=0)
    s2 = project.snapshot(p, {})
    run2 = h.record(info, m2, s2)
    explain.annotate(m2, s2, h, info)
    miss = m2.step_by_name("copy .").miss
    assert miss["kind"] == "files-changed" and miss["modified"] == ["index.js"] and miss["compared_run"] == run2 - 1
    assert m2.step_by_name("npm ci").miss == {**m2.step_by_name("npm ci").miss, "kind": "parent-missed", "root": "copy ."}
    assert h.get(run2).step("copy .").miss["kind"] == "files-changed"  # stored with the run


def _dockerfile_stream(name: str, cached: bool = False) -> list[str]:
    t = "2026-12-03T10:00:0{}Z"
    ctx, cp = ("sha256:" + c * 64 for c in "de")
    v = [{"digest": ctx, "name": "[internal] load build context", "started": t.format(0), "completed": t.format(1)},
         {"digest": cp, "name": name, "inputs": [ctx], "started": t.format(1), "completed": t.format(2),
          **({"cached": True} if cached else {})}]
    return [json.dumps({"vertexes": [x]}) for x in v]


def test_arg_used_in_a_copy_source(tmp_path):
    """`COPY ${DIR}/ /app/`: the arg renames the step and picks other files; the explanation names
    the arg (the step is matched by stage + index because its name changed)."""
    from railpack_tui.core import history, model

    d = tmp_path / "p"
    (d / "a").mkdir(parents=True)
    (d / "b").mkdir()
    (d / "a" / "x").write_text("a")
    (d / "b" / "x").write_text("b")
    (d / "Dockerfile").write_text("FROM scratch\nARG DIR=a\nCOPY ${DIR}/ /app/\n")
    p = project.detect(d)
    h = history.History.open(tmp_path / "h.sqlite3")
    for args, name in (({}, "[1/1] COPY a/ /app/"), ({"DIR": "b"}, "[1/1] COPY b/ /app/")):
        info = {"project": p.path, "build_args": args, "debug_addr": None}
        m = model.load(_dockerfile_stream(name), returncode=0)
        snap = project.snapshot(p, args)
        h.record(info, m, snap)
        explain.annotate(m, snap, h, info)
    miss = m.step_by_name("[1/1] COPY b/ /app/").miss
    assert miss["kind"] == "build-arg-changed" and miss["args"] == ["DIR"] and "'a' -> 'b'" in miss["detail"]


def test_explains_a_recorded_plain_progress_build(example_project, tmp_path):
    """Recorded from the sandbox (tests/fixtures/recorded): the example built cold, then with
    src/main.txt edited, in plain progress (no vertex graph: the model infers parents)."""
    from railpack_tui.core import history, report

    rec = Path(__file__).parent / "fixtures" / "recorded"
    p = project.detect(example_project)
    h = history.History.open(tmp_path / "h.sqlite3")
    info = {"project": p.path, "cache_ref": "127.0.0.1:1/fixtures/demo:x", "debug_addr": None}
    cold = report.load_file(rec / "cold-empty-ref.rawjson.jsonl")
    snap = project.snapshot(p, {})
    h.record(info, cold, snap)
    (example_project / "src" / "main.txt").write_text("edited\n")
    warm = report.load_file(rec / "file-change.plain.txt")
    snap = project.snapshot(p, {})
    h.record(info, warm, snap)
    explain.annotate(warm, snap, h, info)
    misses = {s.name: s.miss for s in warm.steps if s.miss}
    copy = misses["[build 1/2] COPY src/ ./src/"]
    assert copy["kind"] == "files-changed" and copy["modified"] == ["src/main.txt"]
    for name in ("[final 1/1] COPY --from=build /app/app.txt /app/version.txt /app/",
                 '[build 2/2] RUN echo "building 1.0.0"; sleep 1; cat src/*.txt > app.txt; echo "1.0.0" > version.txt'):
        assert misses[name]["kind"] == "parent-missed" and misses[name]["root"] == "[build 1/2] COPY src/ ./src/"
    assert len(misses) == 3


def test_railpack_copy_of_a_folder_names_its_source_not_its_destination(tmp_path):
    """BuildKit names Railpack's copy of a local input `copy /src /app/src` (source, then destination):
    the destination is not a path of the project."""
    from railpack_tui.core import history, model

    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "package.json").write_text("{}")
    (app / "src" / "a.txt").write_text("1\n")
    p = project.detect(app)
    h = history.History.open(tmp_path / "h.sqlite3")
    info = {"project": p.path, "engine": "railpack", "debug_addr": None}
    name = "copy /src /app/src"
    for change in (None, "src/a.txt", "package.json"):
        if change:
            (app / change).write_text((app / change).read_text() + "2\n")
        m = model.load(_railpack_stream(False, name), returncode=0)
        snap = project.snapshot(p, {})
        h.record(info, m, snap)
        explain.annotate(m, snap, h, info)
        miss = m.step_by_name(name).miss
        if change == "src/a.txt":
            assert miss["kind"] == "files-changed" and miss["modified"] == ["src/a.txt"], miss
            assert miss["detail"].startswith("files under src changed"), miss["detail"]
        elif change == "package.json":  # outside the copied folder: not why this copy missed
            assert miss["kind"] != "files-changed", miss


def test_a_copied_file_that_changed_is_named_as_a_file_and_a_folder_as_a_folder(tmp_path):
    """`COPY requirements.txt` read "files under requirements.txt changed": a single file reads
    "requirements.txt changed"; a copied folder keeps "files under src/ changed"."""
    from railpack_tui.core import history, model

    def second_build_miss(instruction: str, change: str) -> tuple[dict, int]:
        d = tmp_path / change.replace("/", "-")
        (d / "src").mkdir(parents=True)
        (d / "requirements.txt").write_text("flask\n")
        (d / "src" / "a.txt").write_text("a\n")
        (d / "Dockerfile").write_text(f"FROM scratch\n{instruction}\n")
        p = project.detect(d)
        h = history.History.open(d / "h.sqlite3")
        info = {"project": p.path, "build_args": {}, "debug_addr": None}
        for edit in (False, True):
            if edit:
                (d / change).write_text("edited\n")
            m = model.load(_dockerfile_stream(f"[1/1] {instruction}"), returncode=0)
            snap = project.snapshot(p, {})
            run = h.record(info, m, snap)
            explain.annotate(m, snap, h, info)
        miss = m.step_by_name(f"[1/1] {instruction}").miss
        assert miss["kind"] == "files-changed" and miss["modified"] == [change], miss
        return miss, run

    miss, run = second_build_miss("COPY requirements.txt /app/", "requirements.txt")
    assert miss["detail"] == f"requirements.txt changed since build #{run - 1} (modified)"
    miss, run = second_build_miss("COPY src/ /app/src/", "src/a.txt")
    assert miss["detail"] == f"files under src/ changed since build #{run - 1} (1 modified): src/a.txt"
