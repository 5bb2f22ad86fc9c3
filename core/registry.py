"""Will this cache ref work, and what is in it? The registry checks behind `registry test` and the
TUI's registry panel: resolve, connect, tls, ping, auth, pull, push, cache — in that order, each
with its time, a one-line detail, and for a failure an error kind and a fix.

    result = run_checks("127.0.0.1:5000/team/cache:main", credential, timeout=5,
                        on_check=lambda check: ...)   # called as each check completes
    result.ok, result.to_json()                        # the JSON of the CLI contract

Nothing here blocks longer than `timeout` per network step. The push check starts a blob upload
and cancels it: nothing is left in the registry. `run_checks` never raises for a network problem;
a bad reference raises `BadInput` (exit 2).
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import math
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

import httpx

from . import refs
from .credentials import Credential
from .errors import BadInput

CHECKS = ("resolve", "connect", "tls", "ping", "auth", "pull", "push", "cache")
ERROR_KINDS = ("invalid-ref", "unreachable", "tls", "not-a-registry", "unauthorized", "forbidden", "timeout", "error")
CACHE_CONFIG_MEDIA_TYPE = "application/vnd.buildkit.cacheconfig.v0"
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])
CONFIG_MAX_BYTES = 64 * 1024 * 1024
USER_AGENT = "railpack-tui-registry-test"
TIMEOUT_MAX = 3600  # seconds per check; more is a typo (and inf overflows the socket and thread waits)


@dataclass
class Check:
    name: str
    ok: bool = False
    skipped: bool = False
    detail: str = ""
    duration_s: float = 0.0
    kind: str | None = None  # an ERROR_KINDS value when the check failed
    fix: str | None = None

    def to_json(self) -> dict:
        d = {"name": self.name, "ok": self.ok, "skipped": self.skipped, "detail": self.detail,
             "duration_s": round(self.duration_s, 4)}
        if not self.ok and not self.skipped:
            d["kind"] = self.kind
            d["fix"] = self.fix
        return d


@dataclass
class CacheInfo:
    present: bool = False
    layers: int = 0
    size_bytes: int = 0
    updated: str | None = None
    records: int = 0
    form: str | None = None  # image-manifest | index
    manifest_digest: str | None = None

    def to_json(self) -> dict:
        return {"present": self.present, "layers": self.layers, "size_bytes": self.size_bytes, "updated": self.updated,
                "records": self.records, "form": self.form, "manifest_digest": self.manifest_digest}


@dataclass
class RegistryTestResult:
    ref: str
    registry: str
    repository: str
    tag: str | None
    checks: list[Check] = field(default_factory=list)
    cache: CacheInfo = field(default_factory=CacheInfo)
    scheme: str | None = None
    auth_scheme: str | None = None
    username: str | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not self.cancelled and all(c.ok or c.skipped for c in self.checks)

    @property
    def failed(self) -> Check | None:
        return next((c for c in self.checks if not c.ok and not c.skipped), None)

    @property
    def error(self) -> dict | None:
        f = self.failed
        if f is None:
            if self.cancelled:
                return {"kind": "error", "message": "the checks were cancelled", "fix": "run them again"}
            return None
        return {"kind": f.kind or "error", "message": f"{f.name}: {f.detail}", "fix": f.fix}

    def to_json(self) -> dict:
        return {"ref": self.ref, "registry": self.registry, "repository": self.repository, "tag": self.tag,
                "ok": self.ok, "checks": [c.to_json() for c in self.checks], "cache": self.cache.to_json(),
                "scheme": self.scheme, "auth": self.auth_scheme, "username": self.username, "cancelled": self.cancelled,
                "error": self.error}


class _Fail(Exception):
    def __init__(self, kind: str, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.fix = kind, detail, fix


# --- helpers ----------------------------------------------------------------------------------

def _resolve(host: str, port: int, timeout: float) -> list[tuple]:
    """getaddrinfo has no timeout of its own: run it in a thread we stop waiting for."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        fut = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        return fut.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise _Fail("timeout", f"resolving {host} took longer than {timeout:g}s", "check your DNS settings, or raise --timeout") from None
    except socket.gaierror as exc:
        raise _Fail("unreachable", f"cannot resolve {host}: {exc.strerror or exc}",
                    "check the registry host name for typos, and your DNS / network connection") from None
    finally:
        pool.shutdown(wait=False)


def _connect(addrs: list[tuple], timeout: float) -> tuple:
    last: Exception | None = None
    for family, type_, proto, _, sockaddr in addrs:
        s = socket.socket(family, type_, proto)
        s.settimeout(timeout)
        try:
            s.connect(sockaddr)
            return sockaddr
        except socket.timeout as exc:
            last = exc
        except OSError as exc:
            last = exc
        finally:
            s.close()
    if isinstance(last, socket.timeout):
        raise _Fail("timeout", f"no answer from {_fmt_addr(addrs[0][4])} within {timeout:g}s (a firewall may drop the packets)",
                    "check the host and port, your VPN / firewall, or raise --timeout")
    msg = getattr(last, "strerror", None) or str(last)
    raise _Fail("unreachable", f"cannot connect to {_fmt_addr(addrs[0][4])}: {msg}",
                "check that the registry is running and listening on that port (for the sandbox: `railpack-tui sandbox up`)")


def _fmt_addr(sockaddr: tuple) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _tls_context(ca_cert: str | None, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_cert:
        ctx.load_verify_locations(cafile=ca_cert)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _handshake(sockaddr: tuple, host: str, ctx: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    raw = socket.create_connection(sockaddr[:2], timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


def _tls_fix(reason: str) -> str:
    r = reason.lower()
    if "mismatch" in r or "not valid for" in r:
        return ("use the host name the certificate was issued for (its subject alternative names), "
                "or --insecure to skip verification")
    if "expired" in r or "not yet valid" in r:
        return "the registry's certificate is outside its validity dates: renew it (or check this machine's clock), or use --insecure"
    return ("pass the registry's CA with --ca-cert FILE (and give BuildKit the same CA in buildkitd.toml), "
            "or use --insecure to skip verification")


def _describe_cert(tls: ssl.SSLSocket) -> str:
    cert = tls.getpeercert() or {}
    issuer = dict(x[0] for x in cert.get("issuer", ()) if x)
    until = cert.get("notAfter", "")
    who = issuer.get("organizationName") or issuer.get("commonName") or "?"
    return f"{tls.version()}, certificate valid (issuer {who}" + (f", until {until})" if until else ")")


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="...",scope="..."` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            j, val = i + 1, []
            while j < n and rest[j] != '"':
                if rest[j] == "\\" and j + 1 < n:
                    j += 1
                val.append(rest[j])
                j += 1
            params[key] = "".join(val)
            i = j + 1
        else:
            j = rest.find(",", i)
            j = n if j < 0 else j
            params[key] = rest[i:j].strip()
            i = j
    return scheme.lower(), params


def _registry_errors(resp: httpx.Response) -> str:
    try:
        errs = resp.json().get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errs if isinstance(e, dict))
    except (ValueError, AttributeError):
        return ""


def _parse_time(s: str) -> datetime | None:
    s = s.strip()
    if not s:
        return None
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    # Python < 3.11 fromisoformat cannot take nanoseconds; trim to microseconds
    if "." in s:
        head, _, tail = s.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits):]
        s = f"{head}.{digits[:6]}{zone}"
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def summarise_cache(manifest: dict, config: dict | None) -> CacheInfo:
    """Layers, size, newest date and record count of a BuildKit registry cache, from its manifest
    (OCI image-manifest form, or the older index form) and its cacheconfig JSON. Pure."""
    info = CacheInfo(present=True)
    if "manifests" in manifest:
        info.form = "index"
        blobs = [m for m in manifest.get("manifests") or [] if m.get("mediaType") != CACHE_CONFIG_MEDIA_TYPE]
    else:
        info.form = "image-manifest"
        blobs = list(manifest.get("layers") or [])
    unique: dict[str, dict] = {}
    for b in blobs:
        if isinstance(b, dict) and b.get("digest"):
            unique.setdefault(b["digest"], b)
    info.layers = len(unique)
    info.size_bytes = sum(int(b.get("size") or 0) for b in unique.values())
    times = [_parse_time((b.get("annotations") or {}).get("buildkit/createdat", "")) for b in unique.values()]
    if config:
        records = config.get("records") or []
        info.records = len(records)
        for r in records:
            for ly in r.get("layers") or []:
                if isinstance(ly, dict) and ly.get("createdAt"):
                    times.append(_parse_time(ly["createdAt"]))
    times = [t for t in times if t]
    if times:
        info.updated = max(times).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return info


def cache_config_descriptor(manifest: dict) -> dict | None:
    """The descriptor of the `application/vnd.buildkit.cacheconfig.v0` blob, in either form."""
    if "manifests" in manifest:
        return next((m for m in manifest.get("manifests") or [] if m.get("mediaType") == CACHE_CONFIG_MEDIA_TYPE), None)
    cfg = manifest.get("config") or {}
    return cfg if cfg.get("mediaType") == CACHE_CONFIG_MEDIA_TYPE else None


# --- the checks ----------------------------------------------------------------------------------

class _Run:
    def __init__(self, ref: refs.Reference, credential: Credential | None, insecure: bool, ca_cert: str | None,
                 timeout: float, on_check: Callable[[Check], None] | None, push: bool,
                 cancel: threading.Event | None = None) -> None:
        self.ref, self.cred, self.insecure, self.ca_cert = ref, credential, insecure, ca_cert
        self.timeout, self.on_check, self.do_push, self.cancel = timeout, on_check, push, cancel
        self.host = refs.split_registry(ref.api_registry)[0]
        self.port = refs.split_registry(ref.api_registry)[1]
        self.result = RegistryTestResult(ref=str(ref), registry=ref.registry, repository=ref.repository, tag=ref.tag,
                                         username=credential.username if credential else None)
        self.addrs: list[tuple] = []
        self.sockaddr: tuple | None = None
        self.scheme = "https"
        self.verify: ssl.SSLContext | bool = True
        self.client: httpx.Client | None = None
        self.challenge: tuple[str, dict[str, str]] | None = None
        self.auth_header: dict[str, str] = {}
        self.authenticated = False
        self.manifest: dict | None = None
        self.manifest_type = ""
        self.manifest_digest: str | None = None

    # plumbing
    def _emit(self, check: Check) -> None:
        self.result.checks.append(check)
        if self.on_check is not None:
            try:
                self.on_check(check)
            except Exception:  # a broken callback must not break the checks
                pass

    def _run(self, name: str, fn) -> bool:
        check = Check(name)
        t0 = time.monotonic()
        try:
            out = fn()
            check.ok = True
            if isinstance(out, tuple):
                check.detail, check.skipped = out[0], bool(out[1])
            else:
                check.detail = out or "ok"
        except _Fail as f:
            check.ok, check.kind, check.detail, check.fix = False, f.kind, f.detail, f.fix
        except httpx.TimeoutException:
            check.ok, check.kind = False, "timeout"
            check.detail = f"the registry did not answer within {self.timeout:g}s"
            check.fix = "check the registry's health and your network, or raise --timeout"
        except httpx.HTTPError as exc:
            check.ok, check.kind = False, "unreachable"
            check.detail = f"the connection failed: {type(exc).__name__}: {exc}"
            check.fix = "check that the registry is running and reachable"
        except Exception as exc:  # never a traceback: report the unexpected as kind `error`
            check.ok, check.kind = False, "error"
            check.detail = f"unexpected failure: {type(exc).__name__}: {exc}"
            check.fix = "retry; if it persists, report it with this message"
        check.duration_s = time.monotonic() - t0
        if check.ok:
            check.kind = check.fix = None
        self._emit(check)
        return check.ok

    def _skip_rest(self, after: str | None, why: str) -> None:
        for name in CHECKS[CHECKS.index(after) + 1 if after else 0:]:
            self._emit(Check(name, ok=False, skipped=True, detail=f"skipped: {why}"))

    @property
    def base(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        port = self.port or default
        return f"{self.scheme}://{h}" + ("" if port == default else f":{port}")

    def _get(self, path: str, **kw) -> httpx.Response:
        assert self.client is not None
        headers = dict(self.auth_header)
        headers.update(kw.pop("headers", {}))
        return self.client.request(kw.pop("method", "GET"), path if path.startswith("http") else self.base + path,
                                   headers=headers, **kw)

    # 1 resolve
    def resolve(self) -> str:
        port = self.port or 443
        self.addrs = _resolve(self.host, port, self.timeout)
        ips = sorted({a[4][0] for a in self.addrs})
        return f"{self.host} -> {', '.join(ips[:4])}" + (" ..." if len(ips) > 4 else "")

    # 2 connect
    def connect(self) -> str:
        self.sockaddr = _connect(self.addrs, self.timeout)
        return f"TCP connection to {_fmt_addr(self.sockaddr)} accepted"

    # 3 tls
    def tls(self) -> str:
        assert self.sockaddr is not None
        loopback = refs.is_loopback_host(self.host)
        try:
            ctx = _tls_context(self.ca_cert, verify=True)
        except (OSError, ssl.SSLError) as exc:
            raise _Fail("tls", f"the CA file {self.ca_cert} cannot be loaded: {exc}", "pass a readable PEM file of CA certificates to --ca-cert")
        try:
            with _handshake(self.sockaddr, self.host, ctx, self.timeout) as s:
                desc = _describe_cert(s)
            self.scheme, self.verify = "https", ctx
            return desc + (" (CA from --ca-cert)" if self.ca_cert else "")
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or str(exc)
            if self.insecure:
                self.scheme, self.verify = "https", False
                return f"HTTPS with an UNVERIFIED certificate ({reason}); allowed by --insecure", False
            raise _Fail("tls", f"the certificate is not trusted: {reason}", _tls_fix(reason)) from None
        except (socket.timeout, TimeoutError):
            raise _Fail("timeout", f"the TLS handshake did not finish within {self.timeout:g}s",
                        "check that this port serves a registry (HTTP or HTTPS), or raise --timeout") from None
        except (ssl.SSLError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError, EOFError) as exc:
            # no TLS on this port: the server answered the handshake like a plain-HTTP server
            if loopback or self.insecure:
                self.scheme, self.verify = "http", False
                why = "a loopback host" if loopback else "--insecure"
                return f"plain HTTP, no TLS (allowed for {why})", False
            raise _Fail("tls", f"{self.host} does not speak TLS on this port ({type(exc).__name__}: {exc})",
                        "use the registry's HTTPS port, or --insecure to allow plain HTTP (and mark it http=true in buildkitd.toml)") from None
        except OSError as exc:
            raise _Fail("unreachable", f"the connection dropped during the TLS handshake: {exc}",
                        "check that the registry is running and reachable") from None

    def _make_client(self) -> None:
        self.client = httpx.Client(verify=self.verify, timeout=httpx.Timeout(self.timeout), follow_redirects=False,
                                   headers={"User-Agent": USER_AGENT}, trust_env=False)

    # 4 ping
    def ping(self) -> str:
        self._make_client()
        resp = self._get("/v2/")
        api = resp.headers.get("Docker-Distribution-API-Version", "")
        www = resp.headers.get("WWW-Authenticate", "")
        looks_registry = api.startswith("registry/2") or (resp.status_code == 401 and www.lower().startswith(("basic", "bearer")))
        if resp.status_code == 200 and not api:
            try:
                looks_registry = resp.json() == {}
            except ValueError:
                looks_registry = False
        if not looks_registry or resp.status_code not in (200, 401):
            ctype = resp.headers.get("content-type", "?").split(";")[0]
            raise _Fail("not-a-registry", f"{self.base}/v2/ answered HTTP {resp.status_code} ({ctype}) without the registry API header",
                        "check the host and port: this is an HTTP server but not a container registry (OCI distribution API /v2/)")
        if resp.status_code == 401:
            self.challenge = _parse_challenge(www)
            scheme, params = self.challenge
            self.result.auth_scheme = scheme
            realm = params.get("realm", "")
            return f"{api or 'registry'} at {self.base}; needs auth: {scheme.capitalize()}" + (f" (realm {realm})" if realm else "")
        self.result.auth_scheme = "none"
        return f"{api or 'registry'} at {self.base}; no authentication required"

    # 5 auth
    def _token(self, params: dict[str, str]) -> str:
        realm = params.get("realm")
        if not realm:
            raise _Fail("error", "the Bearer challenge has no realm (token server address)", "the registry is misconfigured; ask its operator")
        q = {"scope": f"repository:{self.ref.repository}:pull,push"}
        if params.get("service"):
            q["service"] = params["service"]
        if self.cred:
            q["account"] = self.cred.username
        auth = (self.cred.username, self.cred.password) if self.cred else None
        assert self.client is not None
        resp = self.client.get(realm + ("&" if "?" in realm else "?") + urlencode(q), auth=auth)
        if resp.status_code in (401, 403):
            raise _Fail("unauthorized", f"the token server {realm} refused the credentials (HTTP {resp.status_code})",
                        "check the username and password (re-run `registry login` if the password changed)")
        if resp.status_code != 200:
            raise _Fail("error", f"the token server {realm} answered HTTP {resp.status_code}", "retry later; if it persists, ask the registry's operator")
        try:
            data = resp.json()
        except ValueError:
            raise _Fail("error", f"the token server {realm} did not answer JSON", "check the registry's token service") from None
        token = data.get("token") or data.get("access_token")
        if not token:
            raise _Fail("error", f"the token server {realm} answered without a token", "check the registry's token service")
        return token

    def auth(self):
        if self.challenge is None:
            self.authenticated = True
            return ("no authentication required" + (f"; the credential for {self.cred.username} is not needed" if self.cred else "")), False
        scheme, params = self.challenge
        if scheme == "bearer":
            token = self._token(params)
            self.auth_header = {"Authorization": f"Bearer {token}"}
            who = f"as {self.cred.username}" if self.cred else "anonymously"
            how = f"Bearer token for repository:{self.ref.repository}:pull,push {who}"
        elif scheme == "basic":
            if not self.cred:
                raise _Fail("unauthorized", f"{self.ref.registry} requires a login and no credential is known for it",
                            f"run `railpack-tui registry login {self.ref.registry} --username U --password-stdin`, or pass --username with --password-stdin")
            token = base64.b64encode(f"{self.cred.username}:{self.cred.password}".encode()).decode()
            self.auth_header = {"Authorization": f"Basic {token}"}
            how = f"Basic as {self.cred.username}"
        else:
            raise _Fail("error", f"the registry asks for an unsupported auth scheme {scheme!r}", "use a registry with Basic or Bearer token auth")
        resp = self._get("/v2/")
        if resp.status_code == 200:
            self.authenticated = True
            return how
        if resp.status_code == 401:
            if self.cred is None:
                raise _Fail("unauthorized", f"{self.ref.registry} requires a login and no credential is known for it",
                            f"run `railpack-tui registry login {self.ref.registry} --username U --password-stdin`, or pass --username with --password-stdin")
            raise _Fail("unauthorized", f"{self.ref.registry} rejected the username or password for {self.cred.username}",
                        "check the username and password (re-run `registry login` if the password changed)")
        if resp.status_code == 403:
            raise _Fail("forbidden", f"{self.ref.registry} knows {self.cred.username if self.cred else 'you'} but forbids access",
                        "ask the registry's operator for access")
        raise _Fail("error", f"/v2/ with credentials answered HTTP {resp.status_code} {_registry_errors(resp)}".strip(), "retry later")

    def _denied(self, resp: httpx.Response, what: str) -> _Fail:
        errs = _registry_errors(resp)
        suffix = f" ({errs})" if errs else ""
        if resp.status_code == 401 and (not self.authenticated or self.cred is None):
            return _Fail("unauthorized", f"{what}: HTTP 401{suffix}",
                         f"log in with `railpack-tui registry login {self.ref.registry} --username U --password-stdin`, or pass --username with --password-stdin")
        who = self.cred.username if self.cred else "anonymous"
        return _Fail("forbidden", f"{what}: HTTP {resp.status_code} for {who} on {self.ref.repository}{suffix}",
                     f"grant {who} {'push' if 'push' in what or 'upload' in what else 'pull'} access to {self.ref.repository}, or use a repository you own")

    # 6 pull
    def pull(self):
        ref = self.ref.tag or self.ref.digest
        resp = self._get(f"/v2/{self.ref.repository}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT})
        if resp.status_code == 404:
            self.result.cache.present = False
            return f"no cache yet: {self.ref} has no manifest (the first build with export will create it)"
        if resp.status_code in (401, 403):
            raise self._denied(resp, "reading the manifest was refused")
        if resp.status_code != 200:
            raise _Fail("error", f"reading the manifest answered HTTP {resp.status_code} {_registry_errors(resp)}".strip(), "retry later")
        try:
            self.manifest = resp.json()
        except ValueError:
            raise _Fail("error", "the manifest is not JSON", "the ref does not hold an OCI/Docker manifest; use another tag for the cache") from None
        self.manifest_type = (resp.headers.get("content-type") or self.manifest.get("mediaType") or "").split(";")[0]
        self.manifest_digest = resp.headers.get("Docker-Content-Digest")
        self.result.cache.present = True
        return f"manifest found ({self.manifest_type}, {len(resp.content)} bytes)"

    # 7 push
    def push(self):
        resp = self._get(f"/v2/{self.ref.repository}/blobs/uploads/", method="POST", headers={"Content-Length": "0"})
        if resp.status_code in (401, 403):
            raise self._denied(resp, "starting a blob upload was refused")
        if resp.status_code != 202:
            raise _Fail("error", f"starting a blob upload answered HTTP {resp.status_code} {_registry_errors(resp)}".strip(), "retry later")
        location = resp.headers.get("Location")
        if not location:
            raise _Fail("error", "the registry started an upload but gave no Location", "the registry does not follow the distribution API")
        url = location if location.startswith("http") else self.base + location
        cancel = self._get(url, method="DELETE")
        if cancel.status_code not in (200, 202, 204):
            return (f"push allowed; cancelling the test upload answered HTTP {cancel.status_code} "
                    "(the registry purges abandoned uploads itself)")
        gone = self._get(url)
        if gone.status_code == 404:
            return "push allowed (a blob upload was started, then cancelled: the registry reports it gone)"
        return (f"push allowed; the cancelled test upload still answers HTTP {gone.status_code} "
                "(the registry purges abandoned uploads itself)")

    # 8 cache
    def cache(self):
        if self.manifest is None:
            return "no cache yet", True
        desc = cache_config_descriptor(self.manifest)
        if desc is None:
            raise _Fail("error", f"{self.ref} holds {self.manifest_type or 'a manifest'} that is not a BuildKit cache (no {CACHE_CONFIG_MEDIA_TYPE} config)",
                        f"use a tag of its own for the cache (e.g. {self.ref.name}:buildcache); exporting here would overwrite this image")
        resp = self._get(f"/v2/{self.ref.repository}/blobs/{desc['digest']}", follow_redirects=True)
        if resp.status_code in (401, 403):
            raise self._denied(resp, "reading the cache config blob was refused")
        if resp.status_code != 200:
            raise _Fail("error", f"the cache config blob {desc['digest'][:19]} answered HTTP {resp.status_code}",
                        "the cache is incomplete: export it again with --export-cache mode=max")
        if len(resp.content) > CONFIG_MAX_BYTES:
            raise _Fail("error", "the cache config blob is implausibly large", "export the cache again")
        try:
            config = json.loads(resp.content)
        except ValueError:
            raise _Fail("error", "the cache config blob is not JSON", "export the cache again") from None
        info = summarise_cache(self.manifest, config)
        info.manifest_digest = self.manifest_digest
        self.result.cache = info
        mb = info.size_bytes / 1e6
        return f"{info.layers} layers, {mb:.1f} MB, {info.records} records, newest {info.updated or 'unknown'} ({info.form} form)"

    def run(self) -> RegistryTestResult:
        try:
            steps = [("resolve", self.resolve), ("connect", self.connect), ("tls", self.tls), ("ping", self.ping),
                     ("auth", self.auth), ("pull", self.pull)]
            steps += [("push", self.push if self.do_push else None), ("cache", self.cache)]
            for name, fn in steps:
                if self.cancel is not None and self.cancel.is_set():
                    self.result.cancelled = True
                    self._skip_rest(CHECKS[CHECKS.index(name) - 1] if name != CHECKS[0] else None, "cancelled")
                    return self.result
                if fn is None:
                    self._emit(Check(name, ok=False, skipped=True, detail="skipped: not asked to test push"))
                    continue
                if not self._run(name, fn) and name not in ("push", "cache"):
                    self._skip_rest(name, f"the {name} check failed")
                    return self.result
                if name == "tls":
                    self.result.scheme = self.scheme
            return self.result
        finally:
            if self.client is not None:
                self.client.close()


def run_checks(ref: str | refs.Reference, credential: Credential | None = None, *, insecure: bool = False,
               ca_cert: str | Path | None = None, timeout: float = 5.0,
               on_check: Callable[[Check], None] | None = None, push: bool = True,
               cancel: threading.Event | None = None) -> RegistryTestResult:
    """Run every check against `ref` (a cache ref: a tag is needed). `on_check(check)` is called as
    each check completes, in contract order, from the calling thread; skipped checks are reported
    too. Setting `cancel` stops before the next check (the rest are reported skipped, `cancelled`).
    Raises `BadInput` (kind invalid-ref) for a bad reference, CA file or timeout; network problems
    become failed checks."""
    parsed = ref if isinstance(ref, refs.Reference) else refs.parse_cache_ref(ref)
    if ca_cert is not None and not Path(ca_cert).is_file():
        what = "is a directory, not a file" if Path(ca_cert).is_dir() else "does not exist"
        raise BadInput(f"The CA file {ca_cert} {what}.", fix="pass a PEM file of CA certificates to --ca-cert")
    if not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or not 0 < timeout <= TIMEOUT_MAX:
        # nan passed `timeout <= 0` and became "took longer than nans"; inf overflowed the waits
        raise BadInput(f"The timeout must be a number of seconds above 0 and at most {TIMEOUT_MAX}, not {timeout}.",
                       fix="pass e.g. --timeout 5")
    return _Run(parsed, credential, insecure, str(ca_cert) if ca_cert else None, float(timeout), on_check, push, cancel).run()
