"""Reference parsing: normalisation of good references, and one clear sentence with the fix for
every bad one (a table of more than 40)."""

import pytest

from railpack_tui.core import refs
from railpack_tui.core.errors import BadInput

SHA = "sha256:" + "0123456789abcdef" * 4

GOOD = [
    # text, registry, repository, tag, digest
    ("ubuntu", "docker.io", "library/ubuntu", "latest", None),
    ("ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", None),
    ("team/app", "docker.io", "team/app", "latest", None),
    ("docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", None),
    ("index.docker.io/team/app:v1", "docker.io", "team/app", "v1", None),
    ("registry-1.docker.io/library/busybox:1", "docker.io", "library/busybox", "1", None),
    ("localhost/app", "localhost", "app", "latest", None),
    ("localhost:5000/team/cache:main", "localhost:5000", "team/cache", "main", None),
    ("127.0.0.1:57949/tests/x:abc", "127.0.0.1:57949", "tests/x", "abc", None),
    ("[::1]:5000/team/cache:main", "[::1]:5000", "team/cache", "main", None),
    ("[2001:db8::1]/a/b", "[2001:db8::1]", "a/b", "latest", None),
    ("ghcr.io/org/repo/sub/cache:buildcache", "ghcr.io", "org/repo/sub/cache", "buildcache", None),
    ("Registry.Example.COM/a:b", "registry.example.com", "a", "b", None),
    ("my-reg.example.com:443/a.b/c_d/e__f/g---h:T_1.x-Y", "my-reg.example.com:443", "a.b/c_d/e__f/g---h", "T_1.x-Y", None),
    (f"reg.io/app@{SHA}", "reg.io", "app", None, SHA),
    (f"reg.io/app:v1@{SHA}", "reg.io", "app", "v1", SHA),
    ("reg.io/a:" + "t" * 128, "reg.io", "a", "t" * 128, None),
]


@pytest.mark.parametrize("text,registry,repository,tag,digest", GOOD)
def test_good_references_are_normalised(text, registry, repository, tag, digest):
    r = refs.parse(text)
    assert (r.registry, r.repository, r.tag, r.digest) == (registry, repository, tag, digest)
    assert refs.parse(str(r)) == r  # the canonical form parses to itself


def test_host_port_and_loopback_split():
    r = refs.parse("[::1]:5000/team/cache:main")
    assert (r.host, r.port, r.is_loopback) == ("::1", 5000, True)
    r = refs.parse("reg.example.com/team/cache")
    assert (r.host, r.port, r.is_loopback, r.tag_implied) == ("reg.example.com", None, False, True)
    assert refs.parse("ubuntu").api_registry == refs.DOCKER_HUB_API


def test_a_cache_ref_without_tag_implies_latest_but_a_digest_is_refused():
    assert refs.parse_cache_ref("localhost:5000/cache").tag == "latest"
    with pytest.raises(BadInput) as e:
        refs.parse_cache_ref(f"localhost:5000/cache@{SHA}")
    assert "needs a tag" in e.value.message and "localhost:5000/cache:cache" in e.value.fix


# text, a word the message must contain, a word the fix must contain
BAD = [
    ("", "empty", "registry.example.com"),
    ("   ", "empty", "reference like"),
    (" reg.io/a:b", "spaces around", "'reg.io/a:b'"),
    ("reg.io/a:b\n", "spaces around", "'reg.io/a:b'"),
    ("reg.io/my app:b", "contains a space", "remove the spaces"),
    ("reg.io/a:b\tc", "contains a space", "remove the spaces"),
    ("'reg.io/a:b'", "quote", "drop the quotes"),
    ('"reg.io/a:b"', "quote", "drop the quotes"),
    ("https://reg.io/a:b", "URL scheme", "leave out 'https://'"),
    ("http://localhost:5000/a", "URL scheme", "'localhost:5000/a'"),
    ("oci://reg.io/a", "URL scheme", "leave out"),
    ("docker://reg.io/a", "URL scheme", "leave out"),
    ("type=registry,ref=reg.io/a:b", "cache option string", "ref= value"),
    ("reg.io/a:b,mode=max", "cache option string", "ref= value"),
    ("reg.io/Team/app", "uppercase", "'team/app'"),
    ("reg.io/team/App:b", "uppercase", "lowercase"),
    ("Team/app", "uppercase", "lowercase"),
    ("reg.io:99999/a", "outside 1-65535", "1 to 65535"),
    ("reg.io:0/a", "outside 1-65535", "1 to 65535"),
    ("reg.io:http/a", "bad port", "host:PORT"),
    ("reg.io:/a", "no port number", "port after the colon"),
    (":5000/a", "no host", "host before the port"),
    ("reg.io/a/", "ends with '/'", "trailing slash"),
    ("reg.io/", "ends with '/'", "trailing slash"),
    ("/reg.io/a", "starts with '/'", "registry host"),
    ("reg.io//a", "empty path component", "doubled '/'"),
    ("reg.io/a//b:c", "empty path component", "doubled '/'"),
    ("localhost:5000", "no repository path", "localhost:5000/team/cache"),
    ("reg.example.com", "no repository path", "reg.example.com/team/cache"),
    ("[::1]:5000", "no repository path", "/team/cache"),
    ("::1:5000/a", "IPv6 address without brackets", "brackets"),
    ("[::1/a", "never closes", "[addr]:port"),
    ("[not-ipv6]:5000/a", "not an IPv6 address", "IPv6 address in brackets"),
    ("[::1]x/a", "after the IPv6 address", "[addr]:port"),
    ("reg_x.io/a", "contains '_'", "DNS name"),
    ("-reg.io/a", "bad part", "no leading or trailing"),
    ("reg..io/a", "empty part between dots", "extra dot"),
    ("reg.io/a:", "ends with ':'", "tag after the colon"),
    ("reg.io/a:-x", "invalid tag", "tags use"),
    ("reg.io/a:x+y", "invalid tag", "tags use"),
    ("reg.io/a:" + "t" * 129, "longer than 128", "shorter tag"),
    ("reg.io/a@", "no digest", "sha256:"),
    ("reg.io/a@sha256:abc", "malformed digest", "64 hex"),
    ("reg.io/a@sha256:" + "A" * 64, "lowercase hex", "64 lowercase"),
    ("reg.io/a@sha256:" + "a" * 63, "not 64 lowercase hex", "64 lowercase"),
    ("reg.io/a@md5:" + "a" * 64 + "@x", "more than one '@'", "at most one"),
    (f"reg.io/a@{SHA}", "needs a tag", "reg.io/a:cache"),
    (f"reg.io/a:v1@{SHA}", "needs a tag", "with a tag"),
    ("reg.io/-a", "bad separator", "letter or digit"),
    ("reg.io/a-", "bad separator", "letter or digit"),
    ("reg.io/a___b", "bad separator", "separators"),
    ("reg.io/a..b", "bad separator", "separators"),
    ("reg.io/a!b", "contains '!'", "lowercase letters, digits"),
    ("reg.io/a$b:c", "contains '$'", "lowercase letters, digits"),
    ("reg.io/a?x=1", "query string", "host/path:tag"),
    ("reg.io/a#frag", "fragment", "host/path:tag"),
    ("reg.io\\a", "backslash", "host/path:tag"),
    ("reg.io/caché", "non-ASCII", "plain ASCII"),
    ("user:hunter2@reg.io/a:b", "credentials", "--password-stdin"),
    ("reg.io/" + "/".join(["abcdefghij"] * 25), "longer than 255", "shorter"),
]


def test_the_table_is_big_enough():
    assert len(BAD) >= 40


@pytest.mark.parametrize("text,in_message,in_fix", BAD, ids=[repr(b[0])[:40] for b in BAD])
def test_bad_reference_names_the_fix(text, in_message, in_fix):
    with pytest.raises(BadInput) as e:
        refs.parse_cache_ref(text)
    err = e.value
    assert err.exit_code == 2 and err.kind == "invalid-ref"
    assert in_message.lower() in err.message.lower(), err.message
    assert err.fix and in_fix.lower() in err.fix.lower(), err.fix
    assert "\n" not in err.message and err.message.endswith(".")


def test_credentials_in_a_reference_are_not_echoed():
    with pytest.raises(BadInput) as e:
        refs.parse("user:hunter2@reg.io/a:b")
    assert "hunter2" not in str(e.value)


@pytest.mark.parametrize("text,key", [
    ("localhost:5000", "localhost:5000"),
    ("Reg.Example.com", "reg.example.com"),
    ("[::1]:5000", "[::1]:5000"),
    ("ghcr.io/org/cache:x", "ghcr.io"),
    ("index.docker.io", "docker.io"),
    ("busybox", "docker.io"),
])
def test_registry_of_accepts_a_ref_or_a_bare_host(text, key):
    assert refs.registry_of(text) == key


def test_registry_of_still_refuses_garbage():
    with pytest.raises(BadInput):
        refs.registry_of("reg_x.io")
    with pytest.raises(BadInput):
        refs.registry_of("reg.io/a/")


def test_normalise_registry_from_docker_config_keys():
    assert refs.normalise_registry("https://index.docker.io/v1/") == "docker.io"
    assert refs.normalise_registry("https://Reg.Example.com:5000/v2/") == "reg.example.com:5000"


# --- properties: every reference the grammar allows parses, and its canonical form is stable ----

from hypothesis import given, strategies as st  # noqa: E402

_component = st.from_regex(r"\A[a-z0-9]{1,6}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,6}){0,2}\Z")
_label = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,6}[a-z0-9])?\Z")
_domain = st.one_of(
    st.builds(lambda a, b: f"{a}.{b}", _label, _label),
    st.just("localhost"),
    st.builds(lambda ip: str(ip), st.ip_addresses(v=4)),
    st.builds(lambda ip: f"[{ip}]", st.ip_addresses(v=6)),
)
_port = st.one_of(st.none(), st.integers(1, 65535))
_tag = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")


@given(_domain, _port, st.lists(_component, min_size=1, max_size=4), _tag)
def test_grammar_valid_references_round_trip(domain, port, path, tag):
    host = domain + (f":{port}" if port else "")
    text = f"{host}/{'/'.join(path)}:{tag}"
    r = refs.parse_cache_ref(text)
    assert r.repository == "/".join(path) and r.tag == tag and r.port == port
    assert refs.parse_cache_ref(str(r)) == r


@given(st.text(min_size=1, max_size=40))
def test_any_text_parses_or_raises_bad_input(text):
    try:
        r = refs.parse(text)
    except BadInput as e:
        assert e.kind == "invalid-ref" and e.fix
    else:
        assert refs.parse(str(r)) == r


@pytest.mark.parametrize("text,key", [
    ("registry:5000", "registry:5000"),  # a compose-style host: its password is not docker.io's
    ("Registry:5000", "registry:5000"),
    ("reg.example.com:443", "reg.example.com:443"),
])
def test_registry_of_reads_a_lone_name_and_port_as_a_host(text, key):
    assert refs.registry_of(text) == key


def test_registry_of_checks_a_lone_host_and_port():
    for text in ("reg_x:5000", "host:0"):
        with pytest.raises(BadInput):
            refs.registry_of(text)


def test_a_tag_and_a_digest_in_a_cache_ref_suggests_dropping_the_digest():
    digest = "sha256:" + "0" * 64
    with pytest.raises(BadInput) as e:
        refs.parse_cache_ref(f"reg.io/team/cache:main@{digest}")
    assert "reg.io/team/cache:main." in e.value.fix and ":main:" not in e.value.fix
    suggested = e.value.fix.split("write ", 1)[1].rstrip(".")
    assert refs.parse_cache_ref(suggested).tag == "main"
    with pytest.raises(BadInput) as e:
        refs.parse_cache_ref(f"reg.io/team/cache@{digest}")
    assert "reg.io/team/cache:cache" in e.value.fix


@pytest.mark.parametrize("name, repo", [("Café", "caf"), ("日本", "project"), ("a..b", "a-b"), ("x__-y", "x-y"),
                                        ("My App", "my-app"), ("-.-", "project"), ("app_v2", "app_v2")])
def test_the_default_cache_ref_is_a_valid_ref_whatever_the_directory_is_called(name, repo):
    """A project directory named Café or a..b got the default cache ref .../café:cache or
    .../a..b:cache, which the build then refused as bad input (a ref the user never typed)."""
    from pathlib import Path
    from types import SimpleNamespace

    from railpack_tui.core import refs
    from railpack_tui.core.defaults import sandbox_cache_ref

    ref = sandbox_cache_ref(SimpleNamespace(registry="127.0.0.1:5000"), Path("/src") / name)
    assert ref == f"127.0.0.1:5000/railpack-tui/{repo}:cache"
    assert refs.parse_cache_ref(ref).repository == f"railpack-tui/{repo}"
