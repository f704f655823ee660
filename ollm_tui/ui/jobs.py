"""What the model is doing, in one place: loading, replying, compressing, another job, idle.

The model does one thing at a time. Every question "may this start now, and if not, why"
is answered here (:meth:`ModelJobs.refusal`), and only the code that starts or ends a job
writes this state (the chat screen for replies, ``Compressor`` for compressions, the app for
loading). Jobs that run the model run in thread workers of group ``generate``; while one of
them has not finished, the model counts as busy even between a turn's end and the
compression check after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ollm_tui.ui.widgets.status import LoadState

if TYPE_CHECKING:
    from textual.worker import Worker

    from ollm_tui.engine.base import Backend
    from ollm_tui.ui.compressing import Compression
    from ollm_tui.ui.generation import Turn

GENERATE = "generate"
"""The worker group of every job that runs the model (replies, compressions, undo)."""

Activity = Literal["loading", "replying", "compressing", "busy", "idle"]
"""``busy``: a job other than a reply or a compression (undo, a snapshot restore), or one
that is starting or finishing."""

JobKind = Literal["turn", "job", "switch"]
"""What wants the model: a new reply, a context job (compress, undo, restore), a reload."""


@dataclass(frozen=True)
class Refusal:
    """Why something cannot start now, and how loudly to say so."""

    reason: str
    severity: Literal["warning", "error"] = "warning"


class ModelJobs:
    """The one owner of "what is the model doing"."""

    def __init__(
        self,
        engine: Callable[[], Backend],
        workers: Callable[[], Iterable[Worker[Any]]],
        model_path: Callable[[], Path | None],
    ) -> None:
        self._engine = engine
        self._workers = workers
        self._model_path = model_path
        self.load_state: LoadState = "none"
        """Whether a model is loading, ready, failed to load, or there is none."""
        self.load_error: str | None = None
        """Why the model did not load."""
        self.turn: Turn | None = None
        """The reply in progress, if any."""
        self.compression: Compression | None = None
        """The compression the app started (auto or "compress now"), if any."""
        self.starting = False
        """True from taking a queued message until its turn has started."""

    # -- written by the owners of each job ----------------------------------------------

    def loading(self) -> None:
        self.load_state, self.load_error = "loading", None

    def loaded(self) -> None:
        self.load_state, self.load_error = "ready", None

    def load_failed(self, reason: str) -> None:
        self.load_state, self.load_error = "failed", reason

    def no_model(self, reason: str | None = None) -> None:
        self.load_state, self.load_error = "none", reason

    def begin_turn(self, turn: Turn) -> None:
        self.turn, self.starting = turn, False

    def end_turn(self, turn_id: int) -> bool:
        """The turn ``turn_id`` is over; True when it was the one in progress."""
        if self.turn is None or self.turn.id != turn_id:
            return False
        self.turn = None
        return True

    def begin_compression(self, job: Compression) -> None:
        self.compression = job

    def end_compression(self, job_id: int | None) -> bool:
        """The compression ``job_id`` is over; True when it was the one in progress."""
        if self.compression is None or self.compression.id != job_id:
            return False
        self.compression = None
        return True

    # -- asked by everyone else -----------------------------------------------------------

    @property
    def activity(self) -> Activity:
        """What the model is doing now."""
        if self.turn is not None:
            return "replying"
        if self.compression is not None:
            return "compressing"
        if self.starting or any(w.group == GENERATE and not w.is_finished for w in self._workers()):
            return "busy"
        if self.load_state == "loading":
            return "loading"
        return "idle"

    def busy(self) -> bool:
        """True while the model has a job (a reply, a compression, an undo) or one is starting."""
        return self.activity in ("replying", "compressing", "busy")

    def stoppable(self) -> bool:
        """True while Esc has something to stop (a reply or a compression)."""
        return self.turn is not None or self.compression is not None

    def busy_reason(self) -> str | None:
        """Why the model cannot take another job now (None: it is free)."""
        activity = self.activity
        if activity == "replying":
            return "A reply is streaming: press Esc to stop it"
        if activity == "compressing":
            return "The chat is being compressed: wait a moment (Esc hurries it)"
        if activity == "busy":
            return "The model is busy: wait a moment"
        return None

    def no_model_reason(self) -> str | None:
        """Why a message cannot be sent now, or None when the model is ready."""
        if self.load_state == "ready" and self._engine().info is not None:
            return None
        if self.load_state == "loading":
            path = self._model_path()
            name = path.stem if path else "the model"
            return f"No model loaded: {name} is still loading"
        if self.load_state == "failed":
            return f"No model loaded: loading failed ({self.load_error})"
        return f"No model loaded: {self.load_error or 'no GGUF model was found'}"

    def refusal(self, kind: JobKind) -> Refusal | None:
        """Why ``kind`` cannot start now (None: it may)."""
        if kind == "switch":
            if self.turn is not None:
                return Refusal("A reply is streaming: press Esc to stop it first")
            busy = self.busy_reason()
            if busy is not None:  # a compression, an undo
                return Refusal(busy)
            if self.load_state == "loading":
                return Refusal("A model is loading: wait until it is ready")
            return None
        busy = self.busy_reason()
        if busy is not None:
            return Refusal(busy)
        missing = self.no_model_reason()
        if missing is not None:
            return Refusal(missing, "error" if kind == "turn" else "warning")
        return None
