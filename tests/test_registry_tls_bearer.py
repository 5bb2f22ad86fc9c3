"""Registry checks against second, real `docker-registry` processes started by the test:
- served over TLS with a self-signed certificate generated here: `tls` unless --insecure or the
  certificate is given with --ca-cert (and a host name the certificate does not cover is `tls`);
- plain HTTP on a non-loopback address: `tls` unless --insecure; an IPv6 loopback registry passes;
- token (Bearer) auth, with a token-server TEST DOUBLE issuing real signed JWTs the registry
  verifies: the scope requested is repository:NAME:pull,push; a wrong password is `unauthorized`;
  a pull-only account fails the push check as `forbidden`.
"""

import base64
import datetime as dt
import http.server
import ipaddress
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from railpack_tui.core import registry, tools
from railpack_tui.core.credentials import Credential
from railpack_tui.core.netutil import free_port

pytestmark = pytest.mark.sandbox

crypto = pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def _ref(registry_addr: str) -> str:
    return f"{registry_addr}/tests/tls-bearer-{uuid.uuid4().hex[:10]}:t1"


def _self_signed(tmp: Path, cn: str, ips=(), dns=(), age_days: int = 0) -> tuple[Path, Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=age_days)
    san = [x509.IPAddress(ipaddress.ip_address(i)) for i in ips] + [x509.DNSName(d) for d in dns]
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    cert_pem = tmp / f"{cn.replace(' ', '-')}.crt"
    key_pem = tmp / f"{cn.replace(' ', '-')}.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))
    os.chmod(key_pem, 0o600)
    return cert_pem, key_pem, key, cert


class RegistryProcess:
    """A real docker-registry (distribution 2.8) on a port of its own; stopped by its pid."""

    def __init__(self, tmp: Path, listen: str, *, tls: tuple[Path, Path] | None = None, auth: str = "") -> None:
        self.dir = tmp / f"registry-{uuid.uuid4().hex[:6]}"
        self.dir.mkdir()
        cfg = ("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
               f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'storage'}\n  delete:\n    enabled: true\n"
               f"http:\n  addr: \"{listen}\"\n  secret: {uuid.uuid4().hex}\n")
        if tls:
            cfg += f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n"
        cfg += auth
        (self.dir / "config.yml").write_text(cfg)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self.log = open(self.dir / "registry.log", "wb")
        self.proc = subprocess.Popen([tools.require("docker-registry", "for the TLS/Bearer tests"), "serve", str(self.dir / "config.yml")],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        host, _, port = listen.rpartition(":")
        host = host.strip("[]")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {(self.dir / 'registry.log').read_text()[-2000:]}")
            try:
                socket.create_connection((host, int(port)), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("docker-registry did not start listening")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture()
def registries(tmp_path):
    if tools.find("docker-registry") is None:
        pytest.skip("docker-registry is not installed (scripts/install-tools)")
    started = []

    def start(*a, **kw):
        r = RegistryProcess(tmp_path, *a, **kw)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def _htpasswd_auth(sandbox) -> str:
    return f"auth:\n  htpasswd:\n    realm: rt-test\n    path: {Path(sandbox.dir) / 'htpasswd'}\n"


# --- TLS with a self-signed certificate --------------------------------------------------------------

@pytest.fixture()
def tls_registry(sandbox, registries, tmp_path):
    cert, key, _, _ = _self_signed(tmp_path, "railpack-tui test registry", ips=["127.0.0.1"])
    port = free_port()
    registries(f"127.0.0.1:{port}", tls=(cert, key), auth=_htpasswd_auth(sandbox))
    return f"127.0.0.1:{port}", cert


def test_self_signed_tls_is_a_tls_failure_by_default(tls_registry, sandbox_credential):
    addr, _ = tls_registry
    cred = Credential(addr, sandbox_credential.username, sandbox_credential.password)
    result = registry.run_checks(_ref(addr), cred, timeout=5)
    assert result.failed.name == "tls" and result.error["kind"] == "tls"
    assert "self-signed" in result.error["message"] or "self signed" in result.error["message"]
    assert "--ca-cert" in result.error["fix"] and "--insecure" in result.error["fix"]
    assert all(c.skipped for c in result.checks[3:])


def test_self_signed_tls_passes_with_insecure(tls_registry, sandbox_credential):
    addr, _ = tls_registry
    cred = Credential(addr, sandbox_credential.username, sandbox_credential.password)
    result = registry.run_checks(_ref(addr), cred, insecure=True, timeout=5)
    assert result.ok, result.to_json()
    assert result.scheme == "https" and "UNVERIFIED" in result.checks[2].detail


def test_self_signed_tls_passes_with_its_ca(tls_registry, sandbox_credential):
    addr, cert = tls_registry
    cred = Credential(addr, sandbox_credential.username, sandbox_credential.password)
    result = registry.run_checks(_ref(addr), cred, ca_cert=cert, timeout=5)
    assert result.ok, result.to_json()
    tls = result.checks[2]
    assert result.scheme == "https" and "certificate valid" in tls.detail and "--ca-cert" in tls.detail


def test_a_host_name_the_certificate_does_not_cover_is_tls(tls_registry, sandbox_credential):
    addr, cert = tls_registry
    port = addr.rsplit(":", 1)[1]
    result = registry.run_checks(_ref(f"localhost:{port}"), None, ca_cert=cert, timeout=5)
    assert result.failed.name == "tls" and result.error["kind"] == "tls"
    assert "mismatch" in result.error["message"].lower() or "not valid for" in result.error["message"].lower()
    assert "host name the certificate was issued for" in result.error["fix"]


def test_an_expired_certificate_is_tls_even_with_its_ca(sandbox, registries, tmp_path):
    cert, key, _, _ = _self_signed(tmp_path, "expired test registry", ips=["127.0.0.1"], age_days=30)
    port = free_port()
    registries(f"127.0.0.1:{port}", tls=(cert, key), auth=_htpasswd_auth(sandbox))
    result = registry.run_checks(_ref(f"127.0.0.1:{port}"), None, ca_cert=cert, timeout=5)
    assert result.failed.name == "tls" and result.error["kind"] == "tls"
    assert "expired" in result.error["message"] and "validity dates" in result.error["fix"]


def test_cli_ca_cert_and_insecure_flags(tls_registry, sandbox_credential):
    import sys

    addr, cert = tls_registry
    cli = str(Path(sys.executable).parent / "railpack-tui")
    base = [cli, "registry", "test", _ref(addr), "-u", sandbox_credential.username, "--password-stdin", "--json", "--timeout", "5"]
    pw = sandbox_credential.password.encode()
    plain = subprocess.run(base, input=pw, capture_output=True, timeout=60)
    assert plain.returncode == 1 and json.loads(plain.stdout)["error"]["kind"] == "tls"
    with_ca = subprocess.run(base + ["--ca-cert", str(cert)], input=pw, capture_output=True, timeout=60)
    assert with_ca.returncode == 0, with_ca.stdout
    insecure = subprocess.run(base + ["--insecure"], input=pw, capture_output=True, timeout=60)
    assert insecure.returncode == 0, insecure.stdout
    missing = subprocess.run(base + ["--ca-cert", str(cert) + ".missing"], input=pw, capture_output=True, timeout=60)
    assert missing.returncode == 2


# --- plain HTTP off loopback, and IPv6 loopback --------------------------------------------------------

def _non_loopback_ipv4() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(ip).is_loopback else ip


def test_plain_http_off_loopback_needs_insecure(registries):
    ip = _non_loopback_ipv4()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    port = free_port(ip)
    registries(f"{ip}:{port}")
    refused = registry.run_checks(_ref(f"{ip}:{port}"), None, timeout=5)
    assert refused.failed.name == "tls" and refused.error["kind"] == "tls"
    assert "--insecure" in refused.error["fix"]
    allowed = registry.run_checks(_ref(f"{ip}:{port}"), None, insecure=True, timeout=5)
    assert allowed.ok, allowed.to_json()
    assert allowed.scheme == "http" and "--insecure" in allowed.checks[2].detail
    assert "no authentication required" in allowed.checks[4].detail


def test_an_ipv6_loopback_registry(registries):
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    registries(f"[::1]:{port}")
    result = registry.run_checks(_ref(f"[::1]:{port}"), None, timeout=5)
    assert result.ok, result.to_json()
    assert result.registry == f"[::1]:{port}" and "::1" in result.checks[0].detail


# --- Bearer token auth with a token-server test double ------------------------------------------------

class TokenServerTestDouble:
    """A TEST DOUBLE of a registry token server (docker/distribution token auth spec): checks Basic
    credentials of its own accounts and issues ES256 JWTs signed with a key whose self-signed
    certificate (in `x5c`) the real registry trusts through `rootcertbundle`."""

    ISSUER = "railpack-tui-test-token-double"
    SERVICE = "railpack-tui-test-registry"

    def __init__(self, tmp: Path, accounts: dict[str, tuple[str, set[str]]]) -> None:
        self.cert_pem, _, self.key, self.cert = _self_signed(tmp, "token double signer")
        self.accounts = accounts
        self.requests: list[dict] = []
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                user = None
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                    if double.accounts.get(user, (None,))[0] != pw:
                        user = "!bad"
                double.requests.append({"query": q, "user": user})
                if user is None or user == "!bad":
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                    return
                token = double.token(user, q.get("scope", ""))
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def token(self, user: str, scope: str) -> str:
        access = []
        for item in scope.split(" "):
            parts = item.split(":")
            if len(parts) == 3 and parts[0] == "repository":
                granted = [a for a in parts[2].split(",") if a in self.accounts[user][1]]
                access.append({"type": "repository", "name": parts[1], "actions": granted})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256",
                  "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": self.ISSUER, "sub": user, "aud": self.SERVICE, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def registry_auth_yaml(self) -> str:
        return (f"auth:\n  token:\n    realm: {self.realm}\n    service: {self.SERVICE}\n"
                f"    issuer: {self.ISSUER}\n    rootcertbundle: {self.cert_pem}\n")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def bearer_registry(registries, tmp_path):
    double = TokenServerTestDouble(tmp_path, {"writer": ("writer-pw", {"pull", "push"}), "reader": ("reader-pw", {"pull"})})
    port = free_port()
    registries(f"127.0.0.1:{port}", auth=double.registry_auth_yaml())
    yield f"127.0.0.1:{port}", double
    double.close()


def test_bearer_token_flow_passes_every_check(bearer_registry):
    addr, double = bearer_registry
    ref = _ref(addr)
    repo = ref.split("/", 1)[1].rsplit(":", 1)[0]
    result = registry.run_checks(ref, Credential(addr, "writer", "writer-pw"), timeout=5)
    assert result.ok, result.to_json()
    assert result.auth_scheme == "bearer"
    by = {c.name: c for c in result.checks}
    assert "Bearer" in by["ping"].detail and f"repository:{repo}:pull,push" in by["auth"].detail
    asked = [r["query"] for r in double.requests if r["user"] == "writer"]
    assert asked and asked[0]["scope"] == f"repository:{repo}:pull,push"
    assert asked[0]["service"] == TokenServerTestDouble.SERVICE and asked[0]["account"] == "writer"


def test_bearer_wrong_password_is_unauthorized(bearer_registry):
    addr, _ = bearer_registry
    result = registry.run_checks(_ref(addr), Credential(addr, "writer", "nope"), timeout=5)
    assert result.failed.name == "auth" and result.error["kind"] == "unauthorized"
    assert "token server" in result.error["message"]


def test_bearer_anonymous_is_unauthorized(bearer_registry):
    addr, _ = bearer_registry
    result = registry.run_checks(_ref(addr), None, timeout=5)
    assert result.error["kind"] == "unauthorized"


def test_bearer_pull_only_account_cannot_push(bearer_registry):
    addr, _ = bearer_registry
    result = registry.run_checks(_ref(addr), Credential(addr, "reader", "reader-pw"), timeout=5)
    by = {c.name: c for c in result.checks}
    assert by["auth"].ok and by["pull"].ok
    assert not by["push"].ok and by["push"].kind == "forbidden"
    assert result.error["kind"] == "forbidden" and "push" in result.error["fix"]
