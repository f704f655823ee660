"""Compression in the app: the auto run after a reply, "compress now", undo, snapshots.

``OllmApp`` mixes this in. Everything that runs the model (a compression, an undo, a
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

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from textual import work

from ollm_tui.engine.base import CancelToken
from ollm_tui.session.chat import (
    ChatSession,
    CompressionFinished,
    CompressionStarted,
    CompressionStep,
)
from ollm_tui.ui.generation import describe
from ollm_tui.ui.messages import CompressionNote

if TYPE_CHECKING:
    from textual.message import Message as TextualMessage

    from ollm_tui.core.conversation import Checkpoint, Snapshot
    from ollm_tui.ui.app import OllmApp

log = logging.getLogger("ollm.compression")

_Base: Any = object

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
            post(CompressionNote(event, job))
    except Exception as exc:  # noqa: BLE001 - a summariser error must never crash the app
        log.exception("compression failed")
        post(CompressionNote(CompressionFinished(None, 0, 0, 0, 0.0, describe(exc)), job))


def compress_if_needed(session: ChatSession, post: Callable[[TextualMessage], object]) -> None:
    """After a reply (worker thread): compress when the chat is at the trigger."""
    try:
        needed = session.needs_compression()
    except Exception:  # the next send's own check (and its emergency ladder) still runs
        log.exception("cannot tell whether the chat needs compressing")
        return
    if needed:
        run_compression(Compression(session, "auto"), post)


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


class CompressionMixin(_Base):
    """Compression, undo and snapshots for ``OllmApp``."""

    compression: Compression | None
    """The compression in progress that the app started, if any."""

    def model_busy_reason(self: OllmApp) -> str | None:
        """Why the model cannot take another job now (None: it is free)."""
        if self.turn is not None:
            return "A reply is streaming: press Esc to stop it"
        if self.compression is not None:
            return "The chat is being compressed: wait a moment (Esc hurries it)"
        if self.model_busy():
            return "The model is busy: wait a moment"
        return None

    def _refuse_model_job(self: OllmApp) -> bool:
        """Say why the model cannot take a job now; True if refused."""
        reason = self.model_busy_reason() or self.no_model_reason()
        if reason is not None:
            self.notify(reason, severity="warning", markup=False)
            return True
        return False

    # -- palette actions -------------------------------------------------------------------

    def action_compress_now(self: OllmApp) -> None:
        """Compress the open chat now (whatever its usage)."""
        if self._refuse_model_job():
            return
        self._compress(Compression(self._session(), "manual"))

    @work(thread=True, exit_on_error=False, group="generate")
    def _compress(self: OllmApp, job: Compression) -> None:
        run_compression(job, self.post_message)

    def action_undo_compression(self: OllmApp) -> None:
        """Swap the active context back to before the last compression."""
        if self._refuse_model_job():
            return
        session = self._session()

        def done(undone: bool) -> None:
            if undone:
                self.notify("Undid the last compression: its messages are sent in full again.")
            else:
                self.notify("Nothing to undo: this chat has no compression.", severity="warning")

        self._context_job(session, session.undo_compression, done, "Undo")

    def action_pick_snapshot(self: OllmApp) -> None:
        """Pick a snapshot of the open chat's context to restore."""
        from ollm_tui.ui.screens.pickers import SnapshotPicker

        if self._refuse_model_job():
            return
        session = self._session()
        snapshots = session.snapshots()

        def chosen(snapshot: Snapshot | None) -> None:
            if snapshot is None or self.session is not session or self._refuse_model_job():
                return

            def done(_: None) -> None:
                self.notify(f"Restored the snapshot: {snapshot.label}", markup=False)

            self._context_job(
                session, lambda: session.restore_snapshot(snapshot.id), done, "Restoring"
            )

        self.push_screen(SnapshotPicker(snapshots), chosen)

    @work(thread=True, exit_on_error=False, group="generate")
    def _context_job(
        self: OllmApp,
        session: ChatSession,
        run: Callable[[], T],
        done: Callable[[T], None],
        what: str,
    ) -> None:
        """Run ``run`` (undo, restore) where the model's jobs run; then ``done`` and a redraw."""
        try:
            result = run()
        except Exception as exc:  # noqa: BLE001 - a failed undo must never crash the app
            log.exception("%s failed", what)
            self.call_from_thread(
                self.notify, f"{what} failed: {describe(exc)}", severity="error", markup=False
            )
            return
        self.call_from_thread(done, result)
        self.call_from_thread(self.context_changed, session.chat.id)

    # -- notes from the workers ------------------------------------------------------------

    def on_compression_note(self: OllmApp, message: CompressionNote) -> None:
        """A compression event from a worker: status line, toasts, dividers."""
        event, job = message.event, message.job
        if isinstance(event, CompressionStarted):
            if job is not None:
                self.compression = job
                self.refresh_bindings()
            self.status_line.show_compressing(event.messages)
        elif isinstance(event, CompressionStep):
            self.notify(event.text, title="Compression", markup=False)
        else:
            self._compression_finished(event, job)

    def _compression_finished(
        self: OllmApp, event: CompressionFinished, job: Compression | None
    ) -> None:
        if job is not None and job is self.compression:
            self.compression = None
            self.refresh_bindings()
        self.status_line.end_compressing("generating…" if self.turn is not None else "")
        cancelled = (job is not None and job.cancel.cancelled) or (
            self.turn is not None and self.turn.cancel.cancelled
        )
        if event.error and cancelled:
            self.notify("Compression cancelled: the chat is unchanged.", markup=False)
        elif event.error and event.error.startswith(NOTHING_TO_COMPRESS):
            text = event.error[0].upper() + event.error[1:]
            self.notify(text, severity="warning", markup=False)
        elif event.error:
            self.notify_doc(
                f"Compression failed: {event.error}",
                "context.md#compression-into-checkpoints",
                severity="error",
            )
        else:
            self.notify(finished_text(event), title="Compression", markup=False)
        chat_id = job.chat_id if job is not None else self.chat.id
        self.context_changed(chat_id)
        self.drain_queue()

    def context_changed(self: OllmApp, chat_id: int) -> None:
        """The active context of ``chat_id`` changed: redraw its dividers, count it again."""
        if self.session is None or self.session.chat.id != chat_id:
            return
        self.show_checkpoints()
        self.context.refresh()

    def show_checkpoints(self: OllmApp) -> None:
        """Bring the transcript's checkpoint dividers in line with the store."""
        every, active = self.checkpoints_of(self.chat.id)
        self.transcript.sync_checkpoints(every, active)

    def checkpoints_of(self: OllmApp, chat_id: int) -> tuple[list[Checkpoint], set[int]]:
        """The checkpoints of a chat to show as dividers, and the ids of the active ones."""
        active = self.store.checkpoints(chat_id)
        shown = shown_checkpoints(self.store.all_checkpoints(chat_id), active)
        return shown, {c.id for c in active}
