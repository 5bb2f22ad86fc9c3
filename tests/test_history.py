"""The build history database: recording, queries, migrations, and a corrupt or newer database set
aside without failing."""

import json
import sqlite3

from railpack_tui.core import history, model, project


def _stream(cached_copy: bool) -> list[str]:
    """A small rawjson stream in BuildKit's shape: two steps, a cache import."""
    t = "2026-12-03T10:00:0{}.000000000Z"
    ctx = "sha256:" + "c" * 64
    imp = "sha256:" + "d" * 64
    copy = "sha256:" + "1" * 64
    run = "sha256:" + "2" * 64
    v = [
        {"digest": imp, "name": "importing cache manifest from reg/x:c", "started": t.format(0), "completed": t.format(1)},
        {"digest": ctx, "name": "[internal] load build context", "started": t.format(0), "completed": t.format(1)},
        {"digest": copy, "name": "[1/2] COPY a.txt /a.txt", "inputs": [ctx], "started": t.format(1), "completed": t.format(2),
         **({"cached": True} if cached_copy else {})},
        {"digest": run, "name": "[2/2] RUN cat /a.txt", "inputs": [copy], "started": t.format(2), "completed": t.format(4)},
    ]
    return [json.dumps({"vertexes": [x]}) for x in v]


def _project(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY a.txt /a.txt\nRUN cat /a.txt\n")
    (tmp_path / "a.txt").write_text("a\n")
    return project.detect(tmp_path)


def test_record_and_read_back(tmp_path):
    (tmp_path / "proj").mkdir()
    p = _project(tmp_path / "proj")
    snap = project.snapshot(p, {"X": "1"})
    h = history.History.open(tmp_path / "h.sqlite3")
    info = {"project": p.path, "engine": "buildkit", "builder": "unix:///b.sock", "cache_ref": "reg/x:c", "mode": "max",
            "no_import": False, "no_export": True, "no_cache": False, "build_args": {"X": "1"}}
    first = h.record(info, model.load(_stream(False), returncode=0), snap)
    second = h.record(info, model.load(_stream(True), returncode=0), snap)
    assert second > first
    run = h.get(second)
    assert (run.project, run.engine, run.cache_ref, run.mode, run.no_export) == (p.path, "buildkit", "reg/x:c", "max", True)
    assert run.build_args == {"X": "1"}
    assert [(s.name, s.state) for s in run.steps] == [("[1/2] COPY a.txt /a.txt", "cached"), ("[2/2] RUN cat /a.txt", "executed")]
    assert run.steps[1].duration_s == 2.0
    assert run.cache_import[0]["ref"] == "reg/x:c"
    ctx = run.context()
    assert set(ctx["files"]) == {"Dockerfile", "a.txt"} and "contents" not in json.dumps(ctx["files"])
    assert ctx["dockerfile_text"].startswith("FROM scratch")
    assert [r.id for r in h.runs(p.path)] == [second, first]
    assert h.previous_with_cached_step(p.path, "[1/2] COPY a.txt /a.txt").id == second
    assert h.previous_with_cached_step(p.path, "[1/2] COPY a.txt /a.txt", before_run_id=second).id == first  # executed
    assert h.previous_with_cached_step(p.path, "[1/2] COPY a.txt /a.txt", second, states=("cached",)) is None
    assert h.previous_with_step_at(p.path, "", 2, states=("executed",)).id == second
    assert h.previous_with_step_at(p.path, "", 2, states=("cached",)) is None
    h.set_misses(second, {"[2/2] RUN cat /a.txt": {"kind": "first-build", "detail": "d", "files": []}})
    assert h.get(second).steps[1].miss["kind"] == "first-build"


def test_migrates_an_old_schema_keeping_its_runs(tmp_path):
    db = tmp_path / "h.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(history.MIGRATIONS[0] + ";PRAGMA user_version = 1;")
    conn.execute("INSERT INTO runs (project, started_at, status) VALUES ('/p', 1.0, 'success')")
    conn.commit()
    conn.close()
    h = history.History.open(db)
    assert h.notices == []
    assert h.conn.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION
    (run,) = h.runs("/p")
    assert run.status == "success" and run.target is None and run.context() is None


def test_corrupt_database_is_set_aside(tmp_path):
    db = tmp_path / "h.sqlite3"
    db.write_bytes(b"this is not a database" * 500)
    h = history.History.open(db)
    assert len(h.notices) == 1 and "set aside" in h.notices[0]
    aside = [f for f in tmp_path.iterdir() if f.name.startswith("h.sqlite3.broken-")]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    assert h.runs() == []  # a fresh, working database
    assert h.conn.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION


def test_database_from_a_newer_version_is_set_aside(tmp_path):
    db = tmp_path / "h.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {history.SCHEMA_VERSION + 5}")
    conn.close()
    h = history.History.open(db)
    assert "newer railpack-tui" in h.notices[0]
    assert db.exists() and h.runs() == []


def test_unwritable_directory_falls_back_to_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    h = history.History.open(blocker / "sub" / "h.sqlite3")
    assert h.notices and "in memory" in h.notices[0]
    assert h.runs() == []


def test_base_image_digests_from_from_steps():
    lines = [json.dumps({"vertexes": [{"digest": "sha256:" + "e" * 64,
                                       "name": "[base 1/2] FROM docker.io/library/alpine:3.20@sha256:" + "f" * 64,
                                       "started": "2026-12-03T10:00:00Z", "completed": "2026-12-03T10:00:01Z"}]})]
    m = model.load(lines, returncode=0)
    assert history.base_image_digests(m) == {"base": "docker.io/library/alpine:3.20@sha256:" + "f" * 64}


def test_history_command_with_no_builds_and_a_missing_path(tmp_path, capsys):
    from railpack_tui.core import cli

    assert cli.main(["history", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["runs"] == [] and data["project"] == str(tmp_path.resolve())
    assert cli.main(["history", str(tmp_path)]) == 0
    assert "no builds recorded" in capsys.readouterr().out
    assert cli.main(["history", str(tmp_path / "missing"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "bad-input"


def test_old_context_manifests_are_pruned_runs_kept(tmp_path):
    (tmp_path / "proj").mkdir()
    p = _project(tmp_path / "proj")
    snap = project.snapshot(p, {})
    h = history.History.open(tmp_path / "h.sqlite3")
    ids = [h.record({"project": p.path}, model.load(_stream(False), returncode=0), snap) for _ in range(4)]
    assert h.prune_contexts(p.path, keep=2) == 2
    assert [h.context(i) is not None for i in ids] == [False, False, True, True]
    assert len(h.runs(p.path)) == 4


def test_run_id_of_knows_only_the_recorded_model_object(tmp_path):
    (tmp_path / "proj").mkdir()
    p = _project(tmp_path / "proj")
    h = history.History.open(tmp_path / "h.sqlite3")
    m = model.load(_stream(False), returncode=0)
    rid = h.record({"project": p.path}, m, project.snapshot(p, {}))
    assert h.run_id_of(m) == rid
    assert h.run_id_of(model.load(_stream(False), returncode=0)) is None


def test_history_command_sets_a_corrupt_database_aside(tmp_path, monkeypatch, capsys):
    from railpack_tui.core import cli

    monkeypatch.setenv("RAILPACK_TUI_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / history.FILENAME).write_bytes(b"\x00garbage" * 1000)
    assert cli.main(["history", str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["runs"] == [] and "set aside" in data["notices"][0]
    assert "set aside" in captured.err
    assert any(f.name.startswith(history.FILENAME + ".broken-") for f in (tmp_path / "data").iterdir())


def test_history_command_takes_a_limit_bigger_than_sqlite_can_hold(tmp_path, monkeypatch, capsys):
    """`--limit 99999999999999999999` means "all of them", not an internal OverflowError."""
    from railpack_tui.core import cli

    monkeypatch.setenv("RAILPACK_TUI_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "proj").mkdir()
    p = _project(tmp_path / "proj")
    h = history.default()
    ids = [h.record({"project": p.path}, model.load(_stream(False), returncode=0), project.snapshot(p, {})) for _ in range(2)]
    assert cli.main(["history", str(tmp_path / "proj"), "--limit", "9" * 20, "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["runs"]] == ids[::-1]
    assert cli.main(["history", str(tmp_path / "proj"), "--limit", str(2**64)]) == 0
    assert f"#{ids[-1]}" in capsys.readouterr().out


def test_the_wal_starts_over_although_build_processes_never_close_the_database(tmp_path):
    """`railpack-tui build` ends with os._exit (cli.skip_teardown): its connection is never closed,
    and the next process's WAL recovery forgets what was already checkpointed. Opening the history
    checkpoints, so each commit starts the WAL over: its file does not grow with every build (it
    grew without end, and past 1,000 pages every build's commit ran SQLite's auto-checkpoint), and
    every run is still there."""
    import os
    import subprocess
    import sys

    proj = tmp_path / "proj"
    proj.mkdir()
    for i in range(40):  # a context manifest of some size in every record
        (proj / f"f{i}.txt").write_text(str(i))
    p = _project(proj)
    db = tmp_path / "h.sqlite3"
    code = (f"import os\nfrom railpack_tui.core import history, model, project\n"
            f"h = history.History.open({str(db)!r})\n"
            f"p = project.detect({p.path!r})\n"
            f"h.record({{'project': p.path}}, model.load({_stream(False)!r}, returncode=0), project.snapshot(p, {{}}))\n"
            "os._exit(0)\n")
    sizes = []
    for _ in range(12):
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        sizes.append(os.path.getsize(str(db) + "-wal"))
    assert sizes[-1] <= 2 * sizes[1], sizes
    assert len(history.History.open(db).runs(p.path, limit=100)) == 12
