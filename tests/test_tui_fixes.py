"""Fixes written for the command line name the dashboard's controls when the dashboard shows them."""

from railpack_tui.core.errors import BadInput, EnvironmentProblem
from railpack_tui.tui.fixes import for_dashboard, in_dashboard_terms


def test_flags_become_the_controls_that_do_the_same():
    assert in_dashboard_terms("add a Dockerfile, or use --engine railpack for a Railpack app") == (
        'add a Dockerfile, or pick "Engine: railpack" in the command palette (ctrl+p) for a Railpack app')
    assert in_dashboard_terms("run `railpack-tui sandbox up`, or pass --builder unix:///path/buildkitd.sock (or tcp://host:port)") == (
        "run `railpack-tui sandbox up`, or set the Builder on the Projects screen (key 2) to it (or tcp://host:port)")
    assert in_dashboard_terms("see `docker buildx ls`, or pass a BuildKit address (unix://, tcp://) as --builder") == (
        "see `docker buildx ls`, or pass a BuildKit address (unix://, tcp://) as the Builder on the Projects screen (key 2)")
    assert in_dashboard_terms("pass --cache-ref (the frontend image is pushed next to it)") == (
        "set a cache ref on the Registries screen (key 3) (the frontend image is pushed next to it)")
    assert in_dashboard_terms("check the password") == "check the password"


def test_the_recorded_error_keeps_its_command_line_fix():
    error = BadInput("no Dockerfile in 'x'.", fix="add a Dockerfile, or use --engine railpack for a Railpack app")
    shown = for_dashboard(error)
    assert "--engine" not in shown.fix and isinstance(shown, BadInput) and shown.exit_code == 2
    assert error.fix.endswith("use --engine railpack for a Railpack app")
    plain = EnvironmentProblem("no keyring.", fix="install gnome-keyring")
    assert for_dashboard(plain) is plain


def test_registry_test_fixes_name_the_cache_ref_form():
    """The Registries screen showed the registry test's command-line fixes (--insecure, --ca-cert,
    `registry login ... --password-stdin`, "pass --username with --password-stdin")."""
    login = ("run `railpack-tui registry login r.example:5000 --username U --password-stdin`, "
             "or pass --username with --password-stdin")
    assert in_dashboard_terms(login) == "give the cache ref a username and password (e on Registries)"
    assert in_dashboard_terms("log in with `railpack-tui registry login r.example --username U --password-stdin`, "
                              "or pass --username with --password-stdin") == (
        "give the cache ref a username and password (e on Registries)")
    assert in_dashboard_terms("check the username and password (re-run `registry login` if the password changed)") == (
        "check the username and password (type the new password in the cache ref's form, e on Registries, "
        "if it changed)")
    tls = in_dashboard_terms("pass the registry's CA with --ca-cert FILE (and give BuildKit the same CA in "
                             "buildkitd.toml), or use --insecure to skip verification")
    assert "--" not in tls and "CA file" in tls and "Insecure" in tls
    assert "--" not in in_dashboard_terms("use the registry's HTTPS port, or --insecure to allow plain HTTP")
