"""Build requests without building: validation, the pasteable command line of each engine
(python-on-whales builds buildx's argv), what history gets, and the buildx builder lookups."""

from __future__ import annotations

import shlex

import pytest

from railpack_tui.core import builders
from railpack_tui.core.errors import BadInput, EnvironmentProblem
from railpack_tui.core.runner import BuildRequest, BuildRun, make_engine

REF = "registry.example.com:5000/team/app-cache:main"
UNIX = builders.Builder(addr="unix:///run/bk.sock", source="flag")


def test_validate_rejects_bad_input(example_project, tmp_path):
    with pytest.raises(BadInput):
        BuildRequest(path=str(tmp_path / "missing")).validate()
    with pytest.raises(BadInput):
        BuildRequest(path=str(example_project), cache_ref="UPPER/case:ref").validate()
    with pytest.raises(BadInput):
        BuildRequest(path=str(example_project), mode="medium").validate()
    with pytest.raises(BadInput):
        BuildRequest(path=str(tmp_path)).validate()  # no Dockerfile
    BuildRequest(path=str(tmp_path), engine="railpack").validate()  # railpack needs none


def test_buildkit_command_line(example_project):
    req = BuildRequest(path=str(example_project), cache_ref=REF, build_args={"APP_VERSION": "2 beta"},
                       ignore_export_error=True, target="build", output="push=registry.example.com/team/app:1")
    line = req.command_line(UNIX)
    assert line.startswith('DOCKER_CONFIG="${DOCKER_CONFIG:-$HOME/.docker}" buildctl --addr unix:///run/bk.sock build ')
    argv = shlex.split(line.split(" ", 1)[1])
    assert ["--import-cache", f"type=registry,ref={REF}"] == argv[argv.index("--import-cache"):][:2]
    assert f"type=registry,ref={REF},mode=max,ignore-error=true" in argv
    assert "build-arg:APP_VERSION=2 beta" in argv and "target=build" in argv
    assert "type=image,name=registry.example.com/team/app:1,push=true" in argv

    none = BuildRequest(path=str(example_project), cache_ref=REF, no_import=True, no_export=True, no_cache=True)
    argv = shlex.split(none.command_line(UNIX))
    assert "--import-cache" not in argv and "--export-cache" not in argv and "--no-cache" in argv


def test_buildx_command_line_comes_from_python_on_whales(example_project):
    req = BuildRequest(path=str(example_project), cache_ref=REF, engine="buildx", mode="min")
    argv = shlex.split(req.command_line(builders.Builder(addr=None, source="flag", buildx_name="ci")))
    assert argv[1:4] == ["docker", "buildx", "build"]
    assert argv[argv.index("--builder") + 1] == "ci"
    assert argv[argv.index("--progress") + 1] == "rawjson"
    assert argv[argv.index("--cache-from") + 1] == f"type=registry,ref={REF}"
    assert argv[argv.index("--cache-to") + 1] == f"type=registry,ref={REF},mode=min"
    assert argv[-1] == str(example_project.resolve())


def test_tls_dir_and_secrets_never_in_argv(example_project, tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    tls = builders.TLS.from_dir(tmp_path)
    line = BuildRequest(path=str(example_project)).command_line(builders.Builder(addr="tcp://bk:1234", source="flag", tls=tls))
    assert f"--tlscacert {tmp_path}/ca.pem --tlscert {tmp_path}/cert.pem --tlskey {tmp_path}/key.pem" in line
    with pytest.raises(BadInput):
        builders.TLS.from_dir(tmp_path / "nope")


def test_to_info_for_history(example_project):
    info = BuildRequest(path=str(example_project), cache_ref=REF, engine="buildx", no_export=True,
                        build_args={"A": "1"}).to_info()
    assert info["engine"] == "buildx" and info["cache_ref"] == REF and info["no_export"] is True
    assert info["build_args"] == {"A": "1"} and info["project"] == str(example_project.resolve())
    assert set(info) >= {"engine", "builder", "cache_ref", "mode", "no_import", "no_export", "no_cache", "build_args", "project"}


def test_unknown_engine_and_missing_builder(example_project, monkeypatch, tmp_path):
    with pytest.raises(BadInput):
        make_engine("kaniko", UNIX)
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    monkeypatch.setenv("RAILPACK_TUI_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    result = BuildRun(BuildRequest(path=str(example_project))).run()
    assert isinstance(result.error, EnvironmentProblem) and result.error.kind == "no-builder"
    assert "sandbox up" in result.error.fix


def test_cancel_before_the_build_starts(example_project):
    run = BuildRun(BuildRequest(path=str(example_project), builder="unix:///nonexistent.sock"))
    run.cancel()
    result = run.run()
    assert result.cancelled and result.error is None and result.status == "cancelled"
    assert result.returncode is None  # nothing was started, not even the builder probe
