"""Why did it miss? Real builds on the sandbox (real buildkitd + registry), one scenario per kind:
each builds a copy of a small project, changes one thing, builds again through the runner (which
snapshots, records history and explains), and checks the kind and its evidence. Where the
sandbox's cache debug database can confirm the kind from the real cache keys, that is checked too.

Every project carries a token of its own so builds never share cache keys across tests, and busybox
is copied with --chmod=755 (unlike the bundled example) so these builds leave nothing in the builder's cache
that the example's own steps could hit in later tests."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from railpack_tui.core import dockerconfig, example, runner, tools

pytestmark = pytest.mark.sandbox

DOCKERFILE = """\
FROM scratch AS base
COPY --chmod=755 busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]

FROM base AS app
ARG FLAVOR=plain
ARG UNUSED=a
WORKDIR /app
COPY src/ ./src/
RUN cat src/*.txt > out.txt
RUN echo "$FLAVOR" > flavor.txt
"""
BASE_COPY = "[base 1/2] COPY --chmod=755 busybox /bin/busybox"
COPY_SRC = "[app 2/4] COPY src/ ./src/"
RUN_CAT = "[app 3/4] RUN cat src/*.txt > out.txt"


@pytest.fixture()
def proj(tmp_path):
    d = tmp_path / "proj"
    (d / "src").mkdir(parents=True)
    (d / "Dockerfile").write_text(DOCKERFILE)
    (d / ".dockerignore").write_text("*.log\nsrc/ignored/\n")
    (d / "src" / "a.txt").write_text("alpha\n")
    (d / "src" / "token.txt").write_text(uuid.uuid4().hex + "\n")
    subprocess.run(["cp", str(example.find_busybox()), str(d / "busybox")], check=True)
    return d


def build(sandbox, path, **kw):
    kw.setdefault("builder", sandbox.buildkit_host)
    result = runner.run_build(runner.BuildRequest(path=str(path), **kw))
    assert result.status == "success", (result.error, result.output_tail)
    return {s.name: s for s in result.model.steps}


def prune(sandbox):
    r = subprocess.run([tools.require("buildctl", "tests"), "--addr", sandbox.buildkit_host, "prune", "--all"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def executed(steps):
    return {n: s.miss for n, s in steps.items() if s.state == "executed"}


def test_first_build_then_ignored_change_keeps_every_step_cached(sandbox, proj):
    steps = build(sandbox, proj)
    misses = executed(steps)
    assert COPY_SRC in misses and RUN_CAT in misses  # the token file is new to the builder
    roots = [n for n, m in misses.items() if m["kind"] != "parent-missed"]
    assert roots and all(misses[n]["kind"] == "first-build" for n in roots)  # COPY src/, or base steps after a prune
    assert misses[RUN_CAT]["kind"] == "parent-missed" and misses[RUN_CAT]["root"] in roots
    for s in steps.values():
        assert (s.miss is None) == (s.state == "cached")
    # files .dockerignore excludes change: BuildKit never sees them, nothing misses
    (proj / "src" / "ignored").mkdir()
    (proj / "src" / "ignored" / "x.txt").write_text(uuid.uuid4().hex)
    (proj / "debug.log").write_text(uuid.uuid4().hex)
    again = build(sandbox, proj)
    assert {n: s.state for n, s in again.items()} == dict.fromkeys(steps, "cached")
    assert all(s.miss is None for s in again.values())


def test_files_changed_lists_the_file_and_descendants_point_at_it(sandbox, proj):
    build(sandbox, proj)
    (proj / "src" / "a.txt").write_text("alpha, edited " + uuid.uuid4().hex + "\n")
    misses = executed(build(sandbox, proj))
    m = misses[COPY_SRC]
    assert m["kind"] == "files-changed"
    assert m["files"] == ["src/a.txt"] and m["modified"] == ["src/a.txt"] and m["added"] == m["removed"] == []
    assert "src/a.txt" in m["detail"]
    assert m["cache_debug"]["confirmed"] is True, m["cache_debug"]
    assert "differ exactly in: src/a.txt" in m["cache_debug"]["evidence"]
    assert misses[RUN_CAT]["kind"] == "parent-missed" and misses[RUN_CAT]["root"] == COPY_SRC
    assert set(misses) == {COPY_SRC, RUN_CAT, "[app 4/4] RUN echo \"plain\" > flavor.txt"}


def test_added_and_removed_files(sandbox, proj):
    build(sandbox, proj)
    (proj / "src" / "a.txt").unlink()
    (proj / "src" / "new.txt").write_text("new\n")
    m = executed(build(sandbox, proj))[COPY_SRC]
    assert m["kind"] == "files-changed"
    assert (m["added"], m["removed"], m["modified"]) == (["src/new.txt"], ["src/a.txt"], [])
    assert m["cache_debug"]["confirmed"] is True, m["cache_debug"]
    assert "src/new.txt added" in m["cache_debug"]["evidence"] and "src/a.txt removed" in m["cache_debug"]["evidence"]


def test_command_changed_gives_a_diff(sandbox, proj):
    build(sandbox, proj)
    (proj / "Dockerfile").write_text(DOCKERFILE.replace("> out.txt", "> out2.txt"))
    misses = executed(build(sandbox, proj))
    m = misses["[app 3/4] RUN cat src/*.txt > out2.txt"]
    assert m["kind"] == "command-changed"
    assert "-RUN cat src/*.txt > out.txt" in m["diff"] and "+RUN cat src/*.txt > out2.txt" in m["diff"]
    assert m["cache_debug"]["confirmed"] is True
    assert COPY_SRC not in misses


def test_removed_step_before_gives_another_parent(sandbox, proj):
    build(sandbox, proj)
    (proj / "Dockerfile").write_text(DOCKERFILE.replace("RUN cat src/*.txt > out.txt\n", ""))
    misses = executed(build(sandbox, proj))
    m = misses['[app 3/3] RUN echo "plain" > flavor.txt']  # renamed (was 4/4): matched by its text
    assert m["kind"] == "command-changed" and "another parent" in m["detail"]
    assert "-RUN cat src/*.txt > out.txt" in m["diff"]
    assert set(misses) == {'[app 3/3] RUN echo "plain" > flavor.txt'}


def test_unused_build_arg_busts_later_runs(sandbox, proj):
    build(sandbox, proj, build_args={"UNUSED": "one"})
    misses = executed(build(sandbox, proj, build_args={"UNUSED": "two"}))
    m = misses[RUN_CAT]  # does not use UNUSED, same name, still missed
    assert m["kind"] == "build-arg-changed" and m["args"] == ["UNUSED"]
    assert "'one' -> 'two'" in m["detail"] and "used or not" in m["detail"]
    assert m["cache_debug"]["confirmed"] is True, m["cache_debug"]
    assert "UNUSED" in m["cache_debug"]["evidence"]
    assert misses['[app 4/4] RUN echo "plain" > flavor.txt']["kind"] == "parent-missed"
    assert COPY_SRC not in misses  # COPY keys carry no env


def test_no_cache_is_reported_as_asked(sandbox, proj):
    build(sandbox, proj)
    steps = build(sandbox, proj, no_cache=True)
    misses = executed(steps)
    assert misses and all(m["kind"] == "no-cache" for m in misses.values())


def test_cache_unavailable_after_prune_without_registry_cache(sandbox, proj):
    build(sandbox, proj)
    prune(sandbox)
    misses = executed(build(sandbox, proj))
    root = misses[BASE_COPY]
    assert root["kind"] == "cache-unavailable" and root["reason"] == "evicted"
    assert "no registry cache is configured" in root["detail"]
    assert misses[COPY_SRC]["kind"] == "parent-missed"


def test_cache_unavailable_names_an_empty_ref(sandbox, sandbox_credential, proj, unique_ref):
    build(sandbox, proj)
    prune(sandbox)
    misses = executed(build(sandbox, proj, cache_ref=unique_ref))  # nothing was ever exported there
    root = misses[BASE_COPY]
    assert root["kind"] == "cache-unavailable" and root["reason"] == "ref-empty", root
    assert unique_ref in root["detail"] and "empty" in root["detail"]


def test_cache_unavailable_names_a_failed_import(sandbox, proj):
    build(sandbox, proj)
    prune(sandbox)
    ref = "127.0.0.1:9/nothing/listens:here"  # the discard port: connection refused
    misses = executed(build(sandbox, proj, cache_ref=ref, no_export=True))
    root = misses[BASE_COPY]
    assert root["kind"] == "cache-unavailable" and root["reason"] == "import-failed", root
    assert "unreachable" in root["detail"] and ref in root["detail"]


def test_cache_unavailable_names_the_build_that_overwrote_the_ref(sandbox, sandbox_credential, proj, tmp_path, unique_ref):
    """Two projects sharing one cache ref: the second export replaces the first project's cache."""
    build(sandbox, proj, cache_ref=unique_ref)
    other = tmp_path / "other"
    shutil.copytree(proj, other)
    (other / "src" / "token.txt").write_text(uuid.uuid4().hex)
    build(sandbox, other, cache_ref=unique_ref)
    prune(sandbox)
    misses = executed(build(sandbox, proj, cache_ref=unique_ref))
    root = misses[COPY_SRC]
    assert root["kind"] == "cache-unavailable" and root["reason"] == "ref-overwritten", root
    assert str(other) in root["detail"]


MIN_DOCKERFILE = """\
FROM scratch AS base
COPY --chmod=755 busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]

FROM base AS build
COPY src/ /src/
RUN cat /src/*.txt > /out.txt

FROM base AS final
COPY marker.txt /marker.txt
COPY --from=build /out.txt /out.txt
"""


def test_cache_unavailable_names_mode_min(sandbox, sandbox_credential, proj, unique_ref):
    """mode=min exports only the final image's layers: the `build` stage is not in the cache. Once
    a change in the final stage needs the build stage's result again, its steps run although nothing
    of theirs changed."""
    (proj / "Dockerfile").write_text(MIN_DOCKERFILE)
    (proj / "marker.txt").write_text("one\n")
    build(sandbox, proj, cache_ref=unique_ref, mode="min")
    prune(sandbox)
    (proj / "marker.txt").write_text("two " + uuid.uuid4().hex)
    misses = executed(build(sandbox, proj, cache_ref=unique_ref, mode="min"))
    assert misses["[final 1/2] COPY marker.txt /marker.txt"]["kind"] == "files-changed"
    root = misses["[build 1/2] COPY src/ /src/"]
    assert root["kind"] == "cache-unavailable" and root["reason"] == "mode-min", root
    assert "mode=min" in root["detail"] and unique_ref in root["detail"]
    assert misses["[build 2/2] RUN cat /src/*.txt > /out.txt"]["kind"] == "parent-missed"


def _push_base(sandbox, cred, ref, content, tmp):
    d = tmp / f"base-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    (d / "Dockerfile").write_text("FROM scratch\nCOPY --chmod=755 busybox /bin/busybox\nCOPY marker /marker\n")
    subprocess.run(["cp", str(example.find_busybox()), str(d / "busybox")], check=True)
    (d / "marker").write_text(content)
    with dockerconfig.temporary([cred]) as cfg:
        r = subprocess.run([tools.require("buildctl", "tests"), "--addr", sandbox.buildkit_host, "build",
                            "--frontend", "dockerfile.v0", "--local", f"context={d}", "--local", f"dockerfile={d}",
                            "--output", f"type=image,name={ref},push=true"],
                           env={"DOCKER_CONFIG": str(cfg), "PATH": "/usr/bin:/bin:/usr/local/bin"},
                           capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_base_image_changed(sandbox, sandbox_credential, tmp_path, unique_ref):
    base = unique_ref.rsplit(":", 1)[0] + "-base:1"
    _push_base(sandbox, sandbox_credential, base, "v1 " + uuid.uuid4().hex, tmp_path)
    d = tmp_path / "app"
    d.mkdir()
    (d / "Dockerfile").write_text(f"FROM {base}\nRUN [\"/bin/busybox\", \"cp\", \"/marker\", \"/copy\"]\n")
    first = build(sandbox, d, cache_ref=unique_ref)
    build(sandbox, d, cache_ref=unique_ref)
    _push_base(sandbox, sandbox_credential, base, "v2 " + uuid.uuid4().hex, tmp_path)
    third = build(sandbox, d, cache_ref=unique_ref)
    (from_old,) = [n for n in first if " FROM " in n]
    (from_new,) = [n for n in third if " FROM " in n]
    assert from_old != from_new and "@sha256:" in from_new
    m = third[from_new].miss
    assert third[from_new].state == "executed" and m["kind"] == "base-image-changed"
    assert m["old"] == from_old.split(" FROM ", 1)[1] and m["new"] == from_new.split(" FROM ", 1)[1]
    assert m["cache_debug"]["confirmed"] is True, m["cache_debug"]
    run = [s for n, s in third.items() if " RUN " in n][0]
    assert run.miss["kind"] == "parent-missed" and run.miss["root"] == from_new
