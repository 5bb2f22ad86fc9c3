"""BuildModel on real recorded BuildKit v0.32.2 streams: our own (tests/fixtures/recorded, made by
scripts/record-fixtures against the sandbox) and the shared ones (tests/fixtures/shared-v0.32.2).
Expectations are written from what each scenario did, not copied from the model's output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from railpack_tui.core.model import BuildModel

FIX = Path(__file__).resolve().parent / "fixtures"
REC = FIX / "recorded"
SHARED = FIX / "shared-v0.32.2"
MANIFEST = json.loads((REC / "manifest.json").read_text())

BASE1 = "[base 1/2] COPY busybox /bin/busybox"
BASE2 = '[base 2/2] RUN ["/bin/busybox", "--install", "-s", "/bin"]'
DEPS = ["[deps 1/3] WORKDIR /app", "[deps 2/3] COPY requirements.txt ./"]
DEPS3 = "[deps 3/3] RUN"
BUILD1 = "[build 1/2] COPY src/ ./src/"
BUILD2 = "[build 2/2] RUN"
FINAL = "[final 1/1] COPY --from=build /app/app.txt /app/version.txt /app/"
DEMO_ORDER = [BASE1, BASE2, *DEPS, DEPS3, BUILD1, BUILD2, FINAL]


def load(path: Path, fmt: str = "auto", with_returncode: bool = False) -> BuildModel:
    m = BuildModel(fmt)
    with path.open("rb") as fh:
        for line in fh:
            m.feed_line(line)
    rc = MANIFEST.get(path.name, {}).get("returncode") if with_returncode else None
    m.finish(rc)
    return m


def states(m: BuildModel) -> dict[str, str]:
    return {s.name: s.state for s in m.steps}


def state_of(m: BuildModel, prefix: str) -> str:
    [s] = [s for s in m.steps if s.name.startswith(prefix)]
    return s.state


def demo_states(m: BuildModel) -> list[str]:
    """States in Dockerfile order. rawjson gives build order from vertex inputs; plain progress
    has no inputs, so only the order within a stage is implied there."""
    steps = m.steps
    assert len(steps) == len(DEMO_ORDER)
    if m.format == "rawjson":
        for s, want in zip(steps, DEMO_ORDER):
            assert s.name.startswith(want), (s.name, want)
    by_prefix = [next(s for s in steps if s.name.startswith(want)) for want in DEMO_ORDER]
    return [s.state for s in by_prefix]


def test_manifest_lists_every_recorded_stream():
    files = {p.name for p in REC.iterdir() if p.name not in ("manifest.json", "README.md")}
    assert files == {k for k in MANIFEST if not k.startswith("_")}
    assert "v0.32.2" in MANIFEST["_recorded_with"]["buildctl"]


# ---------------------------------------------------------------- our recorded streams


def test_cold_build_into_an_empty_ref():
    m = load(REC / "cold-empty-ref.rawjson.jsonl")
    assert m.format == "rawjson"
    assert demo_states(m) == ["executed"] * 8
    assert m.status == "success"
    assert m.summary() | {} == m.summary()
    s = m.summary()
    assert (s["steps"], s["cached"], s["executed"], s["errors"], s["hit_ratio"]) == (8, 0, 8, 0, 0.0)
    assert m.root_misses() == [BASE1]
    [imp] = m.cache_import
    assert imp.state == "not-found" and imp.ref.endswith("/fixtures/demo:" + imp.ref.rsplit(":", 1)[1])
    assert m.import_failed and m.import_first_build
    assert [o.state for o in m.cache_export] == ["ok"]


@pytest.mark.parametrize("name", ["warm-from-registry.rawjson.jsonl", "warm-from-registry.plain.txt",
                                  "local-warm.rawjson.jsonl", "ignored-file-change.rawjson.jsonl",
                                  "mode-min-warm.rawjson.jsonl"])
def test_fully_cached_builds(name):
    m = load(REC / name)
    assert demo_states(m) == ["cached"] * 8
    assert m.summary()["hit_ratio"] == 1.0
    assert m.root_misses() == []
    assert m.status == "success"
    assert [o.state for o in m.cache_import] == ["ok"]
    assert not m.import_failed and not m.import_first_build


def test_warm_build_exports_and_pulls_nothing_it_does_not_need():
    m = load(REC / "warm-from-registry.rawjson.jsonl")
    assert [o.state for o in m.cache_export] == ["ok"]
    assert m.cache_export[0].ref is None  # export refs are not in the stream; engines pass them in


@pytest.mark.parametrize("name", ["file-change.rawjson.jsonl", "file-change.plain.txt"])
def test_file_change_breaks_the_cache_at_the_copy(name):
    m = load(REC / name)
    assert demo_states(m) == ["cached"] * 5 + ["executed"] * 3
    assert m.root_misses() == [BUILD1]
    s = m.summary()
    assert (s["cached"], s["executed"], s["hit_ratio"]) == (5, 3, 0.625)
    deps3 = next(s for s in m.steps if s.name.startswith(DEPS3))
    assert deps3.pulled_bytes > 4_000_000  # its 4 MiB layer was pulled lazily from the registry cache
    assert deps3.cache_inferred == name.endswith(".plain.txt")


def test_build_arg_change_reruns_the_stage_after_the_arg():
    m = load(REC / "build-arg-change.rawjson.jsonl")
    assert demo_states(m) == ["cached"] * 6 + ["executed"] * 2
    assert len(m.root_misses()) == 1 and m.root_misses()[0].startswith(BUILD2)
    assert 'building 2.0.0' in m.steps[6].name


def test_import_unauthorized_is_a_loud_cold_build_that_succeeds():
    m = load(REC / "import-unauthorized.rawjson.jsonl")
    assert demo_states(m) == ["executed"] * 8
    assert m.status == "success"
    [imp] = m.cache_import
    assert imp.state == "unauthorized" and "401" in imp.detail
    assert m.import_failed and not m.import_first_build


def test_import_unreachable():
    m = load(REC / "import-unreachable.rawjson.jsonl")
    [imp] = m.cache_import
    assert imp.state == "unreachable" and "connection refused" in imp.detail
    assert m.status == "success" and m.import_failed and not m.import_first_build


def test_export_unauthorized_fails_the_build():
    m = load(REC / "export-unauthorized.rawjson.jsonl")
    assert demo_states(m) == ["executed"] * 8
    assert m.status == "failed"
    assert m.error.startswith("failed to solve:") and "401 Unauthorized" in m.error
    [exp] = m.cache_export
    assert exp.state == "unauthorized"
    assert m.cache_import == [] and not m.import_reported and not m.import_failed


def test_export_unauthorized_with_ignore_error_succeeds():
    m = load(REC / "export-unauthorized-ignore-error.rawjson.jsonl")
    assert m.status == "success" and m.error is None
    assert [o.state for o in m.cache_export] == ["ignored-error"]


def test_mode_min_cold():
    m = load(REC / "mode-min-cold.rawjson.jsonl")
    assert demo_states(m) == ["executed"] * 8
    assert [o.state for o in m.cache_import] == ["not-found"]


def test_failing_step_errors_and_cancels_the_sibling_stage():
    m = load(REC / "failing-step.rawjson.jsonl")
    assert m.status == "failed"
    st = states(m)
    broken = next(n for n in st if n.startswith("[broken 1/1]"))
    slow = next(n for n in st if n.startswith("[slow 1/1]"))
    assert st[broken] == "error" and st[slow] == "cancelled"
    assert [s.state for s in m.steps if s.name.startswith("[stage-3")] == ["pending", "pending"]
    b = m.step_by_name(broken)
    assert "exit code: 3" in b.error
    assert set(b.logs.lines()) == {"about to fail", "something went wrong"}
    s = m.summary()
    assert s["errors"] == 1 and s["cancelled"] == 1 and s["pending"] == 2
    assert s["steps"] == s["cached"] + s["executed"] + s["errors"] + s["cancelled"] + s["pending"] + s["running"]
    assert "exit code: 3" in m.error
    assert any(">>> RUN" in line for line in m.output)  # the Dockerfile excerpt is kept


def test_cancelled_build():
    m = load(REC / "cancelled.rawjson.jsonl")
    assert m.status == "cancelled"
    assert [s.state for s in m.steps] == ["cached", "cached", "cancelled"]
    assert m.steps[2].logs.lines() == ["working"]


def test_cancelled_with_returncode_and_flag():
    m = load(REC / "cancelled.rawjson.jsonl", with_returncode=True)
    assert m.returncode == 1 and m.status == "cancelled"  # the error text says Canceled


def test_copy_link_cold_counts_instructions_not_link_vertexes():
    m = load(REC / "copy-link-cold.rawjson.jsonl")
    assert len(m.steps) == 7
    assert [b.kind for b in m.bookkeeping if "LINK" in b.name] == ["link", "link"]
    assert [o.state for o in m.cache_import] == ["not-found"]


def test_step_downstream_of_an_executed_step_can_be_cached():
    """Reordering src/list.txt re-runs the sort but produces the same bytes: the content-addressed
    COPY --link --from=build and the RUN after it stay cached. Only one root miss."""
    m = load(REC / "copy-link-reordered.rawjson.jsonl")
    st = states(m)
    assert st["[build 1/2] COPY src/ /src/"] == "executed"
    assert next(v for k, v in st.items() if k.startswith("[build 2/2] RUN sort")) == "executed"
    assert st["[stage-2 1/3] COPY --link --from=build /sorted.txt /app/sorted.txt"] == "cached"
    assert next(v for k, v in st.items() if k.startswith("[stage-2 3/3] RUN cat")) == "cached"
    assert m.root_misses() == ["[build 1/2] COPY src/ /src/"]
    assert m.summary()["cached"] == 5 and m.summary()["executed"] == 2


@pytest.mark.parametrize("name", ["log-heavy.rawjson.jsonl", "log-heavy.plain.txt"])
def test_log_heavy_build_keeps_head_and_tail(name):
    m = load(REC / name)
    chatty, stderr_step = m.steps[2], m.steps[3]
    assert chatty.state == stderr_step.state == "executed"
    buf = chatty.logs
    assert buf.total_lines > 2000
    assert len(buf.head) == 50 and len(buf.tail) == 1000
    assert buf.dropped == buf.total_lines - 1050
    lines = buf.lines()
    assert lines[0].startswith("line 0: compiling module_0.c")
    assert lines[50] == f"… {buf.dropped} lines not kept …"
    assert "log limit" in lines[-1]  # BuildKit's own clipping notice
    tail = stderr_step.logs.lines()
    assert tail[-3] == "bad bytes: \ufffd\ufffd"
    assert tail[-2].startswith("x" * 16384) and tail[-2].endswith("[line cut]")
    assert tail[-1] == "no final newline"
    assert sum(1 for t in tail if t.startswith("warning ")) == 500


def test_recorded_pairs_agree_between_rawjson_and_plain():
    for stem in ("warm-from-registry", "file-change", "log-heavy"):
        raw = load(REC / f"{stem}.rawjson.jsonl")
        plain = load(REC / f"{stem}.plain.txt")
        assert plain.format == "plain" and raw.format == "rawjson"
        assert sorted((s.name, s.state) for s in raw.steps) == sorted((s.name, s.state) for s in plain.steps), stem
        assert raw.root_misses() == plain.root_misses(), stem
        assert [o.state for o in raw.cache_import] == [o.state for o in plain.cache_import]


def test_build_order_puts_inputs_first():
    m = load(REC / "copy-link-reordered.rawjson.jsonl")
    pos = {s.id: i for i, s in enumerate(m.vertexes)}
    for v in m.vertexes:
        for i in v.inputs:
            if i in pos:
                assert pos[i] < pos[v.id]


def test_manifest_return_codes_match_the_status():
    for name, meta in MANIFEST.items():
        if name.startswith("_"):
            continue
        m = load(REC / name)
        want = "success" if meta["returncode"] == 0 else ("cancelled" if meta["interrupted"] else "failed")
        assert m.status == want, name
        m2 = load(REC / name, with_returncode=True)
        assert m2.status == want, name


def test_platform_prefixed_step_names():
    m = load(REC / "multi-platform.rawjson.jsonl")
    assert [(s.platform, s.stage, s.index, s.total) for s in m.steps] == [("linux/amd64", None, 1, 2),
                                                                         ("linux/amd64", None, 2, 2)]
    assert [s.state for s in m.steps] == ["cached", "executed"]
    assert m.root_misses() == ["[linux/amd64 2/2] COPY hello.txt /hello.txt"]


def test_buildx_streams_with_their_non_json_lines():
    cold = load(REC / "buildx-cold.rawjson.jsonl")
    assert cold.format == "rawjson" and cold.status == "success" and cold.error is None
    assert cold.output[0].startswith("WARNING: No output specified with remote driver")
    assert [o.state for o in cold.cache_import] == ["not-found"] and [o.state for o in cold.cache_export] == ["ok"]
    assert cold.summary()["executed"] >= 6
    warm = load(REC / "buildx-warm.rawjson.jsonl")
    assert demo_states(warm) == ["cached"] * 8
    assert [o.state for o in warm.cache_import] == ["ok"]


# ---------------------------------------------------------------- shared streams

SHARED_STEPS = ["[base 1/2]", "[base 2/2]", "[deps 1/2]", "[deps 2/2]", "[build 1/2]", "[build 2/2]"]


@pytest.mark.parametrize("name, want_states, status, imp, exp, roots", [
    ("01-cold-empty-cache.rawjson.jsonl", ["executed"] * 6, "success", ["not-found"], ["ok"], ["[base 1/2]"]),
    ("02-warm-from-registry.rawjson.jsonl", ["cached"] * 6, "success", ["ok"], ["ok"], []),
    ("03-src-changed.rawjson.jsonl", ["cached"] * 4 + ["executed"] * 2, "success", ["ok"], ["ok"], ["[build 1/2]"]),
    ("04-import-unauthorized.rawjson.jsonl", ["executed"] * 6, "success", ["unauthorized"], [], ["[base 1/2]"]),
    ("05-export-unauthorized.rawjson.jsonl", ["executed"] * 6, "failed", [], ["unauthorized"], ["[base 1/2]"]),
    ("06-src-changed.plain.txt", ["cached"] * 4 + ["executed"] * 2, "success", ["ok"], ["ok"], ["[build 1/2]"]),
    ("07-local-warm.plain.txt", ["cached"] * 6, "success", ["ok"], ["ok"], []),
])
def test_shared_fixtures(name, want_states, status, imp, exp, roots):
    m = load(SHARED / name)
    assert [s.name.split("]")[0] + "]" for s in m.steps] == SHARED_STEPS
    assert [s.state for s in m.steps] == want_states
    assert m.status == status
    assert [o.state for o in m.cache_import] == imp
    assert [o.state for o in m.cache_export] == exp
    assert [r.split("]")[0] + "]" for r in m.root_misses()] == roots
    s = m.summary()
    assert s["steps"] == 6 and s["cached"] + s["executed"] == 6
    assert s["hit_ratio"] == round(want_states.count("cached") / 6, 3)


def test_shared_lazy_pull_keeps_cached_after_the_flag_disappears():
    """03: `[deps 2/2] RUN` is reported cached once, then re-opened several times without the flag
    while its layers are pulled from the registry cache; it stays cached, with the pulled bytes."""
    lines = (SHARED / "03-src-changed.rawjson.jsonl").read_text().splitlines()
    deps2 = [json.loads(x) for x in lines if x.startswith("{") and "[deps 2/2]" in x and '"vertexes"' in x]
    flags = [v.get("cached", False) for msg in deps2 for v in msg["vertexes"] if v["name"].startswith("[deps 2/2]")]
    assert True in flags and flags[-1] is False  # the stream really drops the flag
    m = load(SHARED / "03-src-changed.rawjson.jsonl")
    s = m.steps[3]
    assert s.state == "cached" and s.cached_reported
    assert s.pulled_bytes == 151 + 1079940 + 3521 + 8390481


def test_shared_rawjson_and_plain_agree():
    raw = load(SHARED / "03-src-changed.rawjson.jsonl")
    plain = load(SHARED / "06-src-changed.plain.txt")
    assert [(s.name, s.state) for s in raw.steps] == [(s.name, s.state) for s in plain.steps]
    assert raw.root_misses() == plain.root_misses()
    # plain prints sizes rounded to 3 significant digits
    assert abs(raw.steps[3].pulled_bytes - plain.steps[3].pulled_bytes) < 0.01 * raw.steps[3].pulled_bytes
    assert plain.steps[3].cache_inferred and not raw.steps[3].cache_inferred


def test_shared_export_failure_keeps_error_text():
    m = load(SHARED / "05-export-unauthorized.rawjson.jsonl")
    assert m.error.startswith("failed to solve: error writing layer blob")
    assert m.output[-1].startswith("error: failed to solve")


@pytest.mark.parametrize("path", sorted([p for p in REC.iterdir() if p.suffix not in (".json", ".md")]
                                        + [p for p in SHARED.iterdir() if p.is_file() and p.suffix != ".md"]),
                         ids=lambda p: p.name)
def test_every_fixture_report_is_contract_shaped(path):
    m = load(path)
    r = json.loads(json.dumps(m.to_report()))
    assert r["status"] in ("success", "failed", "cancelled", "incomplete")
    for s in r["steps"]:
        assert set(s) >= {"name", "stage", "index", "total", "state", "duration_s", "pulled_bytes", "error", "miss"}
        assert s["state"] in ("cached", "executed", "error", "cancelled", "pending")
    assert set(r["summary"]) >= {"steps", "cached", "executed", "errors", "hit_ratio"}
    assert all(o["state"] in ("ok", "not-found", "unauthorized", "unreachable", "error") for o in r["cache_import"])
    assert all(o["state"] in ("ok", "unauthorized", "unreachable", "error", "ignored-error") for o in r["cache_export"])
    assert all(not n.startswith(("[internal]", "[auth]", "importing cache", "exporting")) for n in
               (s["name"] for s in r["steps"]))
    assert set(r["root_misses"]) <= {s["name"] for s in r["steps"] if s["state"] == "executed"}
