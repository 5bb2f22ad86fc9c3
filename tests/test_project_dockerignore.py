""".dockerignore matching (table-driven, Docker's patternmatcher semantics), project detection and
the context snapshot."""

import os
import subprocess

import pytest

from railpack_tui.core import dockerignore, project, tools
from railpack_tui.core.errors import BadInput

# (patterns, path, excluded) -- expectations follow moby/patternmatcher v0.6.1 and its tests
CASES = [
    (["*.log"], "a.log", True),
    (["*.log"], "logs/a.log", False),            # `*` does not cross directories
    (["**/*.log"], "logs/deep/a.log", True),
    (["**/*.log"], "a.log", True),               # `**/` matches zero directories too
    (["build"], "build/out/x.o", True),          # a matching parent directory excludes the file
    (["/build"], "build/x", True),               # leading slash stripped
    (["./build/../build"], "build/x", True),     # cleaned
    (["build/"], "build/x", True),
    (["docs/**"], "docs/a/b.md", True),
    (["docs/**"], "docsx/a", False),
    (["**"], "anything/at/all", True),
    (["a?c"], "abc", True),
    (["a?c"], "a/c", False),                     # `?` is not a separator
    (["[a-c].txt"], "b.txt", True),
    (["[a-c].txt"], "d.txt", False),
    (["[^a].txt"], "a.txt", False),
    (["[^a].txt"], "b.txt", True),
    (["a\\*b"], "a*b", True),
    (["a\\*b"], "axb", False),
    (["file.(x)"], "file.(x)", True),            # regexp specials are literal
    (["*", "!keep.txt"], "keep.txt", False),
    (["*", "!keep.txt"], "other.txt", True),
    (["dir", "!dir/keep"], "dir/keep", False),
    (["dir", "!dir/keep"], "dir/keep/inner", False),
    (["dir", "!dir/keep"], "dir/drop", True),
    (["!x", "x"], "x", True),                    # the last match wins
    (["x", "!x", "x"], "x", True),
    (["**/node_modules"], "web/node_modules/pkg/index.js", True),
    (["src/**/*.tmp"], "src/a/b/c.tmp", True),
    (["src/**/*.tmp"], "src/c.tmp", True),
    (["src/*/x"], "src/a/b/x", False),
    ([".git"], ".git/HEAD", True),
    (["Dockerfile"], "sub/Dockerfile", False),
]


@pytest.mark.parametrize("patterns, path, excluded", CASES)
def test_matching(patterns, path, excluded):
    """Patterns as lines of a .dockerignore file (read, then matched)."""
    m = dockerignore.Matcher(dockerignore.read_patterns("\n".join(patterns)))
    assert m.excluded(path) is excluded


def test_read_patterns_like_docker():
    text = "\ufeff# comment\n  *.log  \n\n/abs/path\n! keep.log\n #not a comment\n"
    assert dockerignore.read_patterns(text) == ["*.log", "abs/path", "!keep.log", "#not a comment"]


@pytest.mark.parametrize("bad", ["[", "a[", "]", "!"])
def test_bad_patterns_are_bad_input(bad):
    with pytest.raises(BadInput):
        dockerignore.Matcher([bad])


def test_dockerfile_specific_ignore_file_wins(tmp_path):
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "Dockerfile.dockerignore").write_text("b\n")
    m, used = dockerignore.for_context(tmp_path, tmp_path / "Dockerfile")
    assert used.endswith("Dockerfile.dockerignore")
    assert m.excluded("b") and not m.excluded("a")


def test_detect_dockerfile_project(example_project):
    p = project.detect(example_project)
    assert p.kind == "dockerfile"
    assert p.stages == ["base", "deps", "build", "final"]
    assert p.steps[0] == "[base 1/2] COPY busybox /bin/busybox"
    assert "4 stages" in p.description


def test_a_single_unnamed_stage_is_described_without_doubled_brackets(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo hi\n")
    p = project.detect(tmp_path)
    assert p.description == "Dockerfile project: 1 stage (unnamed), 2 steps"  # was "1 stage ((single stage))"


def test_detect_railpack_app(tmp_path):
    (tmp_path / "package.json").write_text("{}")
    (tmp_path / "requirements.txt").write_text("")
    p = project.detect(tmp_path)
    assert p.kind == "railpack" and p.markers == ["package.json", "requirements.txt"]
    assert "Node.js" in p.description and "Python" in p.description


def test_detect_nothing_names_the_fix(tmp_path):
    with pytest.raises(BadInput) as e:
        project.detect(tmp_path)
    assert e.value.fix and "Dockerfile" in e.value.fix
    with pytest.raises(BadInput):
        project.detect(tmp_path / "missing")


def test_snapshot_manifest_respects_dockerignore(example_project):
    (example_project / "debug.log").write_text("noise")
    (example_project / "notes").mkdir(exist_ok=True)
    (example_project / "notes" / "n.txt").write_text("x")
    os.symlink("src/main.txt", example_project / "link")
    snap = project.snapshot(project.detect(example_project), {"APP_VERSION": "2"})
    files = snap.files
    assert "debug.log" not in files and "notes/n.txt" not in files and "README.md" not in files
    assert snap.ignored >= 3
    assert {"Dockerfile", "busybox", "requirements.txt", "src/main.txt", "link"} <= set(files)
    import hashlib
    assert files["src/main.txt"].sha256 == hashlib.sha256((example_project / "src/main.txt").read_bytes()).hexdigest()
    assert files["link"].sha256 == hashlib.sha256(b"src/main.txt").hexdigest()
    assert snap.build_args == {"APP_VERSION": "2"}
    assert snap.dockerfile_text.startswith("#")
    assert snap.git_rev is None and snap.git_dirty is None
    assert project.ProjectSnapshot.from_json(snap.to_json()) == snap


@pytest.mark.skipif(tools.find("git") is None, reason="git not installed")
def test_snapshot_git_revision_and_dirty(example_project):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(example_project), *cmd], check=True, env=env, capture_output=True)
    snap = project.snapshot(project.detect(example_project), {})
    assert len(snap.git_rev) == 40 and snap.git_dirty is False
    (example_project / "src" / "main.txt").write_text("edited\n")
    assert project.snapshot(project.detect(example_project), {}).git_dirty is True


def test_snapshot_hash_cache_is_used_for_old_files_and_not_for_fresh_ones(example_project):
    p = project.detect(example_project)
    f = example_project / "src" / "main.txt"
    size = f.stat().st_size
    old = f.stat().st_mtime_ns - 3600 * 10**9
    os.utime(f, ns=(old, old))
    first = project.snapshot(p, {}).files["src/main.txt"].sha256
    # same size, same mtime, same inode: like BuildKit's file sync, the stat says "unchanged"
    with open(f, "r+b") as fh:
        fh.write(b"X" * size)
    os.utime(f, ns=(old, old))
    assert project.snapshot(p, {}).files["src/main.txt"].sha256 == first
    # a file modified within 2 s of the cache entry is never trusted from the cache
    g = example_project / "src" / "util.txt"
    os.utime(g)  # modified just now
    before = project.snapshot(p, {}).files["src/util.txt"].sha256
    st = g.stat()
    with open(g, "r+b") as fh:
        fh.write(b"Y" * st.st_size)
    os.utime(g, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert project.snapshot(p, {}).files["src/util.txt"].sha256 != before


def test_a_dockerfile_the_parser_rejects_is_still_a_project(tmp_path):
    (tmp_path / "Dockerfile").write_text("RUN echo before any FROM\n")
    p = project.detect(tmp_path)
    assert p.kind == "dockerfile" and p.steps == [] and "could not be read ahead" in p.description
    snap = project.snapshot(p, {})
    assert snap.dockerfile_text.startswith("RUN") and snap.base_images == {}
