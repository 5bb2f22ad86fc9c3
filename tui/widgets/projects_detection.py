"""What was detected in a project directory, as a tree: the Dockerfile's stages and the steps
BuildKit will show for them, or the Railpack app and its plan.

`detect_project(path)` runs off the UI thread (the screen's worker) and returns whatever
`core.project.detect` returns; this widget reads it by duck typing so it keeps working while
that module grows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Tree

from .projects_path_input import tilde


PLAN_FILE = "railpack-plan.json"


def detect_project(path: Path) -> Any:
    """`core.project.detect`, plus for a Railpack app its plan when the directory holds one."""
    import json

    from railpack_tui.core import project

    found = project.detect(path)
    if found.kind == "railpack":
        plan_file = Path(found.path) / PLAN_FILE
        if plan_file.is_file():
            try:
                found.plan = json.loads(plan_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                found.plan_error = f"{PLAN_FILE} cannot be read: {exc}"
    return found


def prepare_plan(path: Path) -> dict:
    """`railpack prepare` into a temporary directory (network needed; raises core.errors)."""
    import json
    import tempfile

    from railpack_tui.core.engines import railpack

    with tempfile.TemporaryDirectory(prefix="railpack-tui-plan-") as out:
        plan_file = railpack.prepare_plan(path, Path(out))
        return json.loads(plan_file.read_text(encoding="utf-8"))


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


def dockerfile_of(detection: Any) -> Any:
    """The parsed core.dockerfile.Dockerfile, if the detection holds one."""
    for name in ("parsed", "dockerfile"):
        df = _get(detection, name)
        if df is not None and hasattr(df, "stages") and hasattr(df, "steps"):
            return df
    return None


def kind_of(detection: Any) -> str:
    kind = _get(detection, "kind", "engine", default="")
    if kind:
        return str(kind)
    if dockerfile_of(detection) is not None:
        return "dockerfile"
    return "none"


class DetectionView(Tree):
    """A read-only tree of the detection; Enter folds a stage."""

    DEFAULT_CSS = """
    DetectionView { background: transparent; scrollbar-size-horizontal: 0; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("nothing opened yet", **kwargs)
        self.show_root = True
        self.guide_depth = 3

    # -- summaries used by the screen ---------------------------------------------------------
    @staticmethod
    def buildable(detection: Any) -> bool:
        value = _get(detection, "buildable")
        if value is not None:
            return bool(value)
        return kind_of(detection) in ("dockerfile", "railpack")

    @staticmethod
    def heading(path: Path, detection: Any, error: str | None) -> Text:
        text = Text.assemble((path.name or str(path), "bold"), "  ", (tilde(path), "dim"), "\n")
        if error:
            text.append("✗ ", style="bold red")
            text.append(error)
            return text
        kind = kind_of(detection)
        badge = {"dockerfile": " DOCKERFILE ", "railpack": " RAILPACK "}.get(kind, " NOTHING TO BUILD ")
        style = "bold reverse" if kind in ("dockerfile", "railpack") else "bold reverse yellow"
        text.append(badge, style=style)
        summary = _get(detection, "summary", "description")
        if summary and kind == "dockerfile":
            summary = str(summary).removeprefix("Dockerfile project: ")
        if summary:
            text.append("  " + str(summary))
        return text

    # -- the tree -------------------------------------------------------------------------------
    def show(self, path: Path, detection: Any, error: str | None) -> None:
        self.clear()
        if error:
            self.root.set_label(Text(f"✗ {error}", style="red"))
            return
        kind = kind_of(detection)
        df = dockerfile_of(detection)
        if df is not None:
            self._show_dockerfile(detection, df)
        elif kind == "railpack":
            self._show_railpack(detection)
        elif kind == "dockerfile":  # one this parser cannot read ahead: BuildKit has the last word
            self.root.set_label(Text("Dockerfile · its steps could not be read ahead (see above); b builds it and "
                                     "BuildKit says what it makes of it", style="italic"))
        else:
            self.root.set_label(Text("no Dockerfile and no app Railpack recognises", style="italic"))
            for note in _get(detection, "notes", "reasons", default=[]) or []:
                self.root.add_leaf(Text(str(note), style="dim"))
        notes = [] if kind == "none" else (_get(detection, "notes", "warnings", default=[]) or [])
        for note in notes:
            self.root.add_leaf(Text.assemble(("! ", "bold yellow"), str(note)))
        self.root.expand()

    def _show_dockerfile(self, detection: Any, df: Any) -> None:
        steps = df.steps()
        name = Path(str(_get(detection, "dockerfile_path", "file", default="Dockerfile"))).name
        self.root.set_label(Text.assemble((name, "bold"), f" · {len(df.stages)} stage{'s' * (len(df.stages) != 1)}",
                                          f" · {len(steps)} step{'s' * (len(steps) != 1)}"))
        by_stage: dict[int, list[Any]] = {}
        for st in steps:
            by_stage.setdefault(st.stage.position, []).append(st)
        for stage in df.stages:
            label = Text.assemble((stage.name or f"stage-{stage.position}", "bold"), "  FROM ", (stage.base, "cyan"))
            if stage.platform:
                label.append(f"  ({stage.platform})", style="dim")
            node = self.root.add(label, expand=True)
            stage_steps = by_stage.get(stage.position, [])
            if not stage_steps:
                node.add_leaf(Text("no steps (nothing BuildKit runs)", style="dim italic"))
            for st in stage_steps:
                text = st.name[len(st.prefix):]
                kw, _, rest = text.partition(" ")
                line = Text.assemble((f"{st.index}/{st.total} ", "dim"), (kw, "bold magenta"), " ", rest)
                line.truncate(200, overflow="ellipsis")
                node.add_leaf(line)

    def _show_railpack(self, detection: Any) -> None:
        markers = _get(detection, "markers", default=[]) or []
        self.root.set_label(Text.assemble(("Railpack app", "bold"), f" · detected from {len(markers)} file{'s' * (len(markers) != 1)}"))
        if markers:
            from railpack_tui.core.project import RAILPACK_MARKERS

            found = self.root.add(Text("what Railpack recognises", style="bold"), expand=True)
            for marker in markers:
                found.add_leaf(Text.assemble((marker, "bold magenta"), "  ", (RAILPACK_MARKERS.get(marker, ""), "dim")))
        plan = _get(detection, "plan")
        if plan is None:
            why = _get(detection, "plan_error", default=None)
            self.root.add_leaf(Text(str(why or "no railpack-plan.json here: press p to run `railpack prepare` "
                                                "(it resolves versions over the network)"), style="dim italic"))
            return
        self.show_plan(plan)

    def show_plan(self, plan: dict, source: str = "railpack-plan.json") -> None:
        """A Railpack build plan: its steps with their commands (the names BuildKit will show)."""
        node = self.root.add(Text.assemble(("build plan", "bold"), f" ({source})"), expand=True)
        for step in plan.get("steps") or []:
            snode = node.add(Text(str(step.get("name") or "step"), style="bold"), expand=True)
            for cmd in step.get("commands") or []:
                snode.add_leaf(plan_command(cmd))
        deploy = plan.get("deploy") or {}
        if deploy.get("startCommand"):
            node.add_leaf(Text.assemble(("start ", "bold magenta"), str(deploy["startCommand"])))


def plan_command(cmd) -> Text:
    if isinstance(cmd, str):
        return Text(cmd[:200])
    if not isinstance(cmd, dict):
        return Text(str(cmd)[:200])
    if cmd.get("customName"):
        return Text.assemble((str(cmd["customName"]), "bold"), "  ", (str(cmd.get("cmd") or "")[:160], "dim"))
    if cmd.get("cmd"):
        return Text.assemble(("RUN ", "bold magenta"), str(cmd["cmd"])[:190])
    if cmd.get("src") is not None:
        return Text.assemble(("COPY ", "bold magenta"), f"{cmd.get('src')} → {cmd.get('dest', '')}")
    if cmd.get("path"):
        return Text.assemble(("PATH ", "bold magenta"), str(cmd["path"]))
    if cmd.get("name") and "value" in cmd:
        return Text.assemble(("ENV ", "bold magenta"), f"{cmd['name']}={cmd['value']}")
    return Text(json_short(cmd))


def json_short(value) -> str:
    import json

    return json.dumps(value, sort_keys=True)[:200]
