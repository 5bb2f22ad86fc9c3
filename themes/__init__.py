"""The dashboard's themes, as Textual `Theme` objects: a dark default, a light one and a
high-contrast one. `railpack_tui.tui.app` registers them all; the choice is remembered."""

from __future__ import annotations

from textual.theme import Theme

RAILPACK_DARK = Theme(
    name="railpack-dark",
    primary="#A78BFA",
    secondary="#60A5FA",
    accent="#22D3EE",
    foreground="#E4E4E7",
    background="#0E1016",
    surface="#161922",
    panel="#1E2230",
    success="#4ADE80",
    warning="#FBBF24",
    error="#F87171",
    dark=True,
    variables={
        "block-cursor-text-style": "none",
        "footer-key-foreground": "#A78BFA",
        "input-selection-background": "#A78BFA 35%",
        "scrollbar": "#3A4058",
        "scrollbar-hover": "#4B5270",
        "scrollbar-active": "#A78BFA",
        "scrollbar-background": "#161922",
        "scrollbar-background-hover": "#161922",
        "scrollbar-background-active": "#161922",
        "scrollbar-corner-color": "#161922",
    },
)

RAILPACK_LIGHT = Theme(
    name="railpack-light",
    primary="#6D28D9",
    secondary="#1D4ED8",
    accent="#0E7490",
    foreground="#1F2328",
    background="#F6F7F9",
    surface="#FFFFFF",
    panel="#E7E9EE",
    success="#15803D",
    warning="#A16207",
    error="#B91C1C",
    dark=False,
    variables={
        "block-cursor-text-style": "none",
        "footer-key-foreground": "#6D28D9",
        "scrollbar": "#C5C9D3",
        "scrollbar-background": "#EEF0F4",
        "scrollbar-background-hover": "#EEF0F4",
        "scrollbar-background-active": "#EEF0F4",
        "scrollbar-corner-color": "#EEF0F4",
    },
)

RAILPACK_CONTRAST = Theme(
    name="railpack-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FF00FF",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#202020",
    success="#00FF00",
    warning="#FFB000",
    error="#FF4040",
    dark=True,
    luminosity_spread=0.25,
    text_alpha=1.0,
    variables={
        "block-cursor-text-style": "bold",
        "block-cursor-background": "#FFFF00",
        "block-cursor-foreground": "#000000",
        "footer-key-foreground": "#FFFF00",
        "border": "#FFFFFF",
    },
)

THEMES: tuple[Theme, ...] = (RAILPACK_DARK, RAILPACK_LIGHT, RAILPACK_CONTRAST)
DEFAULT = RAILPACK_DARK.name
NAMES: tuple[str, ...] = tuple(t.name for t in THEMES)


def next_theme(current: str) -> str:
    """The theme after `current` in the cycle (the first one if `current` is not ours)."""
    if current in NAMES:
        return NAMES[(NAMES.index(current) + 1) % len(NAMES)]
    return NAMES[0]
