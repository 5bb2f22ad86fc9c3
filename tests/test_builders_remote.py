"""Builders beyond the sandbox socket: a second, independent buildkitd reached over tcp:// with TLS
client certificates (generated here with openssl); the stateless-CI story (worker A exports,
worker B with an empty local cache imports and every step is cached); unreachable builders
fail with a clear error in seconds."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from railpack_tui.core import builders, netutil, tools
from railpack_tui.core.errors import BadInput, EnvironmentProblem
from railpack_tui.core.runner import BuildRequest, run_build

pytestmark = pytest.mark.sandbox


def _missing(what: str) -> None:
    """Skip locally; under CI (RAILPACK_TUI_REQUIRE_SANDBOX) a missing tool is a failure."""
    if os.environ.get("RAILPACK_TUI_REQUIRE_SANDBOX", "").lower() in ("1", "true", "yes"):
        pytest.fail(what)
    pytest.skip(what)


def _openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def make_certs(d: Path) -> tuple[Path, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate; returns (server dir, client dir)."""
    if shutil.which("openssl") is None:
        _missing("openssl is not installed")
    server, client = d / "server", d / "client"
    server.mkdir(parents=True)
    client.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=railpack-tui-test-ca", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=railpack-tui-test-{name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    for target in (server, client):
        shutil.copy2(d / "ca.pem", target / "ca.pem")
    shutil.copy2(d / "server.pem", server / "cert.pem")
    shutil.copy2(d / "server.key", server / "key.pem")
    shutil.copy2(d / "client.pem", client / "cert.pem")
    shutil.copy2(d / "client.key", client / "key.pem")
    return server, client


@pytest.fixture(scope="module")
def tls_worker(sandbox, tmp_path_factory):
    """Worker B: its own buildkitd (own root, empty cache) on tcp://127.0.0.1:PORT with mutual TLS."""
    d = tmp_path_factory.mktemp("worker-b")
    server, client = make_certs(d / "certs")
    port = netutil.free_port()
    cfg = d / "buildkitd.toml"
    cfg.write_text(Path(sandbox.dir, "buildkitd.toml").read_text())
    addr = f"tcp://127.0.0.1:{port}"
    log = open(d / "buildkitd.log", "wb")
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin")
    proc = subprocess.Popen([tools.require("buildkitd", "tests"), "--root", str(d / "root"), "--addr", addr,
                             "--config", str(cfg), "--tlscacert", str(server / "ca.pem"),
                             "--tlscert", str(server / "cert.pem"), "--tlskey", str(server / "key.pem"),
                             "--otel-socket-path", str(d / "otel.sock")],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    builder = builders.Builder(addr=addr, source="flag", tls=builders.TLS.from_dir(client))
    deadline = time.monotonic() + 60
    while True:
        try:
            builders.check(builder, timeout=2)
            break
        except EnvironmentProblem:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker B did not start: {(d / 'buildkitd.log').read_text()[-2000:]}")
            time.sleep(0.3)
    yield {"addr": addr, "client": client, "server": server, "dir": d}
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    log.close()


def test_tls_builder_needs_client_certs(tls_worker):
    with pytest.raises(EnvironmentProblem) as exc:
        builders.check(builders.resolve(tls_worker["addr"]))
    assert exc.value.kind == "unreachable" and "--tls-dir" in exc.value.fix
    workers = builders.check(builders.resolve(tls_worker["addr"], tls=builders.TLS.from_dir(tls_worker["client"])))
    assert "linux/amd64" in workers or "ID" in workers


def test_two_workers_share_one_registry_cache(sandbox, tls_worker, example_project, unique_ref):
    """The stateless-CI story: A exports, B (empty local cache, other machine in spirit) imports."""
    on_a = run_build(BuildRequest(path=str(example_project), cache_ref=unique_ref, builder=sandbox.buildkit_host))
    assert on_a.status == "success", on_a.model.error
    assert [o.state for o in on_a.model.cache_export] == ["ok"]

    subprocess.run([tools.find("buildctl"), "--addr", tls_worker["addr"],
                    *builders.TLS.from_dir(tls_worker["client"]).buildctl_args(), "prune", "--all"],
                   capture_output=True, timeout=120, check=True)
    on_b = run_build(BuildRequest(path=str(example_project), cache_ref=unique_ref, builder=tls_worker["addr"],
                                  tls_dir=str(tls_worker["client"]), no_export=True))
    assert on_b.error is None, on_b.error
    assert on_b.status == "success", on_b.model.error
    assert on_b.builder == tls_worker["addr"]
    assert [o.state for o in on_b.model.cache_import] == ["ok"]
    steps = {s.name: s.state for s in on_b.model.steps}
    assert len(steps) >= 7 and set(steps.values()) == {"cached"}, steps
    assert "--tlscert" in on_b.command_line and "--tlskey" in on_b.command_line


@pytest.mark.parametrize("addr", [
    "unix:///nonexistent/buildkitd.sock",
    "tcp://127.0.0.1:{free}",
    "tcp://10.255.255.1:1234",  # nothing answers, packets vanish: must not hang
    "docker-container://railpack-tui-no-such-container",
])
def test_unreachable_builder_is_a_clear_error(addr, example_project):
    addr = addr.format(free=netutil.free_port())
    t0 = time.monotonic()
    result = run_build(BuildRequest(path=str(example_project), builder=addr))
    elapsed = time.monotonic() - t0
    assert isinstance(result.error, EnvironmentProblem), result.error
    assert result.error.exit_code == 3 and addr in result.error.message
    assert result.returncode is None
    assert elapsed < 20, f"took {elapsed:.1f}s: a hang guard, not a benchmark"


def test_builder_resolution(monkeypatch, sandbox):
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    assert builders.resolve(None).addr == sandbox.buildkit_host
    assert builders.resolve(None).source == "sandbox"
    monkeypatch.setenv("BUILDKIT_HOST", "tcp://example.invalid:1234")
    assert builders.resolve(None).source == "BUILDKIT_HOST"
    assert builders.resolve("mybuilder").buildx_name == "mybuilder"
    assert builders.resolve("docker-container://bk").kind == "docker-container"
    with pytest.raises(BadInput):
        builders.resolve("ftp://x")
    with pytest.raises(BadInput):
        builders.resolve("not a builder")


def test_demo_takes_tls_dir_for_a_tls_builder(sandbox, sandbox_credential, tls_worker, tmp_path, unique_ref, capsys):
    """An unreachable tcp:// builder's fix tells `demo` to pass client certificates with --tls-dir
    DIR; demo had no such flag (argparse refused it, exit 2). With the certificates the demo runs
    its prunes and both builds on the TLS worker."""
    import json

    from railpack_tui.core import cli
    from support.busybox import copy_unique_busybox

    project = tmp_path / "tls-demo"
    project.mkdir()
    (project / "Dockerfile").write_text('FROM scratch\nCOPY --chmod=755 busybox /bin/busybox\n'
                                        'RUN ["/bin/busybox", "true"]\n')
    copy_unique_busybox(project / "busybox")

    code = cli.main(["demo", str(project), "--cache-ref", unique_ref, "--builder", tls_worker["addr"], "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 3 and error["kind"] == "unreachable" and "--tls-dir DIR" in error["message"], error

    code = cli.main(["demo", str(project), "--cache-ref", unique_ref, "--builder", tls_worker["addr"],
                     "--tls-dir", str(tls_worker["client"]), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0, data
    assert data["builder"] == tls_worker["addr"] and len(data["pruned"]) == 2
    assert data["cold"]["status"] == data["warm"]["status"] == "success"
    assert data["warm"]["cached"] == data["warm"]["steps"] == 2
