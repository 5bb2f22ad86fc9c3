"""The Dockerfile parser: structure, ARG scope, COPY sources and the step names BuildKit prints
(checked against names recorded from BuildKit v0.32.2)."""

import json
from pathlib import Path

import pytest

from railpack_tui.core import dockerfile
from railpack_tui.core.errors import BadInput

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "shared-v0.32.2"
RECORDED = REPO / "tests" / "fixtures" / "recorded"
PROJECTS = REPO / "tests" / "fixtures" / "projects"


def _recorded_names(stream: Path) -> list[str]:
    names = []
    for line in stream.read_text().splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        for v in msg.get("vertexes") or []:
            n = v.get("name", "")
            if n.startswith("[") and not n.startswith(("[internal]", "[auth]")) and n not in names:
                names.append(n)
    return names


def test_step_names_match_a_recorded_buildkit_stream():
    df = dockerfile.load(FIXTURES / "sample-project" / "Dockerfile")
    expected = _recorded_names(FIXTURES / "01-cold-empty-cache.rawjson.jsonl")
    assert sorted(s.name for s in df.steps()) == sorted(expected)


@pytest.mark.parametrize("stream, dockerfile_path, build_args", [
    ("copy-link-cold", PROJECTS / "copy-link" / "Dockerfile", {}),           # COPY --link, `$(...)` kept
    ("log-heavy", PROJECTS / "log-heavy" / "Dockerfile", {}),                 # unset $i and $((..)) kept
    ("multi-platform", PROJECTS / "multi-platform" / "Dockerfile", {}),       # platform prefix
    ("build-arg-change", REPO / "examples" / "cache-demo" / "Dockerfile", {"APP_VERSION": "2.0.0"}),
])
def test_step_names_match_the_projects_own_recordings(stream, dockerfile_path, build_args):
    """Every name BuildKit v0.32.2 printed is one the parser predicts for the same (stage, index);
    BuildKit's extra `LINK ...` vertex of a COPY --link shares its step's index."""
    df = dockerfile.load(dockerfile_path)
    ours = {(s.stage.display, s.index, s.total): s.name[len(s.prefix):] for s in df.steps(build_args)}
    for name in _recorded_names(RECORDED / f"{stream}.rawjson.jsonl"):
        stage, index, total, text = dockerfile.parse_step_name(name)
        assert ours[(stage, index, total)] == (text[len("LINK "):] if text.startswith("LINK ") else text), name


def test_bundled_example_names_expand_args_like_buildkit():
    df = dockerfile.load(REPO / "examples" / "cache-demo" / "Dockerfile")
    names = [s.name for s in df.steps()]
    assert names[:3] == ["[base 1/2] COPY busybox /bin/busybox",
                         '[base 2/2] RUN ["/bin/busybox", "--install", "-s", "/bin"]',
                         "[deps 1/3] WORKDIR /app"]
    # seen from BuildKit v0.32.2: the RUN name carries the ARG's value, quotes kept
    assert '[build 2/2] RUN echo "building 1.0.0"; sleep 1; cat src/*.txt > app.txt; echo "1.0.0" > version.txt' in names
    renamed = [s.name for s in df.steps({"APP_VERSION": "2.5"})]
    assert '[build 2/2] RUN echo "building 2.5"; sleep 1; cat src/*.txt > app.txt; echo "2.5" > version.txt' in renamed
    assert names[-1] == "[final 1/1] COPY --from=build /app/app.txt /app/version.txt /app/"


def test_stages_bases_and_totals():
    df = dockerfile.parse(
        "ARG BASE=alpine:3.20\n"
        "FROM $BASE AS builder\n"
        "RUN echo a\n"
        "FROM builder\n"
        "COPY x /x\n"
        "FROM scratch\n"
        "COPY --from=builder /a /a\n")
    assert df.global_args == [("BASE", "alpine:3.20")]
    a, b, c = df.stages
    assert (a.name, a.base, a.base_stage, a.total, a.display) == ("builder", "alpine:3.20", None, 2, "builder")
    assert (b.name, b.base_stage, b.total, b.display) == (None, 0, 1, "stage-1")
    assert (c.total, c.display, c.is_scratch) == (1, "stage-2", True)
    names = [s.name for s in df.steps()]
    assert names == ["[builder 1/2] FROM alpine:3.20", "[builder 2/2] RUN echo a", "[stage-1 1/1] COPY x /x",
                     "[stage-2 1/1] COPY --from=builder /a /a"]


def test_single_stage_has_no_stage_in_names_and_pads_the_index():
    lines = ["FROM scratch"] + [f"COPY f{i} /f{i}" for i in range(10)]
    names = [s.name for s in dockerfile.parse("\n".join(lines)).steps()]
    assert names[0] == "[ 1/10] COPY f0 /f0"
    assert names[-1] == "[10/10] COPY f9 /f9"


def test_continuations_comments_and_escape_directive():
    df = dockerfile.parse(
        "# escape=`\n"
        "FROM scratch\n"
        "RUN echo one `\n"
        "# a comment inside\n"
        "\n"
        "    two\n")
    (ins,) = df.stages[0].instructions
    assert ins.code == "RUN echo one     two"  # leading whitespace of the continued line kept
    assert ins.line == 3


def test_backslash_continuation_and_flags():
    df = dockerfile.parse(
        "FROM scratch AS a\n"
        "COPY --link --chown=1000:1000 --chmod=644 \\\n"
        "     a.txt b/ /dest/\n"
        "ADD https://example.com/x.tgz /x/\n"
        "COPY --from=a /out /out\n")
    c1, add, c2 = df.stages[0].instructions
    assert c1.flags == {"link": "true", "chown": "1000:1000", "chmod": "644"}
    assert (c1.sources, c1.dest, c1.from_context) == (["a.txt", "b/"], "/dest/", True)
    assert add.from_context is False  # a URL only
    assert (c2.copy_from, c2.from_context) == ("a", False)


def test_json_form_and_heredocs():
    df = dockerfile.parse(
        "FROM scratch\n"
        'COPY ["a b.txt", "/dst/"]\n'
        "RUN <<EOF\n"
        "set -e\n"
        "echo hi\n"
        "EOF\n"
        "COPY <<-CONF /etc/app.conf\n"
        "\tkey=value\n"
        "\tCONF\n"
        'RUN ["/bin/busybox", "true"]\n')
    cp, run, cp2, run2 = df.stages[0].instructions
    assert cp.json_form and cp.sources == ["a b.txt"]
    assert run.heredocs == [{"name": "EOF", "chomp": False, "body": "set -e\necho hi\n"}]
    assert cp2.heredocs[0]["chomp"] and cp2.sources == [] and cp2.from_context is False
    assert run2.json_form
    names = [s.name for s in df.steps()]
    assert names[0] == "[1/4] COPY [a b.txt, /dst/]"  # COPY names drop quotes (BuildKit's lexer)
    assert names[1] == "[2/4] RUN <<EOF (set -e...)"
    assert names[3] == '[4/4] RUN ["/bin/busybox", "true"]'


def test_unterminated_heredoc_is_bad_input():
    with pytest.raises(BadInput, match="unterminated heredoc"):
        dockerfile.parse("FROM scratch\nRUN <<EOF\necho\n")


def test_arg_scope_global_and_per_stage():
    df = dockerfile.parse(
        "ARG V=1\n"
        "FROM scratch AS a\n"
        "RUN echo $V\n"
        "ARG V\n"
        "ARG W=w\n"
        "RUN echo $V $W\n"
        "FROM a AS b\n"
        "RUN echo ${V:-none} $W\n")
    steps = df.steps()
    assert steps[0].name == "[a 1/2] RUN echo $V"       # global ARG not in scope: left as written
    assert steps[1].name == "[a 2/2] RUN echo 1 w"      # redeclared: takes the global value
    assert steps[2].name == "[b 1/1] RUN echo 1 w"      # inherited from stage a
    a, b = df.stages
    assert df.args_in_effect(a, a.instructions[-1].line) == ["V", "W"]
    assert df.args_in_effect(b, b.instructions[0].line) == ["V", "W"]
    assert [s.name for s in df.steps({"W": "x"})][1] == "[a 2/2] RUN echo 1 x"


def test_workdir_root_counts_but_makes_no_step():
    df = dockerfile.parse("FROM scratch\nWORKDIR /\nRUN a\nWORKDIR /app\n")
    assert [s.name for s in df.steps()] == ["[1/3] RUN a", "[2/3] WORKDIR /app"]


@pytest.mark.parametrize("name, parsed", [
    ("[build 2/3] RUN x", ("build", 2, 3, "RUN x")),
    ("[ 1/10] COPY a /a", ("", 1, 10, "COPY a /a")),
    ("[linux/amd64 build 1/2] FROM x@sha256:ab", ("build", 1, 2, "FROM x@sha256:ab")),
    ("[internal] load build context", None),
    ("copy .", None),
])
def test_parse_step_name(name, parsed):
    assert dockerfile.parse_step_name(name) == parsed


@pytest.mark.parametrize("word, env, raw, out", [
    ('echo "$A" \'$A\' $B ${B:-d} ${A:+set}', {"A": "1"}, True, 'echo "1" \'$A\' $B ${B:-d} set'),
    ('echo "$A" \'$A\' $B ${B:-d} ${A:+set}', {"A": "1"}, False, "echo 1 $A  d set"),
    ("a\\ b $", {}, False, "a b $"),
])
def test_expand_like_buildkit_lexer(word, env, raw, out):
    assert dockerfile.expand(word, env, raw) == out


@pytest.mark.parametrize("text, message", [
    ("RUN echo\n", "before the first FROM"),
    ("# only a comment\n", "no FROM"),
    ("FROM\n", "FROM needs an image"),
])
def test_bad_dockerfiles(text, message):
    with pytest.raises(BadInput, match=message):
        dockerfile.parse(text)


from hypothesis import given, settings, strategies as st  # noqa: E402

_PIECES = st.sampled_from(["FROM scratch", "FROM alpine AS a", "RUN echo $X", "COPY a b", "ARG X=1", "ENV Y=2",
                           "\\", "<<EOF", "EOF", "# c", "WORKDIR /", "COPY --from=a /x /y", '["a", "b"]', "'", '"',
                           "${X:-d}", "${", "$", "`", "\t", " ", "onbuild RUN x", "from"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=12).map(lambda xs: "\n".join(xs)))
def test_parser_never_fails_with_anything_but_bad_input(text):
    try:
        df = dockerfile.parse(text)
    except BadInput:
        return
    for s in df.steps({"X": "v"}):
        assert s.name.startswith(s.prefix)
