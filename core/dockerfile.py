"""A Dockerfile parser good enough to reason about BuildKit's cache.

It follows BuildKit v0.32.2's own parser and its Dockerfile-to-LLB conversion where that matters
for the cache: line continuations (leading whitespace of continued lines kept, comment and empty
lines inside a continuation skipped), the `escape` directive, heredocs (tolerated: their bodies are
kept, never executed), JSON (exec) form, stages and their ARGs, COPY/ADD sources and flags, and the
step names BuildKit shows in its progress stream:

  `[stage i/N] INSTRUCTION args` (`[i/N] ...` when the file has one stage; unnamed stages are
  `stage-K`), N counting FROM (an image, not scratch nor an earlier stage), WORKDIR, COPY, ADD and
  RUN. ARG/ENV/LABEL/... make no vertex. The FROM step shows the resolved reference with its digest
  (`FROM docker.io/library/alpine:3.20@sha256:...`), which only the build knows.
  Names *do* expand variables: RUN names expand the stage's env and declared ARGs but leave unset
  ones as written and keep quotes (`RUN echo "building 1.0.0"`); COPY/ADD names drop quotes and
  expand unset variables to nothing. So a changed build arg renames the RUN steps that use it:
  match steps across builds by (stage, index) as well as by name.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from .errors import BadInput

VERTEX_INSTRUCTIONS = {"FROM", "WORKDIR", "COPY", "ADD", "RUN"}
# what the Dockerfile frontend knows; anything else it rejects ("unknown instruction")
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
                "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
HEREDOC_INSTRUCTIONS = {"RUN", "COPY", "ADD"}
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")
_STEP_NAME = re.compile(r"^\[(?P<inner>[^\]]*?\d+/\d+)\] (?P<text>.*)$", re.S)


@dataclass
class Instruction:
    cmd: str                      # upper-case keyword: RUN, COPY, ...
    code: str                     # the instruction as BuildKit keeps it (joined lines, trimmed)
    args: str                     # the text after the keyword and its --flags
    flags: dict[str, str]         # --from, --link, --chown, --chmod, --mount (last wins), --parents ...
    line: int                     # 1-based first line
    json_form: bool = False
    heredocs: list[dict] = field(default_factory=list)   # {"name", "chomp", "body"}
    sources: list[str] = field(default_factory=list)     # COPY/ADD sources (heredoc sources excluded)
    dest: str = ""
    index: int | None = None      # the step index BuildKit gives it (None: makes no vertex)

    @property
    def copy_from(self) -> str | None:
        return self.flags.get("from")

    @property
    def from_context(self) -> bool:
        """COPY/ADD reading the build context (not `--from=`, not only heredocs or URLs)."""
        if self.cmd not in ("COPY", "ADD") or self.copy_from:
            return False
        return any(not _is_remote(s) for s in self.sources)


@dataclass
class Stage:
    position: int                 # 0-based order in the file
    name: str | None              # `AS name` (lower-cased, as BuildKit does)
    base: str                     # the FROM image or stage name as written
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)
    from_line: int = 0
    base_stage: int | None = None  # position of the stage it builds on, if any
    total: int = 0                # N in `[stage i/N]`
    display: str = ""             # the stage part of step names ("" for a single-stage file)

    @property
    def is_scratch(self) -> bool:
        return self.base.lower() == "scratch"

    def declared_args(self, before_line: int | None = None) -> list[str]:
        out = []
        for ins in self.instructions:
            if before_line is not None and ins.line >= before_line:
                break
            if ins.cmd == "ARG":
                out += [k for k, _ in _arg_pairs(ins.args)]
        return out


@dataclass
class StepSpec:
    stage: Stage = field(repr=False)
    instruction: Instruction | None  # None for the FROM step
    index: int
    total: int
    prefix: str                      # "[build 2/3] "
    name: str                        # the full name (FROM: without digest, as written)

    @property
    def kind(self) -> str:
        return self.instruction.cmd if self.instruction else "FROM"


@dataclass
class Dockerfile:
    text: str
    global_args: list[tuple[str, str | None]]
    stages: list[Stage]
    escape: str = "\\"

    def stage(self, ref: str) -> Stage | None:
        """By name, display name or position."""
        for s in self.stages:
            if ref in (s.name, s.display, f"stage-{s.position}"):
                return s
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None

    def ancestry(self, stage: Stage) -> list[Stage]:
        """The stage and the stages it builds on (FROM chain), nearest first."""
        out = [stage]
        while stage.base_stage is not None:
            stage = self.stages[stage.base_stage]
            out.append(stage)
        return out

    def args_in_effect(self, stage: Stage, before_line: int) -> list[str]:
        """ARGs declared before a line of this stage, including those of the stages it builds on."""
        names = stage.declared_args(before_line)
        for parent in self.ancestry(stage)[1:]:
            names = parent.declared_args() + names
        return list(dict.fromkeys(names))

    def env(self, stage: Stage, before_line: int, build_args: dict | None = None) -> dict[str, str]:
        """Env BuildKit knows at a point of a stage (ENV and valued ARGs; base image env unknown)."""
        build_args = build_args or {}
        glob: dict[str, str] = {}
        for k, v in self.global_args:
            if k in build_args:
                glob[k] = build_args[k]
            elif v is not None:
                glob[k] = expand(v, glob, raw=False)
        env: dict[str, str] = {}
        for s in reversed(self.ancestry(stage)):
            for ins in s.instructions:
                if s is stage and ins.line >= before_line:
                    break
                if ins.cmd == "ENV":
                    for k, v in _env_pairs(ins.args):
                        env[k] = expand(v, env, raw=False)
                elif ins.cmd == "ARG":
                    for k, v in _arg_pairs(ins.args):
                        if k in build_args:
                            env[k] = build_args[k]
                        elif v is not None:
                            env[k] = expand(v, {**glob, **env}, raw=False)
                        elif k in glob:
                            env[k] = glob[k]
        return env

    def steps(self, build_args: dict | None = None) -> list[StepSpec]:
        """Every step BuildKit would show, stage by stage (unreachable stages included)."""
        out = []
        for s in self.stages:
            if s.total == 0:
                continue
            width = int(1 + math.log10(s.total))
            def prefix(i: int) -> str:
                return "[" + (f"{s.display} " if s.display else "") + f"{i:>{width}}/{s.total}] "
            if not s.is_scratch and s.base_stage is None:
                p = prefix(1)
                out.append(StepSpec(s, None, 1, s.total, p, p + "FROM " + s.base))
            for ins in s.instructions:
                if ins.index is None:
                    continue
                p = prefix(ins.index)
                env = self.env(s, ins.line, build_args)
                out.append(StepSpec(s, ins, ins.index, s.total, p, p + step_text(ins, env, self.escape)))
        return out

    def step_at(self, stage_display: str, index: int) -> StepSpec | None:
        for st in self.steps():
            if st.stage.display == stage_display and st.index == index:
                return st
        return None


def parse_step_name(name: str) -> tuple[str, int, int, str] | None:
    """`[build 2/3] RUN x` -> ("build", 2, 3, "RUN x"); `[1/2] ...` -> ("", 1, 2, ...). A platform
    prefix (`[linux/amd64 build 2/3]`) is dropped."""
    m = _STEP_NAME.match(name)
    if not m:
        return None
    words = m.group("inner").split()
    i, n = words[-1].split("/")
    rest = [w for w in words[:-1] if "/" not in w and "->" not in w]
    return (rest[-1] if rest else "", int(i), int(n), m.group("text"))


def step_text(ins: Instruction, env: dict[str, str], escape: str = "\\") -> str:
    """The instruction part of a step name, as BuildKit prints it."""
    text = ins.code
    if ins.cmd == "RUN" and ins.heredocs and _HEREDOC_WORD.match(ins.args.strip()):
        text += f" ({_summarize_heredoc(ins.heredocs[0]['body'])})"
    try:
        text = expand(text, env, raw=(ins.cmd == "RUN"), escape=escape)
    except ValueError:
        pass
    head, _, tail = text.partition(" ")
    return head.upper() + (" " + tail if _ else "")


def _summarize_heredoc(doc: str) -> str:
    lines = doc.strip().replace("\r\n", "\n").split("\n")
    return lines[0] + ("..." if len(lines) > 1 else "")


# ---------------------------------------------------------------- variable expansion (shell lexer)

def expand(word: str, env: dict[str, str], raw: bool, escape: str = "\\") -> str:
    """BuildKit's `ProcessWord`: `$X`, `${X}`, `${X:-d}`, `${X-d}`, `${X:+a}`, `${X+a}`.
    raw=True is the RUN mode (quotes kept, unset variables left as written); raw=False drops
    quotes and expands unset variables to "". Raises ValueError on a syntax error."""
    out: list[str] = []
    i, n = 0, len(word)

    def dollar(i: int) -> tuple[str, int]:
        i += 1
        if i < n and word[i] == "{":
            end = word.find("}", i)
            if end < 0:
                raise ValueError("missing }")
            body = word[i + 1:end]
            m = re.match(r"^([A-Za-z0-9_]+)(:?[-+?])?(.*)$", body, re.S)
            if not m:
                raise ValueError("bad substitution")
            name, op, arg = m.group(1), m.group(2), m.group(3)
            if op is None and arg:
                raise ValueError("unsupported substitution")
            set_ = name in env
            value = env.get(name, "")
            if not set_ and raw:
                return "${" + body + "}", end + 1
            if op is None:
                return value, end + 1
            null_unset = op.startswith(":")
            empty = not set_ or (null_unset and value == "")
            if op.endswith("-"):
                return (expand(arg, env, raw, escape) if empty else value), end + 1
            if op.endswith("+"):
                return ("" if empty else expand(arg, env, raw, escape)), end + 1
            if empty:
                raise ValueError(f"{name}: {arg or 'is not allowed to be unset'}")
            return value, end + 1
        m = re.match(r"\d+|[A-Za-z_][A-Za-z0-9_]*", word[i:])
        if not m:
            return "$", i
        name = m.group(0)
        if name not in env and raw:
            return "$" + name, i + len(name)
        return env.get(name, ""), i + len(name)

    while i < n:
        ch = word[i]
        if ch == "$":
            s, i = dollar(i)
            out.append(s)
        elif ch == "'":
            end = word.find("'", i + 1)
            if end < 0:
                raise ValueError("unterminated single quote")
            out.append(word[i:end + 1] if raw else word[i + 1:end])
            i = end + 1
        elif ch == '"':
            buf = ['"'] if raw else []
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unterminated double quote")
                c = word[i]
                if c == '"':
                    i += 1
                    break
                if c == "$":
                    s, i = dollar(i)
                    buf.append(s)
                    continue
                if c == escape and i + 1 < n and word[i + 1] in ('"', "$", escape):
                    buf.append(word[i + 1])
                    i += 2
                    continue
                buf.append(c)
                i += 1
            if raw:
                buf.append('"')
            out.append("".join(buf))
        elif ch == escape:
            if i + 1 < n:
                out.append(word[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# ---------------------------------------------------------------- parsing

def _arg_pairs(args: str) -> list[tuple[str, str | None]]:
    out = []
    for word in _split_words(args):
        k, eq, v = word.partition("=")
        out.append((k, v if eq else None))
    return out


def _env_pairs(args: str) -> list[tuple[str, str]]:
    words = _split_words(args)
    if words and "=" not in words[0]:          # legacy `ENV KEY value with spaces`
        key, _, value = args.strip().partition(" ")
        return [(key, value.strip())]
    return [(k, v) for k, _, v in (w.partition("=") for w in words)]


def _split_words(text: str) -> list[str]:
    """Whitespace-separated words, quotes removed (used for ARG/ENV/FROM/flags)."""
    words, cur, quote, i, have = [], [], None, 0, False
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = None
            elif c == "\\" and quote == '"' and i + 1 < len(text):
                i += 1
                cur.append(text[i])
            else:
                cur.append(c)
        elif c in "'\"":
            quote, have = c, True
        elif c == "\\" and i + 1 < len(text):
            i += 1
            cur.append(text[i])
            have = True
        elif c.isspace():
            if cur or have:
                words.append("".join(cur))
            cur, have = [], False
        else:
            cur.append(c)
            have = True
        i += 1
    if cur or have:
        words.append("".join(cur))
    return words


def _split_flags(rest: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    s = rest.lstrip()
    while s.startswith("--"):
        m = re.match(r"--([A-Za-z0-9-]+)(?:=((?:\"[^\"]*\"|'[^']*'|[^\s])*))?(\s+|$)", s)
        if not m:
            break
        value = m.group(2)
        flags[m.group(1).lower()] = "true" if value is None else "".join(_split_words(value)) or value
        s = s[m.end():]
    return flags, s.strip()


def _is_remote(src: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", src)) or src.startswith("git@")


def _logical_lines(text: str) -> tuple[list[tuple[int, str, list[dict]]], str]:
    """(first line number, joined line, heredocs) per instruction, and the escape token."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    escape = "\\"
    # parser directives: leading comment lines of the form `# key=value`
    for ln in lines:
        m = _DIRECTIVE.match(ln.strip())
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
    esc = re.escape(escape)
    cont = re.compile(r"([^" + esc + r"])" + esc + r"[ \t]*$|^" + esc + r"[ \t]*$")

    def is_comment(s: str) -> bool:
        return s.lstrip().startswith("#")

    out: list[tuple[int, str, list[dict]]] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        if is_comment(raw):
            continue
        start = i
        cur = raw.lstrip()
        done = not cont.search(cur)
        if not done:
            cur = cont.sub(r"\1", cur)
        if done and not cur.strip():
            continue
        parts = [cur]
        while not done and i < len(lines):
            nxt = lines[i]
            i += 1
            if is_comment(nxt):
                continue
            if not nxt.strip():
                continue
            done = not cont.search(nxt)
            parts.append(nxt if done else cont.sub(r"\1", nxt))
        line = "".join(parts)
        heredocs: list[dict] = []
        keyword = line.strip().split(None, 1)[0].upper() if line.strip() else ""
        if keyword == "ONBUILD":
            keyword = (line.strip().split(None, 2) + ["", ""])[1].upper()
        if keyword in HEREDOC_INSTRUCTIONS and "<<" in line and not _is_json_args(line):
            for word in _split_words(line):
                m = _HEREDOC_WORD.match(word)
                if not m or not m.group(3):
                    continue
                name = m.group(3).strip("'\"")
                chomp = m.group(2) == "-"
                body: list[str] = []
                terminated = False
                while i < len(lines):
                    b = lines[i]
                    i += 1
                    if (b.lstrip("\t") if chomp else b) == name:
                        terminated = True
                        break
                    body.append(b + "\n")
                if not terminated:
                    raise BadInput(f"line {start}: unterminated heredoc <<{name}.",
                                   fix=f"end the heredoc with a line holding only {name}")
                heredocs.append({"name": name, "chomp": chomp, "body": "".join(body)})
        out.append((start, line, heredocs))
    return out, escape


def _other_frontend(text: str) -> bool:
    """True when a `# syntax=` directive names a frontend other than docker/dockerfile (it may
    have instructions of its own)."""
    for ln in text.lstrip("\ufeff").split("\n"):
        m = _DIRECTIVE.match(ln.strip())
        if not m:
            return False
        if m.group(1).lower() == "syntax":
            image = m.group(2).strip().split("@")[0].split(":")[0].lower()
            return image not in ("docker/dockerfile", "docker.io/docker/dockerfile", "docker/dockerfile-upstream",
                                 "docker.io/docker/dockerfile-upstream")
    return False


def _is_json_args(line: str) -> bool:
    _, _, rest = line.strip().partition(" ")
    _, rest = _split_flags(rest)
    return _json_list(rest) is not None


def _json_list(text: str) -> list[str] | None:
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def parse(text: str) -> Dockerfile:
    """Parse Dockerfile text. Raises BadInput for a file BuildKit would reject outright."""
    logical, escape = _logical_lines(text)
    own_frontend = _other_frontend(text)
    global_args: list[tuple[str, str | None]] = []
    stages: list[Stage] = []
    for line_no, line, heredocs in logical:
        stripped = line.strip()
        keyword, _, rest = stripped.partition(" ")
        keyword = keyword.upper()
        if not keyword:
            continue
        if keyword not in INSTRUCTIONS and not own_frontend:
            import difflib

            close = difflib.get_close_matches(keyword, sorted(INSTRUCTIONS), n=1)
            raise BadInput(f"line {line_no}: unknown instruction {keyword}.",
                           fix=f"did you mean {close[0]}?" if close else "use a Dockerfile instruction (RUN, COPY, ...)")
        flags, args = _split_flags(rest)
        if keyword == "FROM":
            words = _split_words(args)
            if not words:
                raise BadInput(f"line {line_no}: FROM needs an image.", fix="write `FROM image[:tag] [AS name]`")
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(position=len(stages), name=name, base=words[0], platform=flags.get("platform"), from_line=line_no))
            continue
        if not stages:
            if keyword == "ARG":
                global_args += _arg_pairs(args)
                continue
            raise BadInput(f"line {line_no}: {keyword} before the first FROM.",
                           fix="start the Dockerfile with FROM (only ARG may come before it)")
        ins = Instruction(cmd=keyword, code=stripped, args=args, flags=flags, line=line_no, heredocs=heredocs)
        if keyword in ("RUN", "COPY", "ADD", "CMD", "ENTRYPOINT", "SHELL", "VOLUME"):
            ins.json_form = _json_list(args) is not None
        if keyword in ("COPY", "ADD"):
            items = _json_list(args) if ins.json_form else _split_words(args)
            items = list(items or [])
            if len(items) >= 2:
                ins.dest = items[-1]
                heredoc_names = {h["name"] for h in heredocs}
                ins.sources = [s for s in items[:-1]
                               if not (_HEREDOC_WORD.match(s) and _HEREDOC_WORD.match(s).group(3).strip("'\"") in heredoc_names)]
        stages[-1].instructions.append(ins)
    if not stages:
        raise BadInput("the Dockerfile has no FROM instruction.", fix="add `FROM image` (or `FROM scratch`)")

    # global ARG values for expanding FROM bases (their defaults only: build args applied later)
    for s in stages:
        base_word = expand(s.base, {k: v for k, v in global_args if v is not None}, raw=False) if "$" in s.base else s.base
        s.base = base_word
        for earlier in stages[:s.position]:
            if earlier.name and earlier.name == base_word.lower():
                s.base_stage = earlier.position
        s.display = s.name or f"stage-{s.position}"
        total = 1 if (not s.is_scratch and s.base_stage is None) else 0
        for ins in s.instructions:
            if ins.cmd in ("COPY", "ADD", "RUN", "WORKDIR"):
                total += 1
        s.total = total
        # indexes: FROM first, then vertex instructions (WORKDIR / makes none but still counts)
        idx = 1 if (not s.is_scratch and s.base_stage is None) else 0
        for ins in s.instructions:
            if ins.cmd in ("COPY", "ADD", "RUN", "WORKDIR"):
                if ins.cmd == "WORKDIR" and _workdir_is_root(ins.args):
                    continue
                idx += 1
                ins.index = idx
    if len(stages) == 1:
        stages[0].display = ""
    return Dockerfile(text=text, global_args=global_args, stages=stages, escape=escape)


def _workdir_is_root(args: str) -> bool:
    words = _split_words(args)
    return bool(words) and words[0].rstrip("/") == "" and words[0].startswith("/")


def load(path) -> Dockerfile:
    from pathlib import Path

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"no Dockerfile at {p}.", fix="pass a directory holding a Dockerfile") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {p}: {exc}.", fix="check the file's permissions and encoding") from None
    return parse(text)
