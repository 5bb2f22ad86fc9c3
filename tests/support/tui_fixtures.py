"""Fixed data for the Projects / Registries / History screen tests: a history database filled
from the recorded BuildKit streams (tests/fixtures/recorded) through the real model, history and
explain code, and registry test results of the three kinds that matter (all ok, unauthorized,
unreachable). Nothing here varies between runs: no ports, no temp paths, no wall-clock times."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from railpack_tui.core import explain, history, project, registry
from railpack_tui.core.model import BuildModel

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / "tests" / "fixtures" / "recorded"
EXAMPLE = REPO / "examples" / "cache-demo"
REF = "registry.example.com/team/cache-demo:cache"


async def settle(pilot, timeout: float = 20.0) -> None:
    """Wait for the workers that finish (not the DirectoryTree's everlasting loader), then let
    the messages they posted be handled."""
    import asyncio

    await pilot.pause()
    finite = [w for w in pilot.app.workers if w.group != "_loader" and not w.is_finished]
    if finite:
        await asyncio.wait_for(asyncio.gather(*(w.wait() for w in finite), return_exceptions=True), timeout)
    await pilot.pause()
    await pilot.pause()


def rows_on_screen(app, table) -> int:
    """How many of a DataTable's rows are painted (its visible height minus the header)."""
    geometry = app.screen.find_widget(table)
    visible = geometry.region.intersection(geometry.clip)
    return max(0, visible.height - (1 if table.show_header else 0))


# --- history -----------------------------------------------------------------------------------

def _entry(text: str, mode: int = 0o100644) -> project.FileEntry:
    return project.FileEntry(size=len(text), mode=mode, sha256=hashlib.sha256(text.encode()).hexdigest())


def _files(main: str = "hello from main\n") -> dict[str, project.FileEntry]:
    return {"Dockerfile": _entry((EXAMPLE / "Dockerfile").read_text()), "busybox": _entry("busybox-static", 0o100755),
            "requirements.txt": _entry("flask\nrequests\n"), "src/main.txt": _entry(main),
            "src/util.txt": _entry("utilities\n")}


# (recording, build args, main.txt content): the story of a project's cache, oldest first
BUILDS = [
    ("cold-empty-ref.rawjson.jsonl", {}, "hello from main\n"),
    ("warm-from-registry.rawjson.jsonl", {}, "hello from main\n"),
    ("file-change.rawjson.jsonl", {}, "hello from main, edited\n"),
    ("build-arg-change.rawjson.jsonl", {"APP_VERSION": "2.0.0"}, "hello from main, edited\n"),
    ("import-unauthorized.rawjson.jsonl", {}, "hello from main, edited\n"),
    ("local-warm.rawjson.jsonl", {}, "hello from main, edited\n"),
]


def _cache_refs(argv: list[str]) -> tuple[list[str], list[str]]:
    imports, exports = [], []
    for flag, value in zip(argv, argv[1:]):
        if flag in ("--import-cache", "--export-cache"):
            ref = dict(p.split("=", 1) for p in value.split(",") if "=" in p).get("ref")
            if ref:
                (imports if flag == "--import-cache" else exports).append(ref)
    return imports, exports


def fill_history(db_path: Path, project_path: str, builds=BUILDS) -> history.History:
    """Record `builds` (recorded streams) as runs of `project_path`, with miss explanations."""
    manifest = json.loads((RECORDED / "manifest.json").read_text())
    db = history.History.open(db_path)
    dockerfile_text = (EXAMPLE / "Dockerfile").read_text()
    for name, build_args, main in builds:
        meta = manifest[name]
        imports, exports = _cache_refs(meta["argv"])
        model = BuildModel()
        model.expect_cache(imports, exports)
        with open(RECORDED / name, "rb") as fh:
            model.feed_lines(fh)
        model.finish(meta["returncode"], cancelled=meta.get("interrupted", False))
        snap = project.ProjectSnapshot(
            project_path=project_path, kind="dockerfile", taken_at=model.first_time or 0.0, files=_files(main),
            ignored=0, dockerignore=None, dockerfile_text=dockerfile_text, build_args=dict(build_args),
            git_rev=None, git_dirty=None, base_images={})
        info = {"project": project_path, "engine": "buildkit", "builder": "unix:///run/buildkit/buildkitd.sock",
                "cache_ref": (imports or exports or [None])[0], "mode": "max", "no_import": not imports, "no_export": not exports,
                "build_args": dict(build_args)}
        run_id = db.record(info, model, snap)
        explain.annotate(model, snap, db, dict(info, run_id=run_id))
    return db


# --- registry test results ------------------------------------------------------------------------

def _check(name, ok=True, detail="ok", ms=1.0, kind=None, fix=None, skipped=False) -> registry.Check:
    return registry.Check(name, ok=ok, skipped=skipped, detail=detail, duration_s=ms / 1000, kind=kind, fix=fix)


def result_all_ok() -> registry.RegistryTestResult:
    r = registry.RegistryTestResult(ref=REF, registry="registry.example.com", repository="team/cache-demo", tag="cache",
                                    scheme="https", auth_scheme="bearer", username="ci-bot")
    r.checks = [
        _check("resolve", detail="registry.example.com -> 203.0.113.7", ms=3),
        _check("connect", detail="TCP connection to 203.0.113.7:443 accepted", ms=12),
        _check("tls", detail="TLSv1.3, certificate valid (issuer Example CA, until Mar  1 00:00:00 2027 GMT)", ms=41),
        _check("ping", detail="registry/2.0 at https://registry.example.com; needs auth: Bearer (realm https://auth.example.com/token)", ms=38),
        _check("auth", detail="Bearer token for repository:team/cache-demo:pull,push as ci-bot", ms=95),
        _check("pull", detail="manifest found (application/vnd.oci.image.manifest.v1+json, 2143 bytes)", ms=44),
        _check("push", detail="push allowed (a blob upload was started and cancelled; nothing was written)", ms=61),
        _check("cache", detail="8 layers, 9.6 MB, 11 records, newest 2026-12-03T16:21:00Z (image-manifest form)", ms=57),
    ]
    r.cache = registry.CacheInfo(present=True, layers=8, size_bytes=9_612_345, updated="2026-12-03T16:21:00Z", records=11,
                                 form="image-manifest")
    return r


def result_unauthorized() -> registry.RegistryTestResult:
    r = registry.RegistryTestResult(ref=REF, registry="registry.example.com", repository="team/cache-demo", tag="cache",
                                    scheme="https", auth_scheme="basic", username="ci-bot")
    fix = "check the username and password (re-run `registry login` if the password changed)"
    r.checks = [
        _check("resolve", detail="registry.example.com -> 203.0.113.7", ms=3),
        _check("connect", detail="TCP connection to 203.0.113.7:443 accepted", ms=12),
        _check("tls", detail="TLSv1.3, certificate valid (issuer Example CA, until Mar  1 00:00:00 2027 GMT)", ms=41),
        _check("ping", detail="registry/2.0 at https://registry.example.com; needs auth: Basic (realm registry)", ms=38),
        _check("auth", ok=False, kind="unauthorized", fix=fix, ms=27,
               detail="registry.example.com rejected the username or password for ci-bot"),
    ] + [_check(n, ok=False, skipped=True, detail="skipped: the auth check failed", ms=0) for n in ("pull", "push", "cache")]
    r.cache = registry.CacheInfo()
    return r


def result_unreachable() -> registry.RegistryTestResult:
    ref = "127.0.0.1:5999/team/cache-demo:cache"
    r = registry.RegistryTestResult(ref=ref, registry="127.0.0.1:5999", repository="team/cache-demo", tag="cache")
    r.checks = [
        _check("resolve", detail="127.0.0.1 -> 127.0.0.1", ms=0),
        _check("connect", ok=False, kind="unreachable", ms=1,
               detail="cannot connect to 127.0.0.1:5999: Connection refused",
               fix="check that the registry is running and listening on that port (for the sandbox: `railpack-tui sandbox up`)"),
    ] + [_check(n, ok=False, skipped=True, detail="skipped: the connect check failed", ms=0)
         for n in ("tls", "ping", "auth", "pull", "push", "cache")]
    r.cache = registry.CacheInfo()
    return r
