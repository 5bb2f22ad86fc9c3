"""`railpack-tui demo`: prune, cold build (no import, export mode=max), prune, warm build
(import): on the real sandbox. Then `railpack-tui history` on the same project reads both runs back
(the same two builds, so the suite stays fast)."""

import json

import pytest

from railpack_tui.core import cli
from support.busybox import copy_unique_busybox

pytestmark = pytest.mark.sandbox

DOCKERFILE = """\
FROM scratch AS base
COPY --chmod=755 busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
FROM base
COPY app.txt /app.txt
RUN ["/bin/busybox", "sh", "-c", "sleep 1; cat /app.txt > /out.txt"]
"""


@pytest.fixture()
def small(tmp_path):
    d = tmp_path / "small"
    d.mkdir()
    (d / "Dockerfile").write_text(DOCKERFILE)
    (d / "app.txt").write_text("hello\n")
    copy_unique_busybox(d / "busybox")  # its cold build must not find another test's steps
    return d


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    return code, out


def test_demo_cold_then_warm_side_by_side(sandbox, sandbox_credential, small, unique_ref, capsys):
    code, out = _cli(capsys, "demo", str(small), "--cache-ref", unique_ref, "--builder", sandbox.buildkit_host, "--json")
    assert code == 0, out
    data = json.loads(out)
    cold, warm = data["cold"], data["warm"]
    assert cold["status"] == warm["status"] == "success"
    assert cold["cached"] == 0 and cold["executed"] == cold["steps"] == 4  # pruned, nothing imported
    assert warm["cached"] == warm["steps"] == 4 and warm["hit_ratio"] == 1.0  # only the registry cache was left
    assert [o["state"] for o in cold["cache_export"]] == ["ok"] and cold["cache_import"] == []
    assert [o["state"] for o in warm["cache_import"]] == ["ok"] and warm["cache_export"] == []
    assert data["time_saved_s"] == round(cold["duration_s"] - warm["duration_s"], 3)
    assert len(data["pruned"]) == 2
    rows = {s["name"]: s for s in data["steps"]}
    run = rows['[stage-1 2/2] RUN ["/bin/busybox", "sh", "-c", "sleep 1; cat /app.txt > /out.txt"]']
    assert run["cold"]["state"] == "executed" and run["warm"]["state"] == "cached"
    assert run["cold"]["duration_s"] >= 1.0  # the step sleeps one second when it runs

    # history of the same project: both demo builds, newest first, the cold one explained
    code, out = _cli(capsys, "history", str(small), "--json")
    assert code == 0
    runs = json.loads(out)["runs"]
    assert [str(r["id"]) for r in runs] == [str(warm["run_id"]), str(cold["run_id"])]
    newest, oldest = runs
    assert newest["no_export"] and not newest["no_import"] and oldest["no_import"]
    assert all(s["state"] == "cached" and s["miss"] is None for s in newest["steps"])
    kinds = {s["name"]: (s["miss"] or {}).get("kind") for s in oldest["steps"]}
    assert set(kinds.values()) <= {"first-build", "parent-missed", "cache-unavailable"}
    assert "first-build" in kinds.values() or "cache-unavailable" in kinds.values()

    code, text = _cli(capsys, "history", str(small))
    assert code == 0 and f"#{newest['id']}" in text and "every step cached" in text


def test_demo_rejects_a_bad_cache_ref(small, capsys):
    code, out = _cli(capsys, "demo", str(small), "--cache-ref", "UPPER/Case::bad", "--json")
    assert code == 2
    assert json.loads(out)["ok"] is False


def test_demo_text_report_when_the_cold_build_fails(sandbox, sandbox_credential, small, unique_ref, capsys):
    """A failed cold build: exit 1 and the build's own error in the text report (the JSON carries
    the error as a string; the text renderer once read it as a dict and crashed as `internal`)."""
    (small / "Dockerfile").write_text("FROM scratch\nCOPY not-in-the-context.txt /x\n")
    code, out = _cli(capsys, "demo", str(small), "--cache-ref", unique_ref, "--builder", sandbox.buildkit_host)
    assert code == 1, out
    assert "internal error" not in out
    assert "warm: not run (the cold build failed)" in out
    error_lines = [ln for ln in out.splitlines() if ln.startswith("cold build error: ")]
    assert len(error_lines) == 1 and "not-in-the-context.txt" in error_lines[0], out


def test_demo_with_an_unknown_buildx_builder_says_so_before_pruning(small, capsys):
    """It failed in the prune instead: 'pruning the cache of buildx:nosuch failed ... Fix: check
    that the builder is reachable (railpack-tui sandbox status)'."""
    from railpack_tui.core import tools

    if tools.find("docker") is None:
        pytest.skip("docker (with buildx) is not installed")
    code, out = _cli(capsys, "demo", str(small), "--cache-ref", "127.0.0.1:1/x:y", "--builder", "no-such-builder-here",
                     "--json")
    assert code == 3, out
    error = json.loads(out)["error"]
    assert "no buildx builder named 'no-such-builder-here'" in error["message"] and "prun" not in error["message"]
    assert "docker buildx ls" in error["message"]
