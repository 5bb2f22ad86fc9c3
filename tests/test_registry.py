"""Registry checks against the real sandbox registry (distribution with htpasswd): every check
passes with the right credentials, a wrong password is `unauthorized`, nothing listening is
`unreachable`, an HTTP server that is not a registry is `not-a-registry`, and after a real BuildKit
cache export the `cache` check reports its layers and records (both cache manifest forms)."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from railpack_tui.core import cli, credentials, dockerconfig, registry, tools
from railpack_tui.core.credentials import Credential
from railpack_tui.core.errors import BadInput
from railpack_tui.core.netutil import free_port

pytestmark = pytest.mark.sandbox
CLI = str(Path(sys.executable).parent / "railpack-tui")


def _uploads_left(sandbox, repository: str) -> list[str]:
    """Upload data or start markers the registry still keeps for the repository."""
    root = Path(sandbox.dir) / "registry" / "docker" / "registry" / "v2" / "repositories" / repository / "_uploads"
    return [str(p) for p in root.rglob("*") if p.name in ("data", "startedat")] if root.exists() else []


def test_right_credentials_pass_every_check(sandbox, sandbox_credential, unique_ref):
    seen = []
    result = registry.run_checks(unique_ref, sandbox_credential, timeout=5, on_check=seen.append)
    assert [c.name for c in seen] == list(registry.CHECKS)  # live, in contract order
    assert seen == result.checks
    assert result.ok, result.to_json()
    by = {c.name: c for c in result.checks}
    assert all(by[n].ok and not by[n].skipped for n in ("resolve", "connect", "tls", "ping", "auth", "pull", "push"))
    assert by["tls"].detail.startswith("plain HTTP") and "loopback" in by["tls"].detail
    assert "Basic" in by["ping"].detail and "Basic" in by["auth"].detail
    assert "no cache yet" in by["pull"].detail
    assert by["cache"].skipped and result.cache.present is False
    assert result.error is None and result.scheme == "http" and result.auth_scheme == "basic"
    repo = unique_ref.split("/", 1)[1].rsplit(":", 1)[0]
    assert _uploads_left(sandbox, repo) == []
    assert "cancelled" in by["push"].detail
    # the push probe created no tag and no manifest
    auth = (sandbox_credential.username, sandbox_credential.password)
    tags = httpx.get(f"http://{sandbox.registry}/v2/{repo}/tags/list", auth=auth)
    assert tags.status_code == 404 or not (tags.json().get("tags") or [])


def test_result_json_matches_the_contract(sandbox, sandbox_credential, unique_ref):
    data = registry.run_checks(unique_ref, sandbox_credential).to_json()
    for key in ("ref", "registry", "repository", "tag", "ok", "checks", "cache", "error"):
        assert key in data
    assert data["registry"] == sandbox.registry and data["tag"] == unique_ref.rsplit(":", 1)[1]
    for c in data["checks"]:
        assert set(("name", "ok", "skipped", "detail", "duration_s")) <= set(c)
        assert isinstance(c["duration_s"], float) and c["duration_s"] >= 0
    assert set(("present", "layers", "size_bytes", "updated")) <= set(data["cache"])
    json.dumps(data)


def test_wrong_password_is_unauthorized(sandbox, sandbox_credential, unique_ref):
    wrong = Credential(sandbox.registry, sandbox_credential.username, sandbox_credential.password + "x")
    result = registry.run_checks(unique_ref, wrong)
    assert not result.ok
    assert result.error["kind"] == "unauthorized" and result.failed.name == "auth"
    assert "registry login" in result.error["fix"]
    assert [c.name for c in result.checks if c.skipped] == ["pull", "push", "cache"]
    assert wrong.password not in json.dumps(result.to_json())


def test_missing_credential_is_unauthorized(sandbox, unique_ref):
    result = registry.run_checks(unique_ref, None)
    assert result.error["kind"] == "unauthorized"
    assert "requires a login" in result.error["message"]


def test_a_port_with_nothing_is_unreachable():
    port = free_port()
    result = registry.run_checks(f"127.0.0.1:{port}/team/cache:main", None, timeout=2)
    assert result.error["kind"] == "unreachable" and result.failed.name == "connect"
    assert [c.name for c in result.checks] == list(registry.CHECKS)
    assert all(c.skipped for c in result.checks[2:])


def test_an_unknown_host_is_unreachable_at_resolve():
    result = registry.run_checks("no-such-host.invalid/team/cache:main", None, timeout=3)
    assert result.failed.name == "resolve" and result.error["kind"] in ("unreachable", "timeout")


def test_a_silent_port_times_out_instead_of_hanging():
    """A socket that accepts TCP (kernel backlog) but never speaks: the TLS step gives up."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        result = registry.run_checks(f"127.0.0.1:{port}/team/cache:main", None, timeout=0.5)
    assert result.failed.name == "tls" and result.error["kind"] == "timeout"


@pytest.fixture()
def plain_http_server(tmp_path):
    """A real HTTP server (Python's) that is not a registry."""
    (tmp_path / "index.html").write_text("<h1>hello</h1>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_an_http_server_that_is_not_a_registry(plain_http_server):
    result = registry.run_checks(f"127.0.0.1:{plain_http_server}/team/cache:main", None, timeout=3)
    assert result.failed.name == "ping" and result.error["kind"] == "not-a-registry"
    assert "HTTP 404" in result.error["message"] and "host and port" in result.error["fix"]


def test_bad_inputs_raise_before_any_network(tmp_path):
    with pytest.raises(BadInput) as e:
        registry.run_checks("https://reg.io/a:b")
    assert e.value.kind == "invalid-ref"
    with pytest.raises(BadInput):
        registry.run_checks("reg.io/a:b", ca_cert=tmp_path / "missing.pem")
    with pytest.raises(BadInput):
        registry.run_checks("reg.io/a:b", timeout=0)


def test_for_registry_finds_the_sandbox_credential(sandbox, sandbox_credential, tmp_path, monkeypatch):
    monkeypatch.setenv("RAILPACK_TUI_CONFIG_DIR", str(tmp_path / "cfg"))  # no saved names
    got = credentials.for_registry(sandbox.registry)
    assert got is not None and got.password == sandbox_credential.password
    assert got.source in ("sandbox", "keyring")
    assert credentials.for_registry("elsewhere.example:5000") is None


# --- after a real cache export ------------------------------------------------------------------

def _buildctl(sandbox, cred, project, *extra):
    with dockerconfig.temporary([cred]) as cfg:
        env = dict(os.environ, BUILDKIT_HOST=sandbox.buildkit_host, DOCKER_CONFIG=str(cfg))
        r = subprocess.run([tools.require("buildctl", "for the cache test"), "build", "--frontend", "dockerfile.v0",
                            "--local", f"context={project}", "--local", f"dockerfile={project}", *extra],
                           env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def _independent_count(sandbox, cred, ref):
    """Read the cache straight from the registry: distinct layer blobs and records."""
    repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
    auth = (cred.username, cred.password)
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
    m = httpx.get(f"http://{sandbox.registry}/v2/{repo}/manifests/{tag}", auth=auth, headers={"Accept": accept}).json()
    descs = m.get("manifests") or [m["config"]]
    cfg_digest = next(d["digest"] for d in descs if d["mediaType"] == registry.CACHE_CONFIG_MEDIA_TYPE)
    cfg = httpx.get(f"http://{sandbox.registry}/v2/{repo}/blobs/{cfg_digest}", auth=auth, follow_redirects=True).json()
    return len({ly["blob"] for ly in cfg["layers"]}), len(cfg["records"])


@pytest.mark.slow
@pytest.mark.parametrize("form,extra", [("image-manifest", ",image-manifest=true,oci-mediatypes=true"),
                                        ("index", ",image-manifest=false")])
def test_cache_reports_layers_and_records_after_a_real_export(sandbox, sandbox_credential, example_project, unique_ref, form, extra):
    started = datetime.now(timezone.utc) - timedelta(seconds=5)
    before = registry.run_checks(unique_ref, sandbox_credential)
    assert before.ok and before.cache.present is False
    (example_project / "src" / "fresh.txt").write_text(uuid.uuid4().hex)  # new layers, dated now
    _buildctl(sandbox, sandbox_credential, example_project, "--export-cache", f"type=registry,ref={unique_ref},mode=max{extra}")
    result = registry.run_checks(unique_ref, sandbox_credential)
    assert result.ok, result.to_json()
    c = result.cache
    layers, records = _independent_count(sandbox, sandbox_credential, unique_ref)
    assert c.present and c.form == form
    assert (c.layers, c.records) == (layers, records)
    assert c.layers >= 3 and c.records >= c.layers
    assert c.size_bytes > 1_000_000  # the static busybox layer alone is over a megabyte
    updated = datetime.strptime(c.updated, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert started - timedelta(seconds=1) <= updated <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert c.manifest_digest and c.manifest_digest.startswith("sha256:")
    by = {ch.name: ch for ch in result.checks}
    assert "manifest found" in by["pull"].detail and f"{c.layers} layers" in by["cache"].detail


@pytest.mark.slow
def test_an_image_where_the_cache_should_be_is_reported(sandbox, sandbox_credential, example_project, unique_ref):
    _buildctl(sandbox, sandbox_credential, example_project, "--output", f"type=image,name={unique_ref},push=true")
    result = registry.run_checks(unique_ref, sandbox_credential)
    assert result.failed.name == "cache" and result.error["kind"] == "error"
    assert "not a BuildKit cache" in result.error["message"] and "tag of its own" in result.error["fix"]


# --- the command line -----------------------------------------------------------------------------

def _cli(*args, password=None, env=None):
    return subprocess.run([CLI, *args], input=(password or "").encode(), capture_output=True, timeout=60,
                          env=env or dict(os.environ))


def test_cli_exit_codes_and_json(sandbox, sandbox_credential, unique_ref):
    ok = _cli("registry", "test", unique_ref, "-u", sandbox_credential.username, "--password-stdin", "--json",
              password=sandbox_credential.password)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    bad = _cli("registry", "test", unique_ref, "-u", sandbox_credential.username, "--password-stdin", "--json",
               password="wrong-password")
    data = json.loads(bad.stdout)
    assert bad.returncode == 1 and data["error"]["kind"] == "unauthorized"
    inv = _cli("registry", "test", "HTTPS://Reg.io/App", "--json")
    data = json.loads(inv.stdout)
    assert inv.returncode == 2 and data["ok"] is False and data["error"]["kind"] == "invalid-ref"
    text = _cli("registry", "test", "reg.io/App:x")
    assert text.returncode == 2 and b"lowercase" in text.stderr and b"Traceback" not in text.stderr
    for r in (ok, bad):
        assert sandbox_credential.password.encode() not in r.stdout + r.stderr


def test_cli_text_output_shows_every_check(sandbox, sandbox_credential, unique_ref):
    r = _cli("registry", "test", unique_ref, "-u", sandbox_credential.username, "--password-stdin",
             password=sandbox_credential.password)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    for name in registry.CHECKS:
        assert f" {name} " in out
    assert "all checks passed" in out and "none yet" in out


def test_cancel_stops_before_the_next_check(sandbox, sandbox_credential, unique_ref):
    cancel = threading.Event()
    seen = []

    def on_check(check):
        seen.append(check.name)
        if check.name == "ping":
            cancel.set()

    result = registry.run_checks(unique_ref, sandbox_credential, on_check=on_check, cancel=cancel)
    assert result.cancelled and not result.ok and result.error["message"] == "the checks were cancelled"
    assert [c.name for c in result.checks] == list(registry.CHECKS)
    assert all(c.skipped and c.detail == "skipped: cancelled" for c in result.checks[4:])
    assert all(c.ok for c in result.checks[:4])


def test_a_broken_on_check_callback_does_not_break_the_checks(sandbox, sandbox_credential, unique_ref):
    def on_check(check):
        raise RuntimeError("a buggy widget")

    assert registry.run_checks(unique_ref, sandbox_credential, on_check=on_check).ok


@pytest.mark.parametrize("timeout", ["nan", "inf", "1e308", "-inf"])
def test_a_timeout_that_is_not_a_finite_number_is_bad_input(timeout, capsys):
    """`--timeout nan` once ran every check with "took longer than nans"; `inf` overflowed the
    waits into an "unexpected failure". Both are bad input: exit 2 before any network."""
    with pytest.raises(BadInput) as e:
        registry.run_checks("reg.io/a:b", timeout=float(timeout))
    assert "--timeout" in e.value.fix
    assert cli.main(["registry", "test", "127.0.0.1:1/a:b", "--timeout", timeout, "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and "timeout" in data["error"]["message"].lower()


def test_a_ca_cert_that_is_a_directory_says_so(tmp_path):
    with pytest.raises(BadInput) as e:
        registry.run_checks("reg.io/a:b", ca_cert=tmp_path)
    assert "is a directory" in e.value.message
