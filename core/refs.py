"""Image and cache references, parsed and checked as the distribution reference grammar does
(github.com/distribution/reference), with one clear sentence naming the fix for every bad input.

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path-component { "/" path-component }
    domain     := host [ ":" port ]        host: DNS name, IPv4, or [IPv6]
    path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest     := algorithm ":" hex       (sha256: 64 lowercase hex digits)

Docker Hub names are normalised: `ubuntu` -> `docker.io/library/ubuntu`, `index.docker.io/x/y`
-> `docker.io/x/y`. A cache export needs a tag (a registry cannot push to a digest); without
one, `latest` is implied as BuildKit does.

Stricter than the grammar where a typo is far likelier than intent: a lone `host.tld` or
`host:5000` (no `/`) is refused as "a registry with no repository path" rather than read as a
Docker Hub image, and `Team/app` is refused as an uppercase path rather than read as a registry
named `Team`. `user:password@host/...` is refused without echoing the password.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from .errors import BadInput

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
DEFAULT_TAG = "latest"
NAME_MAX = 255
EXAMPLE = "registry.example.com/team/app-cache:main"

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_DOMAIN_LABEL = re.compile(r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\Z")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}\Z")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Reference:
    """A parsed reference. `registry` is `host[:port]` as written in refs (IPv6 in brackets)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    tag_implied: bool = field(default=False, compare=False)

    @property
    def host(self) -> str:
        """The host without port or brackets (for sockets and TLS)."""
        return split_registry(self.registry)[0]

    @property
    def port(self) -> int | None:
        return split_registry(self.registry)[1]

    @property
    def api_registry(self) -> str:
        """Where the registry API answers (Docker Hub's API host differs from its name)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s


def split_registry(registry: str) -> tuple[str, int | None]:
    """`host[:port]` -> (host, port); `[::1]:5000` -> ('::1', 5000)."""
    if registry.startswith("["):
        end = registry.index("]")
        host, rest = registry[1:end], registry[end + 1:]
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, _, port = registry.partition(":")
    return host, int(port) if port else None


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bad(message: str, fix: str) -> BadInput:
    return BadInput(message, fix=fix, kind="invalid-ref")


def _check_port(text: str, port: str) -> None:
    if not port:
        raise _bad(f"{text!r} has a ':' after the host but no port number.", "write the port after the colon (host:5000/path) or drop the colon.")
    if not port.isdigit() or not port.isascii():
        raise _bad(f"{text!r} has a bad port {port!r}: a port is a number.", "write the registry as host:PORT with a number from 1 to 65535, e.g. localhost:5000/team/cache:main.")
    if not 1 <= int(port) <= 65535:
        raise _bad(f"{text!r} has port {port}, outside 1-65535.", "use the port the registry listens on, a number from 1 to 65535.")


def _check_domain(text: str, domain: str) -> None:
    if domain.startswith("["):
        end = domain.find("]")
        if end < 0:
            raise _bad(f"{text!r} opens an IPv6 address with '[' but never closes it.", "write IPv6 registries as [addr]:port, e.g. [::1]:5000/team/cache:main.")
        addr, rest = domain[1:end], domain[end + 1:]
        try:
            ipaddress.IPv6Address(addr)
        except ValueError:
            raise _bad(f"{text!r} has {addr!r} in brackets, which is not an IPv6 address.", "put only an IPv6 address in brackets, e.g. [::1]:5000.") from None
        if rest:
            if not rest.startswith(":"):
                raise _bad(f"{text!r} has {rest!r} after the IPv6 address.", "write IPv6 registries as [addr]:port/path.")
            _check_port(text, rest[1:])
        return
    if domain.count(":") > 1:
        raise _bad(f"{text!r} looks like an IPv6 address without brackets.", "put IPv6 addresses in brackets: [::1]:5000/team/cache:main.")
    host, sep, port = domain.partition(":")
    if sep:
        _check_port(text, port)
    if not host:
        raise _bad(f"{text!r} has a port but no host name.", "write the host before the port, e.g. localhost:5000/team/cache:main.")
    if "_" in host:
        raise _bad(f"{text!r}: the registry host {host!r} contains '_', not allowed in host names.", "use the registry's real DNS name (letters, digits, '-' and '.').")
    labels = host.split(".")
    if any(not label for label in labels):
        raise _bad(f"{text!r}: the registry host {host!r} has an empty part between dots.", "remove the extra dot from the host name.")
    for label in labels:
        if not _DOMAIN_LABEL.match(label):
            raise _bad(f"{text!r}: the registry host {host!r} has a bad part {label!r}.",
                       "host names use letters, digits and inner '-' only (no leading or trailing '-').")


def _check_path(text: str, path: str) -> None:
    for comp in path.split("/"):
        if not comp:
            raise _bad(f"{text!r} has an empty path component ('//').", "remove the doubled '/' from the repository path.")
        if comp != comp.lower():
            raise _bad(f"{text!r}: the repository path {path!r} contains uppercase letters.",
                       f"repository paths must be lowercase: write {path.lower()!r}.")
        if not _PATH_COMPONENT.match(comp):
            bad = sorted({ch for ch in comp if not (ch.isascii() and (ch.isalnum() or ch in "._-"))})
            if bad:
                raise _bad(f"{text!r}: the repository path component {comp!r} contains {''.join(bad)!r}.",
                           "use only lowercase letters, digits and the separators '.', '_', '__' and '-'.")
            raise _bad(f"{text!r}: the repository path component {comp!r} starts, ends or joins with a bad separator.",
                       "start and end each path component with a letter or digit; separators are '.', '_', '__' or dashes.")


def parse(text: str, *, need_tag: bool = False) -> Reference:
    """Parse and normalise a reference; raise `BadInput` (kind `invalid-ref`) with the fix.

    `need_tag=True` is for cache exports: a digest is refused, a missing tag becomes `latest`.
    """
    if not isinstance(text, str) or not text.strip():
        raise _bad("The reference is empty.", f"give a reference like {EXAMPLE}.")
    if text != text.strip():
        raise _bad(f"{text!r} has spaces around it.", f"remove the leading and trailing spaces: {text.strip()!r}.")
    if text[0] in "'\"" or text[-1] in "'\"":
        raise _bad(f"{text!r} includes quote characters.", f"drop the quotes: {text.strip(chr(39) + chr(34))!r}.")
    if any(ch.isspace() for ch in text):
        raise _bad(f"{text!r} contains a space.", "remove the spaces; a reference is one word like " + EXAMPLE + ".")
    if text.startswith(("type=", "ref=")) or ",ref=" in text or ",mode=" in text:
        raise _bad(f"{text!r} is a BuildKit cache option string, not a reference.", "give only the ref= value, e.g. " + EXAMPLE + ".")
    m = _SCHEME.match(text)
    if m:
        raise _bad(f"{text!r} includes a URL scheme ({m.group(0)}).", f"leave out {m.group(0)!r}: write {text[m.end():]!r}.")
    if not text.isascii():
        raise _bad(f"{text!r} contains non-ASCII characters.", "use plain ASCII: lowercase letters, digits, '.', '_', '-', '/', ':' and '@'.")
    for ch, what in (("?", "a query string"), ("#", "a '#' fragment"), ("\\", "a backslash")):
        if ch in text:
            raise _bad(f"{text!r} contains {what}.", f"remove everything that is not host/path:tag; references have no {ch!r}.")

    # user:password@host/... is the most dangerous typo: credentials in a reference.
    first, _, _ = text.partition("/")
    if "@" in first and "/" in text:
        raise _bad(f"{text.split('@', 1)[-1]!r} was given with credentials in front of the host.",
                   "never put credentials in a reference: use --username with --password-stdin, or `registry login`.")

    name, at, digest = text.partition("@")
    if at:
        if not digest:
            raise _bad(f"{text!r} ends with '@' but no digest.", "write a digest like @sha256:<64 hex digits>, or drop the '@'.")
        if "@" in digest:
            raise _bad(f"{text!r} contains more than one '@'.", "a reference has at most one @digest.")
        if not _DIGEST.match(digest):
            raise _bad(f"{text!r} has a malformed digest {digest!r}.", "a digest is algorithm:hex, e.g. sha256: followed by 64 hex digits.")
        algo, _, hexpart = digest.partition(":")
        if algo == "sha256" and (len(hexpart) != 64 or hexpart != hexpart.lower()):
            raise _bad(f"{text!r} has a sha256 digest that is not 64 lowercase hex digits.", "copy the full digest: sha256: followed by 64 lowercase hex digits.")
        if need_tag:
            if ":" in name.rsplit("/", 1)[-1]:  # name:tag@digest: the tag is already there
                raise _bad(f"{text!r} names a digest, but a cache export needs a tag.", f"a cache export goes with a tag: drop '@{digest[:15]}...' and write {name}.")
            raise _bad(f"{text!r} names a digest, but a cache export needs a tag.",
                       f"replace '@{digest[:15]}...' with a tag, e.g. {name}:cache.")
    if not name:
        raise _bad(f"{text!r} has no repository name.", f"give a reference like {EXAMPLE}.")
    if name.endswith("/"):
        raise _bad(f"{text!r} ends with '/'.", f"remove the trailing slash or add the repository name after it: {name.rstrip('/')}.")
    if name.startswith("/"):
        raise _bad(f"{text!r} starts with '/': it looks like a file path.", f"start with the registry host, e.g. {EXAMPLE}.")

    # the tag is after the last ':' that follows the last '/'
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash and not (name.startswith("[") and "]" in name[colon:]):
        tag = name[colon + 1:]
        name = name[:colon]
        if not tag:
            raise _bad(f"{text!r} ends with ':' but no tag.", "write a tag after the colon (e.g. :main) or drop the colon.")
        if not _TAG.match(tag):
            if len(tag) > 128:
                raise _bad(f"{text!r} has a tag longer than 128 characters.", "use a shorter tag.")
            raise _bad(f"{text!r} has an invalid tag {tag!r}.",
                       "tags use letters, digits, '_', '.' and '-', start with a letter, digit or '_', and are at most 128 characters.")
    if not name:
        raise _bad(f"{text!r} has a tag but no repository name.", f"give a reference like {EXAMPLE}.")

    # domain: the first component when it has '.' or ':', is localhost, has uppercase, or is bracketed
    first, slash_, rest = name.partition("/")
    if slash_ and first != first.lower() and not any(c in first for c in ".:["):
        # distribution would read `Team/app` as a registry named Team; it is a mistyped path
        _check_path(text, name)
    if slash_ and (("." in first) or (":" in first) or first == "localhost" or first != first.lower() or first.startswith("[")):
        domain, path = first, rest
    else:
        domain, path = DOCKER_HUB, name
        if not slash_ and tag and tag.isdigit() and ("." in name or name == "localhost"):
            raise _bad(f"{text!r} names a registry ({name}:{tag}) but no repository path.",
                       f"add a repository after the host, e.g. {name}:{tag}/team/cache:main.")
        if not slash_ and ("." in name or name.startswith("[")):
            # legal as a Docker Hub name, but for a cache ref it is nearly always a bare host
            raise _bad(f"{text!r} looks like a registry host with no repository path.",
                       f"add a repository after the host, e.g. {name}/team/cache:main (for a Docker Hub image write docker.io/library/{name}).")
    if domain != DOCKER_HUB:
        _check_domain(text, domain)
    if not path:
        raise _bad(f"{text!r} names a registry but no repository path.", f"add a repository after the host, e.g. {domain}/team/cache:main.")
    _check_path(text, path)

    if domain.lower() in _HUB_ALIASES:
        domain = DOCKER_HUB
    elif domain != domain.lower() and not domain.startswith("["):
        domain = domain.lower()  # DNS is case-insensitive; keep one spelling for keyring keys
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(f"{domain}/{path}") > NAME_MAX:
        raise _bad(f"{text!r} is longer than {NAME_MAX} characters (registry and path).", "use a shorter repository path.")
    implied = False
    if tag is None and not at:
        tag, implied = (DEFAULT_TAG, True)
    return Reference(registry=domain, repository=path, tag=tag, digest=digest or None, tag_implied=implied)


def parse_cache_ref(text: str) -> Reference:
    """A reference a cache can be exported to: a tag is required (`latest` when omitted)."""
    return parse(text, need_tag=True)


def normalise_registry(host: str) -> str:
    """A registry host as typed by a user (`https://Index.Docker.io/`, `localhost:5000`) -> our key."""
    h = host.strip()
    h = _SCHEME.sub("", h).rstrip("/")
    if "/" in h:
        h = h.split("/", 1)[0]
    if h.lower() in _HUB_ALIASES:
        return DOCKER_HUB
    return h if h.startswith("[") else h.lower()


_HOST_PORT = re.compile(r"[^/:@\s]+:[0-9]+\Z")


def registry_of(text: str) -> str:
    """The registry key for a REF, or for a bare registry host (`registry login host:5000`).
    A lone `name:PORT` is a host and port, as `docker login registry:5000` reads it, not the Docker
    Hub image `library/name` with a numeric tag (its password would be saved for docker.io)."""
    if isinstance(text, str) and _HOST_PORT.match(text):
        _check_domain(text, text)
        return normalise_registry(text)
    try:
        return parse(text).registry
    except BadInput:
        if "/" in text.strip().rstrip("/") or not text.strip():
            raise
        h = normalise_registry(text)
        _check_domain(text, h)
        return h
