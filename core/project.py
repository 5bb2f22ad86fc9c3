"""What is being built: a Dockerfile project or a Railpack app, and a snapshot of its build
context taken for each build (file manifest without contents, git revision, Dockerfile text,
build args) so that two builds can be compared afterwards."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import dockerfile as dockerfile_mod
from . import dockerignore
from .errors import BadInput

DOCKERFILE_NAMES = ("Dockerfile", "dockerfile")
# files that make railpack detect an app (its providers), with what they say
RAILPACK_MARKERS = {
    "railpack.json": "Railpack config",
    "package.json": "Node.js",
    "requirements.txt": "Python",
    "pyproject.toml": "Python",
    "Pipfile": "Python",
    "go.mod": "Go",
    "Cargo.toml": "Rust",
    "Gemfile": "Ruby",
    "composer.json": "PHP",
    "mix.exs": "Elixir",
    "deno.json": "Deno",
    "pom.xml": "Java",
    "build.gradle": "Java",
    "index.html": "static site",
    "Staticfile": "static site",
}


@dataclass
class Project:
    path: str                          # the build context, absolute
    kind: str                          # "dockerfile" | "railpack"
    description: str
    dockerfile_path: str | None = None
    markers: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)   # stage display names, in order
    steps: list[str] = field(default_factory=list)    # step names BuildKit will show (FROM without digest)
    parsed: dockerfile_mod.Dockerfile | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("parsed", None)
        return d


def detect(path, dockerfile: str | None = None) -> Project:
    """A Dockerfile project (context = the directory), else a Railpack app, else BadInput.
    `dockerfile`: another Dockerfile name, relative to the directory (BuildRequest.dockerfile)."""
    p = Path(path).expanduser()
    if dockerfile:
        df = (p / dockerfile).resolve()
        if not df.is_file():
            raise BadInput(f"no {dockerfile} in {p}.", fix="pass the Dockerfile's name relative to the project directory")
        return _dockerfile_project(p.resolve(), df)
    if not p.exists():
        raise BadInput(f"{p} does not exist.", fix="pass the directory of a project to build")
    if p.is_file():
        if p.name in DOCKERFILE_NAMES or p.name.endswith(".Dockerfile") or p.name.startswith("Dockerfile."):
            return _dockerfile_project(p.parent.resolve(), p.resolve())
        raise BadInput(f"{p} is a file, not a project directory.", fix="pass the directory that holds the Dockerfile or the app")
    p = p.resolve()
    for name in DOCKERFILE_NAMES:
        if (p / name).is_file():
            return _dockerfile_project(p, p / name)
    markers = [m for m in RAILPACK_MARKERS if (p / m).exists()]
    if markers:
        kinds = list(dict.fromkeys(RAILPACK_MARKERS[m] for m in markers))
        desc = f"Railpack app ({', '.join(kinds)}; detected from {', '.join(markers)}); railpack generates its build plan"
        return Project(path=str(p), kind="railpack", description=desc, markers=markers)
    raise BadInput(f"{p} has no Dockerfile and nothing Railpack recognises (package.json, requirements.txt, go.mod, railpack.json, ...).",
                   fix="add a Dockerfile, or point at the app's root directory")


def _dockerfile_project(context: Path, df_path: Path) -> Project:
    """A Dockerfile this parser cannot read is still a Dockerfile project: BuildKit has the last
    word (and reports its own error); only a missing or unreadable file is BadInput."""
    try:
        parsed = dockerfile_mod.load(df_path)
    except BadInput as exc:
        if not df_path.is_file():
            raise
        try:
            df_path.read_bytes()
        except OSError:
            raise exc from None
        return Project(path=str(context), kind="dockerfile", dockerfile_path=str(df_path),
                       description=f"Dockerfile project (its steps could not be read ahead: {exc})")
    names = [s.display or "unnamed" for s in parsed.stages]
    steps = [st.name for st in parsed.steps()]
    n = len(parsed.stages)
    desc = f"Dockerfile project: {n} stage{'s' if n != 1 else ''} ({', '.join(names)}), {len(steps)} steps"
    return Project(path=str(context), kind="dockerfile", description=desc, dockerfile_path=str(df_path),
                   stages=[s.display for s in parsed.stages], steps=steps, parsed=parsed)


@dataclass
class FileEntry:
    size: int
    mode: int           # permission bits and type (stat st_mode)
    sha256: str         # of the contents; of the link target for a symlink


@dataclass
class ProjectSnapshot:
    project_path: str
    kind: str
    taken_at: float
    files: dict[str, FileEntry]        # slash path relative to the context -> entry
    ignored: int                       # files left out by .dockerignore
    dockerignore: str | None           # the ignore file used
    dockerfile_text: str | None
    build_args: dict[str, str]
    git_rev: str | None
    git_dirty: bool | None
    base_images: dict[str, str]        # stage display name -> FROM ref as written (digest added after a build)

    def to_json(self) -> dict:
        d = asdict(self)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "ProjectSnapshot":
        d = dict(d)
        d["files"] = {k: FileEntry(**v) for k, v in (d.get("files") or {}).items()}
        return cls(**d)

    def dockerfile(self) -> dockerfile_mod.Dockerfile | None:
        """`dockerfile_text` parsed (None when absent or unreadable); parsed once per text."""
        if not self.dockerfile_text:
            return None
        cached = self.__dict__.get("_parsed")  # not a field: never in to_json/asdict
        if cached is not None and cached[0] is self.dockerfile_text:
            return cached[1]
        try:
            parsed = dockerfile_mod.parse(self.dockerfile_text)
        except BadInput:
            parsed = None
        self._parsed = (self.dockerfile_text, parsed)
        return parsed


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _HashCache:
    """sha256 of files keyed by (size, mtime_ns, inode), kept between snapshots of a project in the
    data directory, so a large context is not re-read on every build. An entry written less than
    2 s after its file's mtime is not trusted (the file may have changed within the same tick)."""

    def __init__(self, context: Path) -> None:
        from . import paths

        key = hashlib.sha256(str(context).encode()).hexdigest()[:16]
        self.path = paths.data_dir() / "hashcache" / f"{key}.json"
        self.now = time.time()
        try:
            self.old = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.old = {}
        self.new: dict[str, list] = {}

    def get(self, rel: str, st: os.stat_result) -> str | None:
        e = self.old.get(rel)
        if e and e[:3] == [st.st_size, st.st_mtime_ns, st.st_ino] and e[4] - st.st_mtime_ns / 1e9 > 2:
            self.new[rel] = e
            return e[3]
        return None

    def put(self, rel: str, st: os.stat_result, digest: str) -> None:
        self.new[rel] = [st.st_size, st.st_mtime_ns, st.st_ino, digest, self.now]

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.new, separators=(",", ":")))
            os.replace(tmp, self.path)
        except OSError:
            pass  # only a speed-up


def manifest(context: Path, matcher: dockerignore.Matcher, cache: _HashCache | None = None) -> tuple[dict[str, FileEntry], int]:
    """Every regular file and symlink of the context that .dockerignore lets through. `ignored`
    counts what was left out (an excluded directory with no `!` exception inside counts once: like
    BuildKit, the walk does not enter it)."""
    files: dict[str, FileEntry] = {}
    ignored = 0
    can_prune = not any(p.exclusion for p in matcher.patterns)
    for root, dirs, names in os.walk(context, followlinks=False):
        rel_root = os.path.relpath(root, context)
        rel_root = "" if rel_root == "." else rel_root.replace(os.sep, "/") + "/"
        if can_prune:
            kept = [d for d in dirs if not matcher.excluded(rel_root + d)]
            ignored += len(dirs) - len(kept)
            dirs[:] = kept
        dirs.sort()
        for name in sorted(names):
            rel = rel_root + name
            full = Path(root) / name
            try:
                st = full.lstat()
            except OSError:
                continue
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                continue
            if matcher.excluded(rel):
                ignored += 1
                continue
            try:
                if stat.S_ISLNK(st.st_mode):
                    digest = hashlib.sha256(os.readlink(full).encode()).hexdigest()
                else:
                    digest = cache.get(rel, st) if cache else None
                    if digest is None:
                        digest = _sha256_file(full)
                        if cache:
                            cache.put(rel, st, digest)
            except OSError:
                continue  # unreadable: BuildKit would fail on it too, the build will say so
            files[rel] = FileEntry(size=st.st_size, mode=st.st_mode, sha256=digest)
    return files, ignored


def git_state(path: Path) -> tuple[str | None, bool | None]:
    """(HEAD revision, dirty) when the path is in a git work tree, else (None, None)."""
    from . import tools

    git = tools.find("git")
    if git is None:
        return None, None
    try:
        rev = subprocess.run([git, "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return None, None
        st = subprocess.run([git, "-C", str(path), "status", "--porcelain", "--", "."], capture_output=True, text=True, timeout=30)
        return rev.stdout.strip(), (bool(st.stdout.strip()) if st.returncode == 0 else None)
    except (OSError, subprocess.TimeoutExpired):
        return None, None


def snapshot(project: Project, build_args: dict) -> ProjectSnapshot:
    """The build context as it is now (call it right before or after the build)."""
    context = Path(project.path)
    df_path = Path(project.dockerfile_path) if project.dockerfile_path else None
    matcher, used = dockerignore.for_context(context, df_path)
    cache = _HashCache(context)
    files, ignored = manifest(context, matcher, cache)
    cache.save()
    text = None
    bases: dict[str, str] = {}
    if df_path is not None:
        try:
            text = df_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read {df_path}: {exc}.", fix="check the file's permissions and encoding") from None
        if project.parsed is not None and project.parsed.text == text:
            parsed = project.parsed  # detect() parsed this very text
        else:
            try:
                parsed = dockerfile_mod.parse(text)
            except BadInput:
                parsed = None  # BuildKit will say what is wrong with it
        for s in parsed.stages if parsed else []:
            if s.base_stage is None and not s.is_scratch:
                bases[s.display or "(single stage)"] = s.base
    rev, dirty = git_state(context)
    snap = ProjectSnapshot(project_path=str(context), kind=project.kind, taken_at=time.time(), files=files,
                           ignored=ignored, dockerignore=used, dockerfile_text=text,
                           build_args={str(k): str(v) for k, v in (build_args or {}).items()},
                           git_rev=rev, git_dirty=dirty, base_images=bases)
    if text is not None:
        snap._parsed = (text, parsed)  # explain asks snapshot.dockerfile(): no third parse
    return snap
