"""The Build screen's step table repaints exactly what changed: a cell whose text changed, a row
appended under rows already shown (it keeps DataTable's render caches for the rest)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App, ComposeResult

from railpack_tui.tui.widgets.step_table import StepTable


@dataclass(eq=False)
class FakeStep:
    id: str
    name: str
    state: str = "pending"
    started: float | None = None
    completed: float | None = None
    duration_s: float | None = None
    pulled_bytes: int = 0
    miss: dict | None = None


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield StepTable(id="steps")


def screen_text(app: App) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_changed_cells_and_appended_rows_are_painted():
    app = TableApp()
    async with app.run_test(size=(110, 10)) as pilot:
        table = app.query_one(StepTable)
        steps = [FakeStep("a", "[1/3] RUN first", "running", started=100.0), FakeStep("b", "[2/3] RUN second")]
        table.show(steps, 101.0)
        await pilot.pause()
        before = screen_text(app)
        assert "RUNNING" in before and "WAIT" in before and "RUN second" in before

        steps[0].state, steps[0].completed, steps[0].duration_s = "executed", 104.0, 4.0
        steps.append(FakeStep("c", "[3/3] RUN third", "cached", started=100.5, completed=100.5))
        table.show(steps, 105.0)
        await pilot.pause()
        after = screen_text(app)
        assert "RUNNING" not in after  # the changed badge was repainted
        assert "DONE" in after and "4.0s" in after
        assert "WAIT" in after and "RUN second" in after  # the untouched row is still there
        assert "CACHED" in after and "RUN third" in after  # the appended row is painted
        assert list(table.keys()) == ["a", "b", "c"]
