"""The cache report: the readable table and `railpack-tui report` (exit codes, JSON, errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from railpack_tui.core.report import cold_line, human_bytes, load_file, render_table

FIX = Path(__file__).resolve().parent / "fixtures"
REC = FIX / "recorded"
SHARED = FIX / "shared-v0.32.2"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "railpack_tui.core", "report", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))


def test_table_has_a_row_per_step_then_the_summary():
    text = render_table(load_file(REC / "file-change.rawjson.jsonl").to_report())
    lines = text.splitlines()
    assert lines[0].split() == ["STATE", "TIME", "BYTES", "NAME"]
    rows = lines[1:9]
    assert [r.split()[0] for r in rows] == ["CACHED"] * 5 + ["RAN"] * 3
    assert "5.3 MB" in rows[4] and rows[4].rstrip().split("  ")[-1].startswith("[deps 3/3] RUN")
    summary = next(x for x in lines if x.startswith("8 steps:"))
    assert "5 cached, 3 executed, 0 errors" in summary and "hit ratio 63%" in summary  # 5/8, halves rounded up as the dashboard does
    assert "import: ok " in summary and "export: none" in summary
    assert "cache broke at: [build 1/2] COPY src/ ./src/" in lines
    assert lines[-1] == "build: success"
    assert "COLD BUILD" not in text


def test_loud_line_for_a_failed_import_and_a_distinct_one_for_a_first_build():
    unauthorized = load_file(REC / "import-unauthorized.rawjson.jsonl").to_report()
    line = cold_line(unauthorized)
    assert line.startswith("!!! COLD BUILD") and "unauthorized" in line and "401" in line
    assert line in render_table(unauthorized).splitlines()
    first = load_file(REC / "cold-empty-ref.rawjson.jsonl").to_report()
    line = cold_line(first)
    assert line.startswith("COLD BUILD: no cache at") and "first build" in line and "!!!" not in line
    assert cold_line(load_file(REC / "warm-from-registry.rawjson.jsonl").to_report()) is None


def test_table_marks_inferred_cache_in_plain_progress():
    text = render_table(load_file(SHARED / "06-src-changed.plain.txt").to_report())
    assert any(x.startswith("CACHED*") for x in text.splitlines())
    assert "* plain progress: pulled from the registry cache" in text


def test_failed_build_shows_the_step_error_and_the_build_error():
    text = render_table(load_file(REC / "failing-step.rawjson.jsonl").to_report())
    assert any(x.startswith("ERROR") and "[broken 1/1]" in x for x in text.splitlines())
    assert any(x.startswith("CANCELLED") and "[slow 1/1]" in x for x in text.splitlines())
    assert "  error in [broken 1/1]" in text
    assert text.splitlines()[-1].startswith("build: failed: failed to solve:")


def test_human_bytes():
    assert human_bytes(0) == "-" and human_bytes(999) == "999 B" and human_bytes(9_474_093) == "9.5 MB"


@pytest.mark.parametrize("name, code", [
    ("recorded/warm-from-registry.rawjson.jsonl", 0),
    ("recorded/import-unauthorized.rawjson.jsonl", 0),  # a cold build that succeeded
    ("recorded/export-unauthorized.rawjson.jsonl", 1),
    ("recorded/failing-step.rawjson.jsonl", 1),
    ("recorded/cancelled.rawjson.jsonl", 1),
    ("shared-v0.32.2/06-src-changed.plain.txt", 0),
])
def test_cli_exit_codes_follow_the_build(name, code):
    out = cli(str(FIX / name))
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert "hit ratio" in out.stdout
    js = cli(str(FIX / name), "--json")
    assert js.returncode == code
    report = json.loads(js.stdout)
    assert report["status"] == ("success" if code == 0 else report["status"])
    assert set(report) >= {"status", "steps", "summary", "root_misses", "cache_import", "cache_export"}


def test_cli_json_matches_the_model():
    js = json.loads(cli(str(REC / "copy-link-reordered.rawjson.jsonl"), "--json").stdout)
    assert js["summary"]["steps"] == 7 and js["summary"]["cached"] == 5 and js["summary"]["hit_ratio"] == 0.714
    assert js["root_misses"] == ["[build 1/2] COPY src/ /src/"]
    assert js["cache_import"][0]["state"] == "ok" and js["cache_export"] == []


def test_cli_format_flag():
    out = cli(str(SHARED / "07-local-warm.plain.txt"), "--format", "plain", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["summary"]["cached"] == 6
    wrong = cli(str(SHARED / "07-local-warm.plain.txt"), "--format", "rawjson", "--json")
    assert wrong.returncode == 2 and json.loads(wrong.stdout)["error"]["kind"] == "not-progress"


def test_cli_missing_unreadable_and_not_progress(tmp_path):
    missing = cli(str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    js = cli(str(tmp_path / "nope.jsonl"), "--json")
    assert js.returncode == 2
    assert json.loads(js.stdout) == {"ok": False, "error": {"kind": "missing-file", "message": json.loads(js.stdout)["error"]["message"]}}
    assert cli(str(tmp_path)).returncode == 2  # a directory
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(4096))
    out = cli(str(junk), "--json")
    assert out.returncode == 2 and json.loads(out.stdout)["ok"] is False and "Traceback" not in out.stderr
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.jsonl"
        locked.write_text("{}")
        locked.chmod(0)
        assert cli(str(locked)).returncode == 2


def test_cli_truncated_stream_is_incomplete(tmp_path):
    lines = (REC / "file-change.rawjson.jsonl").read_text().splitlines()
    cut = tmp_path / "cut.jsonl"
    # stop right after the build stage's RUN started
    idx = next(i for i, x in enumerate(lines) if "[build 2/2]" in x and '"started"' in x and '"completed"' not in x)
    cut.write_text("\n".join(lines[: idx + 1]) + "\n" + lines[idx + 1][:37])
    out = cli(str(cut), "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["status"] == "incomplete"


def test_cli_bad_flag_is_exit_2():
    out = cli(str(REC / "local-warm.rawjson.jsonl"), "--format", "tty", "--json")
    assert out.returncode == 2 and json.loads(out.stdout)["ok"] is False


def test_table_says_why_each_executed_step_ran():
    from railpack_tui.core.report import render_table

    report = {"status": "success", "summary": {"steps": 2, "cached": 1, "executed": 1, "errors": 0, "hit_ratio": 0.5},
              "root_misses": ["[b 1/1] COPY src/ /src/"], "cache_import": [], "cache_export": [],
              "steps": [{"name": "[a 1/1] RUN true", "state": "cached", "duration_s": None, "pulled_bytes": 0, "miss": None},
                        {"name": "[b 1/1] COPY src/ /src/", "state": "executed", "duration_s": 0.1, "pulled_bytes": 0,
                         "miss": {"kind": "files-changed", "detail": "files under src/ changed (1 modified): src/a.txt",
                                  "files": ["src/a.txt"]}}]}
    text = render_table(report)
    assert "why each step ran:" in text
    assert "[b 1/1] COPY src/ /src/: files-changed: files under src/ changed (1 modified): src/a.txt" in text
    assert "[a 1/1] RUN true:" not in text


def test_table_counts_the_steps_that_ran_because_an_earlier_one_did():
    """A cold build listed every later step with the same 'parent-missed: ... the cache broke at X'
    line (29 of them for 30 steps); `history` already counts them."""
    from railpack_tui.core.report import render_table

    root = {"kind": "first-build", "detail": "the first recorded build of this project", "files": []}
    follow = {"kind": "parent-missed", "detail": "an earlier step it depends on executed", "files": []}
    steps = [{"name": f"[s {i}/3] RUN step{i}", "state": "executed", "duration_s": 0.1, "pulled_bytes": 0,
              "miss": root if i == 1 else follow} for i in (1, 2, 3)]
    text = render_table({"status": "success", "summary": {"steps": 3, "cached": 0, "executed": 3, "errors": 0, "hit_ratio": 0.0},
                         "root_misses": ["[s 1/3] RUN step1"], "cache_import": [], "cache_export": [], "steps": steps})
    assert "[s 1/3] RUN step1: first-build: the first recorded build of this project" in text
    assert "[s 2/3] RUN step2: parent-missed" not in text and "[s 3/3] RUN step3: parent-missed" not in text
    assert "+ 2 later steps re-ran because an earlier step did (parent-missed)" in text
