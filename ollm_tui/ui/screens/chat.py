"""The chat screen: chat list, transcript, queue, composer, status line, and their actions.

It is the app's default screen (``ui/app.py``). One turn, from the composer to the
screen: ``Composer.Submitted`` -> :meth:`ChatScreen.send_text` shows the message and an
empty reply -> :meth:`ChatScreen.start_turn` runs ``generation.run_turn`` in a thread
worker (group ``generate``) -> the worker posts ``TurnBegan``/``TurnEnded``/``TurnFailed``
(ids and stored rows, ``ui/messages.py``) back here, and the reply widget drains the
turn's ``StreamBuffer`` meanwhile. The screen finds a turn's widgets by the turn's id.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from ollm_tui.session.chat import ChatSession
from ollm_tui.session.events import (
    ContextEvent,
)
from ollm_tui.store.db import Chat
from ollm_tui.ui.bindings import CHAT_BINDINGS
from ollm_tui.ui.clipboard import copy_last_code, copy_text
from ollm_tui.ui.compressing import checkpoints_of, compress_if_needed
from ollm_tui.ui.generation import Turn, run_turn
from ollm_tui.ui.jobs import GENERATE
from ollm_tui.ui.messages import (
    CompressionNote,
    ContextChanged,
    ContextNote,
    TurnBegan,
    TurnEnded,
    TurnFailed,
)
from ollm_tui.ui.queueing import QueuePanel
from ollm_tui.ui.safe_text import safe
from ollm_tui.ui.screens.dialogs import ConfirmDialog, RenameDialog
from ollm_tui.ui.widgets.chat_list import ChatList
from ollm_tui.ui.widgets.composer import Composer
from ollm_tui.ui.widgets.memory_meter import MemoryMeter
from ollm_tui.ui.widgets.status import StatusLine
from ollm_tui.ui.widgets.transcript import ReplyEntry, Transcript, UserEntry

if TYPE_CHECKING:
    from ollm_tui.ui.app import OllmApp

STOP_WAIT_S = 5.0
"""How long switching or deleting a chat waits for a stopped reply to be stored."""


CHAT_ACTIONS = {b.action for b in CHAT_BINDINGS if isinstance(b, Binding)}
"""The actions of the chat's keys."""


class ChatScreen(Screen[None]):
    """The main screen: one open chat and the keys that drive it."""

    BINDINGS: ClassVar[list[BindingType]] = CHAT_BINDINGS

    chat_list = getters.query_one("#chat-list", ChatList)
    transcript = getters.query_one("#transcript", Transcript)
    composer = getters.query_one("#composer", Composer)
    status_line = getters.query_one("#status", StatusLine)
    memory_meter = getters.query_one("#status-memory", MemoryMeter)

    def __init__(self, ollm: OllmApp) -> None:
        super().__init__()
        self.ollm = ollm
        self.jobs = ollm.jobs
        self.store = ollm.store
        self.session: ChatSession | None = None
        """The open chat (set when the screen starts)."""
        self._views: dict[int, tuple[UserEntry | None, ReplyEntry]] = {}
        """The transcript entries of each turn in progress, by turn id."""

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        ollm = self.ollm
        self._size_classes()
        with Horizontal(id="main"):
            yield ChatList(id="chat-list")
            with Vertical(id="chat-pane"):
                yield Transcript(id="transcript")
                yield QueuePanel(id="queue")
                yield Composer(id="composer")
        placement = ollm.models.placement
        device = placement.plan.device.label if placement else "RAM"
        meter = MemoryMeter(
            ollm.memory_probe,
            ollm.settings.memory_sample_s,
            device,
            ollm.memory_guard,
            id="status-memory",
        )
        yield StatusLine(memory_meter=meter, id="status")
        yield Footer(id="footer", compact=True, show_command_palette=False)

    def _size_classes(self) -> None:
        """The app's breakpoint classes for the terminal's size, before the first layout.

        Textual sets them on the screen's first resize, which comes after this screen's
        first layout: a terminal too small for the layout would be laid out once anyway.
        """
        width, height = self.app.size
        classes: dict[str, bool] = {}
        for points, size in (
            (self.app.HORIZONTAL_BREAKPOINTS or [], width),
            (self.app.VERTICAL_BREAKPOINTS or [], height),
        ):
            reached = [name for start, name in sorted(points) if size >= start]
            for _, name in points:
                classes[name] = bool(reached) and name == reached[-1]
        self.update_classes(classes, animate=False)

    async def on_mount(self) -> None:
        self.chat_list.border_title = "Chats"
        self.composer.border_title = "Message"
        self.composer.border_subtitle = "Enter send · ^J new line"
        self.composer.take_back = self.ollm.queue.take_back
        self.ollm.started()
        recent = self.store.most_recent_chat()
        await self.open_chat(recent or self.store.create_chat())
        self.composer.focus()
        self.ollm.fit_screen(self.app.size)

    # -- chats ---------------------------------------------------------------------------

    @property
    def chat(self) -> Chat:
        """The open chat (as last read from the store)."""
        assert self.session is not None
        return self.session.chat

    async def open_chat(self, chat: Chat) -> None:
        """Show ``chat`` and make it the one new messages go to."""
        ollm = self.ollm
        ollm.queue.put_back("Switched chat")
        self.session = ChatSession(
            self.store,
            ollm.engine,
            ollm.settings,
            chat,
            ollm.summariser,
            listener=self.context_event,
            guard=ollm.memory_guard,
        )
        ollm.models.remember_tier(announce=False)  # the session's tier is this chat's too
        self.session.accounting = ollm.accounting  # exact counts from the cache in fit()
        self.session.kv = ollm.kv_cache
        messages = self.store.messages(chat.id)
        await self.transcript.show(messages, *checkpoints_of(self.store, chat.id))
        if not self.is_attached:
            return  # the app quit while the chat was being shown
        self.transcript.border_subtitle = ""
        self._show_chat_title()
        self.refresh_chat_list()
        ollm.context.chat_opened()
        users = [m for m in messages if m.role == "user"]
        self.composer.recall = users[-1].content if users else None
        replies = [m for m in messages if m.role == "assistant" and "tokens_per_s" in m.meta]
        if replies:
            meta = replies[-1].meta
            self.status_line.show_done(meta.get("tokens_per_s"), meta.get("ttft_s"))
        else:
            self.status_line.perf = ""

    def _show_chat_title(self) -> None:
        if self.session is None:
            return
        self.session.chat = self.store.get_chat(self.session.chat.id) or self.session.chat
        self.transcript.border_title = safe(self.session.chat.title)

    def refresh_chat_list(self) -> None:
        """Reread the chats from the store."""
        self.chat_list.show_chats(self.store.list_chats(), self.chat.id)

    async def stop_and_wait(self, why: str = "Switched chat") -> None:
        """Stop the reply (it is kept, marked stopped) or compression under way and wait
        until the model is free. Queued messages go back to the composer (note: ``why``)."""
        self.ollm.queue.put_back(why)
        self.action_stop()
        running = [w for w in self.app.workers if w.group == GENERATE and not w.is_finished]
        for worker in running:
            # a timeout leaves the job to finish on its own; worker errors are reported
            # by the app's Worker.StateChanged handler
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(worker.wait()), STOP_WAIT_S)

    async def choose_chat(self, chat_id: int) -> None:
        """Open chat ``chat_id`` (chosen in the list or the palette)."""
        if chat_id != self.chat.id:
            chat = self.store.get_chat(chat_id)
            if chat is None:
                self.refresh_chat_list()
                return
            await self.stop_and_wait()
            if not self.is_attached:
                return  # the app quit while the reply was being stopped
            await self.open_chat(chat)
            if not self.is_attached:
                return
        self.composer.focus()

    async def action_new_chat(self) -> None:
        """Open a new, empty chat (the open one if it is still empty)."""
        await self.stop_and_wait("New chat")
        if not self.store.messages(self.chat.id):
            self.notify("This chat is still empty: type a message below.")
        else:
            await self.open_chat(self.store.create_chat())
        self.composer.focus()

    def action_toggle_chats(self) -> None:
        """Show (and focus) or hide the chat list."""
        chat_list = self.chat_list
        chat_list.display = not chat_list.display
        if chat_list.display:
            chat_list.focus()
        elif self.focused is None or self.focused is chat_list:
            self.composer.focus()

    def action_rename_chat(self) -> None:
        """Ask for a new title for the open chat."""
        self._show_chat_title()
        chat = self.chat

        def renamed(title: str | None) -> None:
            if title and self.session is not None and self.session.chat.id == chat.id:
                self.session.rename(title)
                self._show_chat_title()
                self.refresh_chat_list()

        self.app.push_screen(RenameDialog(chat.title), renamed)

    def action_delete_chat(self) -> None:
        """Delete the open chat, after asking."""
        self._confirm_delete(self.chat.id)

    @on(ChatList.DeleteRequested)
    def _delete_requested(self, message: ChatList.DeleteRequested) -> None:
        self._confirm_delete(message.chat_id)

    def _confirm_delete(self, chat_id: int) -> None:
        chat = self.store.get_chat(chat_id)
        if chat is None:
            return
        count = len(self.store.messages(chat_id))
        noun = "message" if count == 1 else "messages"
        question = f"Delete “{chat.title}” and its {count} {noun}? This cannot be undone."

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.delete_chat(chat)

        self.app.push_screen(ConfirmDialog("Delete chat", question, yes_label="Delete"), answered)

    async def delete_chat(self, chat: Chat) -> None:
        """Delete ``chat`` (stopping its reply first); open a neighbour if it was open."""
        turn = self.jobs.turn
        if turn is not None and turn.chat_id == chat.id:
            await self.stop_and_wait("Deleted the chat")
        order = [c.id for c in self.store.list_chats()]
        self.store.delete_chat(chat.id)
        self.ollm.kv_cache.forget_chat(chat.id)
        if chat.id == self.chat.id:
            rest = self.store.list_chats()
            index = min(order.index(chat.id), len(rest) - 1) if chat.id in order else 0
            await self.open_chat(rest[index] if rest else self.store.create_chat())
        else:
            self.refresh_chat_list()
        self.notify(f"Deleted “{chat.title}”", markup=False)

    def add_divider(self, text: str, meta: dict[str, object]) -> None:
        """Store a divider note in the open chat (a model switch) and show it."""
        chat_id = self.chat.id
        self.store.add_message(chat_id, "divider", text, meta=meta)
        self.app.run_worker(self._show_stored(chat_id), group="transcript", exit_on_error=False)

    async def _show_stored(self, chat_id: int) -> None:
        await self.transcript.show(
            self.store.messages(chat_id), *checkpoints_of(self.store, chat_id)
        )

    # -- turns ---------------------------------------------------------------------------

    def _refuse_turn(self) -> bool:
        """Say why a new turn cannot start now (the model is busy, no model); True if refused."""
        refusal = self.jobs.refusal("turn")
        if refusal is not None:
            self.notify(refusal.reason, severity=refusal.severity, markup=False)
            return True
        return False

    @on(Composer.Submitted)
    async def _submitted(self, event: Composer.Submitted) -> None:
        queue = self.ollm.queue
        if self.jobs.busy() or queue.queued:
            queue.add(event.text)  # sent in order once the model is free
            queue.drain()
            return
        reason = self.jobs.no_model_reason()
        if reason is not None:
            self.notify(reason, severity="error", markup=False)
            return
        self.composer.clear()
        self.composer.recall = event.text
        await self.send_text(event.text)

    async def send_text(self, text: str) -> None:
        """Show ``text`` and its (empty) reply and start the turn (the model is free)."""
        try:
            user_view = await self.transcript.add_user(text)
            reply_view = await self.transcript.add_reply(self._model_name())
        except BaseException:
            self.jobs.starting = False  # the model is not busy after all
            raise
        assert self.session is not None
        self.start_turn(Turn(self.session, text), reply_view, user_view)

    def restore_composer(self, text: str) -> None:
        """Put ``text`` back in the composer, before what is typed there."""
        typed = self.composer.text
        self.composer.load_text(text if not typed.strip() else f"{text}\n{typed}")
        self.composer.move_cursor(self.composer.document.end)
        self.composer.focus()

    async def action_regenerate(self) -> None:
        """Replace the last reply with a new one."""
        if self._refuse_turn():
            return
        if not any(m.role == "user" for m in self.store.messages(self.chat.id)):
            self.notify("Nothing to regenerate: send a message first.", severity="warning")
            return
        await self.transcript.drop_trailing_replies()
        reply_view = await self.transcript.add_reply(self._model_name())
        assert self.session is not None
        self.start_turn(Turn(self.session, None), reply_view)

    def action_stop(self) -> None:
        """Stop the reply being written (what it wrote so far is kept), or the compression."""
        self.ollm.compressor.stop()
        turn = self.jobs.turn
        if turn is None:
            return
        turn.stop()
        views = self._views.get(turn.id)
        if views is not None:
            views[1].mark_stopping()
        self.status_line.activity = "stopping…"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The chat's keys are off while a dialog or a pane is on top (the footer under a
        dialog leaves them out); Esc only stops while a reply streams or a compression runs."""
        if action in CHAT_ACTIONS and self.app.screen is not self:
            return False
        return not (action == "stop" and not self.jobs.stoppable())

    def _model_name(self) -> str | None:
        info = self.ollm.engine.info
        return info.name if info else None

    def start_turn(
        self, turn: Turn, reply_view: ReplyEntry, user_view: UserEntry | None = None
    ) -> None:
        """Run ``turn`` in the generation worker, showing it streaming in ``reply_view``."""
        self._views[turn.id] = (user_view, reply_view)
        self.jobs.begin_turn(turn)
        self.ollm.full_gc.hold()
        self.transcript.begin_stream(reply_view, turn.buffer)
        self.status_line.activity = "generating…"
        self.app.refresh_bindings()
        self.ollm.context.turn_started(turn)
        # on the app: its one Worker.StateChanged handler sees every model job end
        turn.worker = self.app.run_worker(
            partial(self._generate, turn),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group=GENERATE,
            name="reply",
        )

    def _generate(self, turn: Turn) -> None:
        """The reply, then the compression check (worker thread)."""
        run_turn(turn, self.post_message)
        if turn.complete and not turn.cancel.cancelled:  # before the next message
            compress_if_needed(
                turn.session, self.post_message, self.ollm.compressor.register, turn.usage
            )

    def end_turn(self, turn_id: int, counted: bool = False) -> None:
        """The turn ``turn_id`` is over (when it is the one in progress: the model is free).
        ``counted``: the usage after it came with it (nothing is counted again)."""
        self._views.pop(turn_id, None)
        if not self.jobs.end_turn(turn_id):
            return
        self.ollm.full_gc.release()
        self.status_line.activity = ""
        self.app.refresh_bindings()
        self.ollm.context.turn_ended(counted)
        # the worker's end (the app's Worker.StateChanged) may come before or after this
        # message (they go to different queues): whichever is last sends the next one
        self.ollm.queue.drain()

    @on(TurnBegan)
    def _turn_began(self, message: TurnBegan) -> None:
        user_view, reply_view = self._views.get(message.turn_id, (None, None))
        if user_view is not None:
            user_view.message = message.user  # type: ignore[assignment]
        if reply_view is not None:
            reply_view.message = message.reply
        if message.chat_id == self.chat.id:
            self._show_chat_title()  # the first message names the chat
            self.refresh_chat_list()

    @on(TurnEnded)
    def _turn_ended(self, message: TurnEnded) -> None:
        views = self._views.get(message.turn_id)
        if views is not None:
            self.transcript.finish(views[1], message.reply)
        self.end_turn(message.turn_id, counted=message.usage is not None)
        if message.done is not None:
            self.status_line.show_done(message.done.tokens_per_s, message.done.ttft_s)
        if message.error:
            self.ollm.models.remote.reply_failed(message.error)
            self.ollm.queue.put_back("The reply failed")
        if message.save_error:  # the reply stays on screen; what was stored before is kept
            self.notify(
                f"The reply is shown but was not saved: {message.save_error}",
                title="Not saved",
                severity="error",
                markup=False,
                timeout=20,
            )
        if message.chat_id == self.chat.id:
            self.refresh_chat_list()

    @on(TurnFailed)
    async def _turn_failed(self, message: TurnFailed) -> None:
        self.end_turn(message.turn_id)
        if message.chat_id == self.chat.id:
            await self._show_stored(message.chat_id)  # what is stored
            self.ollm.queue.put_back("A message before them was not sent")
            if message.text is not None and not message.started:
                self.restore_composer(message.text)  # first, before the queued ones
        if message.too_long:
            self.notify(f"Message too long: {message.reason}", severity="error", markup=False)
        else:
            self.ollm.models.remote.reply_failed(message.reason, started=message.started)

    @on(CompressionNote)
    def _compression_note(self, message: CompressionNote) -> None:
        self.ollm.compressor.note(message)

    @on(ContextChanged)
    def _context_changed(self, message: ContextChanged) -> None:
        self.context_changed(message.chat_id)

    def context_changed(self, chat_id: int) -> None:
        """The active context of ``chat_id`` changed: redraw its dividers, count it again."""
        if self.session is None or self.session.chat.id != chat_id:
            return
        every, active = checkpoints_of(self.store, chat_id)
        self.transcript.sync_checkpoints(every, active)
        self.ollm.context.refresh()

    def context_event(self, event: ContextEvent) -> None:
        """The open chat's context manager reports ``event`` (from any thread)."""
        self.post_message(ContextNote(event))

    @on(MemoryMeter.Sampled)
    def _memory_sampled(self, message: MemoryMeter.Sampled) -> None:
        self.ollm.context.memory_sampled(message.device)

    @on(ContextNote)
    def _context_note(self, message: ContextNote) -> None:
        self.ollm.context.context_event(message.event)

    @on(Composer.Changed, "#composer")
    def _composer_changed(self, event: Composer.Changed) -> None:
        self.ollm.context.composer_changed(event.text_area.text)

    def action_token_stats(self) -> None:
        """Show the context budget and the token-count cache figures."""
        self.ollm.context.show_stats()

    def action_pick_model(self) -> None:
        """Open the model picker."""
        self.ollm.models.pick_model()

    def action_pick_tier(self) -> None:
        """Open the tier picker for the loaded model."""
        self.ollm.models.pick_tier()

    # -- copying -------------------------------------------------------------------------

    @on(Transcript.CopyRequested)
    def _copy_message(self, message: Transcript.CopyRequested) -> None:
        copy_text(self.app, message.entry.text)

    def action_copy_code(self) -> None:
        """Copy the last fenced code block of the last reply."""
        reply = self.transcript.last_reply()
        copy_last_code(self.app, reply.text if reply is not None else None)
