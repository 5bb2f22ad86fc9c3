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
