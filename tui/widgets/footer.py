"""A Footer that does not rebuild its keys when focus moves between the step table and the filter.

Textual's Footer recomposes (unmounts and mounts a widget per key) on every bindings update.
Focus moving into the filter box is one (the box takes the printable keys, so b, c, y, q, ... are
not active while it has focus) and moving back is another: ~10 ms of each `/` and Esc frame. Here,
when the active keys are a subset, in order, of the keys the footer holds, the others are dimmed
(and a click on one rings the bell, as on a disabled key) instead: the footer keeps its layout, so
the key costs no second screen layout and frame. An update that changes nothing shown is ignored;
anything else (new keys, groups, another label or enabled state) takes Footer's own recompose."""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class StableFooter(Footer):
    _shown: Any = None

    def _wanted(self, screen: Any) -> tuple | None:
        """What Footer.compose would show, one entry per key; None when it would group keys."""
        app = self.app
        by_action: dict[str, tuple] = {}
        for _node, binding, enabled, tooltip in screen.active_bindings.values():
            if not binding.show:
                continue
            if binding.group is not None:
                return None
            by_action.setdefault(binding.action, (binding.key, app.get_key_display(binding), binding.description,
                                                  binding.action, not enabled, tooltip or ""))
        palette = screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
        palette_state = (self.show_command_palette, app.ENABLE_COMMAND_PALETTE,
                         None if palette is None else (palette[2], palette[1].description))
        return tuple(by_action.values()), palette_state

    @staticmethod
    def _entry(key: FooterKey) -> tuple:
        disabled = key.__dict__.setdefault("_composed_disabled", key._disabled)  # before any dimming here
        return (key.key, key.key_display, key.description, key.action, disabled,
                str(key.tooltip) if key.tooltip else "")

    @staticmethod
    def _dim(key: FooterKey, inactive: bool) -> None:
        disabled = inactive or key.__dict__["_composed_disabled"]
        if key._disabled != disabled:
            key._disabled = disabled
            # an inline style, as the -disabled class looks: a class change re-applies the stylesheet
            key.styles.text_style = "dim" if disabled else None
            # tell the screen now rather than when the key next goes idle: a `/` lays the screen
            # out at once, and that frame often came before the keys' turn (a second frame)
            key._check_refresh()

    def bindings_changed(self, screen: Any) -> None:
        if not (self.is_attached and screen is self.screen and screen.app.app_focus and self._bindings_ready):
            self._shown = None
            super().bindings_changed(screen)
            return
        wanted = self._wanted(screen)
        if wanted is not None and wanted == self._shown:
            return
        previous, self._shown = self._shown, wanted
        if wanted is not None and previous is not None and wanted[1] == previous[1]:
            keys = [c for c in self.children if isinstance(c, FooterKey) and not c.has_class("-command-palette")]
            if all(isinstance(c, FooterKey) for c in self.children):
                entries = [self._entry(k) for k in keys]
                want = iter(wanted[0])
                nxt = next(want, None)
                shown = []
                for entry in entries:
                    hit = nxt is not None and entry == nxt
                    shown.append(hit)
                    if hit:
                        nxt = next(want, None)
                if nxt is None and len(set(entries)) == len(entries):
                    for key, on in zip(keys, shown):
                        self._dim(key, not on)
                    return
        super().bindings_changed(screen)
