"""Messages the dashboard's parts send each other. Workers post them from their threads
(`post_message` is thread-safe); the app and screens handle them on the UI thread."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class RequestBuild(Message):
    """Any screen asks the app to build the current project (same as `app.start_build()`)."""

    def __init__(self, rebuild: bool = False) -> None:
        super().__init__()
        self.rebuild = rebuild


class RequestCancel(Message):
    """Any screen asks the app to cancel the running build."""


class BuildProgress(Message):
    """A snapshot of the running build, taken by the build worker between two lines of the stream
    (the only moment the model is not being written). A newer one replaces one still queued, so a
    flood of events never queues up more than one redraw."""

    def __init__(self, run: Any, snapshot: Any) -> None:
        super().__init__()
        self.run = run  # state.BuildJob
        self.snapshot = snapshot  # buildview.Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BuildProgress) and message.run is self.run


class BuildFinished(Message):
    """The build ended (posted by the build worker): `run.outcome` says how (success, failed,
    cancelled, incomplete, error). Live progress goes through `app.build_progress` instead."""

    def __init__(self, run: Any) -> None:
        super().__init__()
        self.run = run


class ProblemReported(Message):
    """A worker hit an error meant for the user; the app routes it to one notification."""

    def __init__(self, error: BaseException, context: str = "") -> None:
        super().__init__()
        self.error = error
        self.context = context
