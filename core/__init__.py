"""railpack-tui core: everything but the terminal UI. Never imports Textual."""

__version__ = "0.1.0"
