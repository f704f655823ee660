"""Compression in the app: the auto run after a reply, "compress now", undo, snapshots.

``Compressor`` is the app's collaborator for it. Everything that runs the model (a compression, an undo, a
snapshot restore) runs in a thread worker of group ``generate``, the group replies use: the
model has one user at a time, and the send queue (``ui/queueing.py``) waits for it.

- After a reply, the same worker asks ``ChatSession.needs_compression()`` and, when the
  chat is at the trigger, runs ``compress(cancel, "auto")`` at once (before the user's next
  message needs the model).
- The status line says ``compressing… N messages``; each step is a toast; the end is a
  toast ("Compressed 24 messages -> 412 tokens (L3)") and a divider in the transcript.
- Esc cancels a compression, as it stops a reply.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from ollm_tui.engine.base import CancelToken
from ollm_tui.session.chat import (
    ChatSession,
    CompressionFinished,
    CompressionStarted,
    CompressionStep,
)
from ollm_tui.ui.generation import describe
from ollm_tui.ui.jobs import GENERATE
from ollm_tui.ui.messages import CompressionNote, ContextChanged

if TYPE_CHECKING:
    from textual.message import Message as TextualMessage

    from ollm_tui.core.budget import Usage
    from ollm_tui.core.conversation import Checkpoint, Snapshot
    from ollm_tui.store.db import Store
    from ollm_tui.ui.app import OllmApp

log = logging.getLogger("ollm.compression")

_job_ids = itertools.count(1)

NOTHING_TO_COMPRESS = "nothing to compress"
"""How ``ChatSession.compress``'s error starts when every message is in the kept window."""
T = TypeVar("T")


@dataclass(eq=False)
class Compression:
    """A compression run by the app (auto after a reply, or "compress now")."""

    session: ChatSession
    reason: str
    """"auto" or "manual"."""
    cancel: CancelToken = field(default_factory=CancelToken)
    id: int = field(default_factory=lambda: next(_job_ids))
    """Names the job in the notes about it."""

    @property
    def chat_id(self) -> int:
        """The chat being compressed."""
        return self.session.chat.id

    def stop(self) -> None:
        """Ask the compression to stop (any thread)."""
        self.cancel.cancel()


def run_compression(job: Compression, post: Callable[[TextualMessage], object]) -> None:
    """Run ``job`` in the calling (worker) thread, posting a ``CompressionNote`` per event.

    Never raises ``Exception``: an unexpected error is posted as a failed finish.
    """
    try:
        for event in job.session.compress(job.cancel, job.reason):
            post(CompressionNote(job.chat_id, event, job.id))
    except Exception as exc:
        log.exception("compression failed")
        failed = CompressionFinished(None, 0, 0, 0, 0.0, describe(exc))
        post(CompressionNote(job.chat_id, failed, job.id))


def compress_if_needed(
    session: ChatSession,
    post: Callable[[TextualMessage], object],
    register: Callable[[Compression], None],
    usage: Usage | None = None,
) -> None:
    """After a reply (worker thread): compress when the chat is at the trigger.

    ``register`` hands the job to the app before it runs (``Compressor.register``);
    ``usage`` is the figure the reply's ``TurnFinished`` carried (None: count now)."""
    try:
        needed = session.needs_compression(usage)
    except Exception:  # the next send's own check (and its emergency ladder) still runs
        log.exception("cannot tell whether the chat needs compressing")
        return
    if needed:
        job = Compression(session, "auto")
        register(job)
        run_compression(job, post)


def shown_checkpoints(every: list[Checkpoint], active: list[Checkpoint]) -> list[Checkpoint]:
    """The checkpoints that get a divider: the active ones, and the inactive ones no active
    checkpoint covers (undone, or left out by a restored snapshot). An inactive one that an
    active one covers was aged or merged into it: its divider would only repeat it."""
    ranges = [(c.first_message_id, c.last_message_id) for c in active]
    ids = {c.id for c in active}

    def covered(c: Checkpoint) -> bool:
        return any(a <= c.first_message_id and c.last_message_id <= b for a, b in ranges)

    return [c for c in every if c.id in ids or not covered(c)]


def finished_text(event: CompressionFinished) -> str:
    """The toast for a successful finish, e.g. ``"Compressed 24 messages -> 412 tokens (L3)"``."""
    cp = event.checkpoint
    if cp is None:
        return "Nothing was compressed."
    level = "rolling summary" if cp.level == 0 else f"L{cp.level}"
    extra = ", extractive" if cp.fallback else ""
    return f"Compressed {event.messages} messages -> {cp.tokens} tokens ({level}{extra})"


class Compressor:
    """Compression, undo and snapshots for the app: starts the jobs, shows their notes.

    It writes the model's compression state (``ModelJobs.begin_compression`` /
    ``end_compression``); everything else only asks ``ModelJobs``.
    """

    def __init__(self, app: OllmApp) -> None:
        self.app = app
        self.jobs = app.jobs
        self._started: dict[int, Compression] = {}

    def _refuse(self) -> bool:
        """Say why the model cannot take a job now; True if refused."""
        refusal = self.jobs.refusal("job")
        if refusal is not None:
            self.app.notify(refusal.reason, severity="warning", markup=False)
            return True
        return False

    def register(self, job: Compression) -> None:
        """Know ``job`` by its id (any thread): its notes name it; when it starts it
        becomes the model's compression."""
        self._started[job.id] = job

    # -- palette actions -------------------------------------------------------------------

    def compress_now(self) -> None:
        """Compress the open chat now (whatever its usage)."""
        if self._refuse():
            return
        job = Compression(self.app.chat_screen.session, "manual")
        self.register(job)
        post = self.app.chat_screen.post_message
        self.app.run_worker(
            partial(run_compression, job, post),
            thread=True,
            exit_on_error=False,
            group=GENERATE,
            name="compress",
        )

    def undo(self) -> None:
        """Swap the active context back to before the last compression."""
        if self._refuse():
            return
        session = self.app.chat_screen.session

        def done(undone: bool) -> None:
            if undone:
                self.app.notify("Undid the last compression: its messages are sent in full again.")
            else:
                self.app.notify(
                    "Nothing to undo: this chat has no compression.", severity="warning"
                )

        self._context_job(session, session.undo_compression, done, "Undo")

    def pick_snapshot(self) -> None:
        """Pick a snapshot of the open chat's context to restore."""
        from ollm_tui.ui.screens.pickers import SnapshotPicker

        if self._refuse():
            return
        session = self.app.chat_screen.session
        snapshots = session.snapshots()

        def chosen(snapshot: Snapshot | None) -> None:
            if snapshot is None or self.app.session is not session or self._refuse():
                return

            def done(_: None) -> None:
                self.app.notify(f"Restored the snapshot: {snapshot.label}", markup=False)

            self._context_job(
                session, lambda: session.restore_snapshot(snapshot.id), done, "Restoring"
            )

        self.app.push_screen(SnapshotPicker(snapshots), chosen)

    def _context_job(
        self, session: ChatSession, run: Callable[[], T], done: Callable[[T], None], what: str
    ) -> None:
        """Run ``run`` (undo, restore) where the model's jobs run; then ``done`` and a redraw."""
        app = self.app

        def job() -> None:
            try:
                result = run()
            except Exception as exc:
                log.exception("%s failed", what)
                app.call_from_thread(
                    app.notify, f"{what} failed: {describe(exc)}", severity="error", markup=False
                )
                return
            app.call_from_thread(done, result)
            app.chat_screen.post_message(ContextChanged(session.chat.id))

        app.run_worker(job, thread=True, exit_on_error=False, group=GENERATE, name=what)

    # -- notes from the workers ------------------------------------------------------------

    def note(self, message: CompressionNote) -> None:
        """A compression event from a worker: status line, toasts, dividers."""
        event = message.event
        status = self.app.status_line
        if isinstance(event, CompressionStarted):
            job = self._started.get(message.job_id or 0)
            if job is not None:
                self.jobs.begin_compression(job)
                self.app.refresh_bindings()
            status.show_compressing(event.messages)
        elif isinstance(event, CompressionStep):
            self.app.notify(event.text, title="Compression", markup=False)
        else:
            self._finished(message.chat_id, event, message.job_id)

    def _finished(self, chat_id: int, event: CompressionFinished, job_id: int | None) -> None:
        app, jobs = self.app, self.jobs
        job = self._started.pop(job_id, None) if job_id is not None else None
        if job is not None and jobs.end_compression(job.id):
            app.refresh_bindings()
        turn = jobs.turn
        app.status_line.end_compressing("generating…" if turn is not None else "")
        cancelled = (job is not None and job.cancel.cancelled) or (
            turn is not None and turn.cancel.cancelled
        )
        if event.error and cancelled:
            app.notify("Compression cancelled: the chat is unchanged.", markup=False)
        elif event.error and event.error.startswith(NOTHING_TO_COMPRESS):
            text = event.error[0].upper() + event.error[1:]
            app.notify(text, severity="warning", markup=False)
        elif event.error:
            app.workspace.notify_doc(
                f"Compression failed: {event.error}",
                "context.md#compression-into-checkpoints",
                severity="error",
            )
        else:
            app.notify(finished_text(event), title="Compression", markup=False)
        app.chat_screen.context_changed(chat_id if job_id is not None else app.chat.id)
        app.queue.drain()

    def abandon(self) -> None:
        """A model job broke unexpectedly: no compression is under way any more."""
        job = self.jobs.compression
        if job is not None:
            self._started.pop(job.id, None)
            self.jobs.end_compression(job.id)
        self.app.status_line.end_compressing()

    def stop(self) -> bool:
        """Ask the compression under way to stop; False when there is none."""
        job = self.jobs.compression
        if job is None:
            return False
        job.stop()
        self.app.status_line.end_compressing("stopping…")
        return True


def checkpoints_of(store: Store, chat_id: int) -> tuple[list[Checkpoint], set[int]]:
    """The checkpoints of a chat to show as dividers, and the ids of the active ones."""
    active = store.checkpoints(chat_id)
    shown = shown_checkpoints(store.all_checkpoints(chat_id), active)
    return shown, {c.id for c in active}
