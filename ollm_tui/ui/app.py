"""The Textual app: chat list, transcript, composer, status line, and the keys that drive them.

The screen comes up at once; the model loads in a thread worker (group ``model``) and each
reply is generated in another (group ``generate``, which compressions, undo and snapshot
restores share: ``ui/compressing.py``), so the UI never waits on the engine. Messages sent
while that group is busy are queued (``ui/queueing.py``). A failed load or a failed reply
becomes an error toast; the app keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, getters, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from ollm_tui.accounting import Accounting
from ollm_tui.core.hardware import HardwareProbe
from ollm_tui.engine.base import Backend, CancelToken, LoadOptions, ModelInfo
from ollm_tui.engine.kv_state import ChatKvCache, KvStateStore
from ollm_tui.engine.planning import Placement
from ollm_tui.engine.servers import model_label
from ollm_tui.session import ChatSession
from ollm_tui.settings import Settings
from ollm_tui.store.db import Chat, Store
from ollm_tui.summariser import EngineSummariser
from ollm_tui.ui.bindings import APP_BINDINGS
from ollm_tui.ui.chat_list import ChatList
from ollm_tui.ui.clipboard import last_code_block, sent_note
from ollm_tui.ui.composer import Composer
from ollm_tui.ui.compressing import Compression, CompressionMixin, compress_if_needed
from ollm_tui.ui.context_watch import ContextWatch
from ollm_tui.ui.dialogs import ConfirmDialog, RenameDialog
from ollm_tui.ui.generation import FullCollections, Turn, describe, run_turn
from ollm_tui.ui.memory_meter import MemoryMeter
from ollm_tui.ui.messages import TurnBegan, TurnEnded, TurnFailed
from ollm_tui.ui.queueing import QueueMixin, QueuePanel
from ollm_tui.ui.remote import RemoteModels
from ollm_tui.ui.safe_text import SafeToasts, safe
from ollm_tui.ui.status import LoadState, StatusLine
from ollm_tui.ui.switching import ModelSwitching
from ollm_tui.ui.too_small import TooSmallScreen, is_too_small
from ollm_tui.ui.transcript import AssistantMessage, CheckpointDivider, MessageView, Transcript
from ollm_tui.ui.workspace import WorkspaceMixin, commands_provider, docs_search_provider

if TYPE_CHECKING:
    from textual.command import Provider

STOP_WAIT_S = 5.0
"""How long switching or deleting a chat waits for a stopped reply to be stored."""


# Actions that act on the chat screen; off while a dialog is open (see check_action).
_SCREEN_ACTIONS = {
    "stop",
    "regenerate",
    "new_chat",
    "toggle_chats",
    "rename_chat",
    "delete_chat",
    "copy_code",
    "pick_model",
    "pick_tier",
    "token_stats",
}


class OllmApp(
    SafeToasts,
    ModelSwitching, RemoteModels, CompressionMixin, QueueMixin, WorkspaceMixin, inherit_bindings=False
):
    """A full-screen chat with a local GGUF model."""

    CSS_PATH = "app.tcss"
    TITLE = "ollm"
    BINDINGS: ClassVar[list[BindingType]] = APP_BINDINGS
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {
        commands_provider,
        docs_search_provider,
    }
    # (App annotates these oddly, so a ClassVar annotation here upsets mypy)
    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (40, "-narrow"), (100, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (10, "-tall")]  # noqa: RUF012

    chat_list = getters.query_one("#chat-list", ChatList)
    transcript = getters.query_one("#transcript", Transcript)
    composer = getters.query_one("#composer", Composer)
    status_line = getters.query_one("#status", StatusLine)
    memory_meter = getters.query_one("#status-memory", MemoryMeter)

    def __init__(
        self,
        settings: Settings,
        store: Store,
        engine: Backend,
        model_path: Path | None,
        startup_error: str | None = None,
        load_options: LoadOptions | None = None,
        warnings: Sequence[str] = (),
        placement: Placement | None = None,
        memory_probe: HardwareProbe | None = None,
    ) -> None:
        super().__init__()
        self.placement = placement
        """The tier plan the model was (or is being) loaded with; None when unknown."""
        self.memory_probe = memory_probe or HardwareProbe()
        """Where memory samples come from (tests pass a described machine)."""
        self.startup_warnings = list(warnings)
        """Problems worth a toast that do not stop the model loading (a broken profile file)."""
        self.settings = settings
        self.store = store
        self.engine = engine
        self.model_path = model_path
        self.startup_error = startup_error
        self.load_options = load_options or settings.load_options()
        self.session: ChatSession | None = None
        """The open chat (set on mount)."""
        self.turn: Turn | None = None
        """The generation in progress, if any."""
        self.compression: Compression | None = None
        self.summariser = EngineSummariser(engine, settings)
        """Writes checkpoint summaries for every chat (a test may swap in a scripted one)."""
        self.setup_queue()
        self.load_state: LoadState = "none"
        """Whether a model is loading, ready, failed to load, or there is none."""
        self.load_error: str | None = None
        """Why the model did not load."""
        self._load_cancel = CancelToken()
        self.accounting = Accounting(settings, store)
        """Token counts, the count cache and the budget (``accounting.py``)."""
        self.context = ContextWatch(self, self.accounting)
        """Keeps the context meter up to date (``ui/context_watch.py``)."""
        self.full_gc = FullCollections()
        """Full garbage collections are held off while a reply streams."""
        self.kv_cache = ChatKvCache(KvStateStore(settings.kv_dir, settings.kv_cache_max_bytes), engine)
        """Per-chat KV states: saved after replies, restored when a chat is resumed."""
        self.setup_workspace()

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ChatList(id="chat-list")
            with Vertical(id="chat-pane"):
                yield Transcript(id="transcript")
                yield QueuePanel(id="queue")
                yield Composer(id="composer")
        device = self.placement.plan.device.label if self.placement else "RAM"
        meter = MemoryMeter(
            self.memory_probe, self.settings.memory_sample_s, device, id="status-memory"
        )
        yield StatusLine(memory_meter=meter, id="status")
        yield Footer(id="footer", compact=True, show_command_palette=False)

    async def on_mount(self) -> None:
        self.chat_list.border_title = "Chats"
        self.composer.border_title = "Message"
        self.composer.border_subtitle = "Enter send · ^J new line"
        self.composer.take_back = self.take_back_queued
        self.show_workspace_problems()
        for warning in self.startup_warnings:
            self.notify(warning, title="Warning", severity="warning", markup=False, timeout=10)
        self._start_model()
        chats = self.store.list_chats()
        await self.open_chat(chats[0] if chats else self.store.create_chat())
        self.composer.focus()
        self._fit_screen(self.size)

    # -- terminal size -------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        """Cover everything with the "too small" screen below 40x10; uncover above it."""
        self._fit_screen(event.size)

    def _fit_screen(self, size: Size) -> None:
        if is_too_small(size):
            if not isinstance(self.screen, TooSmallScreen):
                self.push_screen(TooSmallScreen())
        elif isinstance(self.screen, TooSmallScreen):
            self.pop_screen()

    # -- the model -----------------------------------------------------------------------

    def _set_load_state(self, state: LoadState) -> None:
        self.load_state = state
        self.status_line.load_state = state

    def _start_model(self) -> None:
        if self.startup_error:
            self.load_error = self.startup_error
            self._set_load_state("none")
            self.notify(self.startup_error, severity="error", timeout=10, markup=False)
            return
        if self.model_path is None:
            self._set_load_state("none")
            self.notify_doc(
                "No model found. Put a .gguf file in "
                f"{self.settings.user_models_dir} or start with --model PATH.",
                "models.md#where-ollm-looks",
                severity="error",
            )
            return
        self.status_line.model_name = model_label(self.model_path)
        self._set_load_state("loading")
        # after the first frame: importing llama-cpp-python in the worker holds the GIL
        self.call_after_refresh(self._load_model, self.model_path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="model")
    def _load_model(self, path: Path) -> ModelInfo:
        return self.engine.load(path, self.load_options, self._load_cancel)

    def _model_loaded(self, info: ModelInfo) -> None:
        self.load_error = None
        self.status_line.model_name = info.name
        self.status_line.n_ctx = info.n_ctx
        self._set_load_state("ready")
        self.remember_tier(info)
        self.context.model_loaded()
        if info.format_note:
            self.notify(info.format_note, severity="warning", timeout=10, markup=False)
        self.drain_queue()

    def _model_failed(self, error: BaseException | None) -> None:
        reason = (str(error) or describe(error)) if error is not None else "unknown error"
        self.load_error = reason
        self._set_load_state("failed")
        name = model_label(self.model_path) if self.model_path else "the model"
        self.notify_doc(
            f"Could not load {name}: {reason}",
            "troubleshooting.md#a-model-that-will-not-load",
            severity="error",
            timeout=15,
        )
        if self.remote_in_use:  # a server that is down: offer the local model
            self.offer_local("cannot be used now (see the error)")

    def no_model_reason(self) -> str | None:
        """Why a message cannot be sent now, or None when the model is ready."""
        if self.load_state == "ready" and self.engine.info is not None:
            return None
        if self.load_state == "loading":
            name = self.model_path.stem if self.model_path else "the model"
            return f"No model loaded: {name} is still loading"
        if self.load_state == "failed":
            return f"No model loaded: loading failed ({self.load_error})"
        return f"No model loaded: {self.load_error or 'no GGUF model was found'}"

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where worker results and unexpected worker errors become UI."""
        worker = event.worker
        if worker.group == "model":
            info = worker.result or self.engine.info
            if event.state == WorkerState.SUCCESS and info is not None:
                self._model_loaded(info)
            elif event.state == WorkerState.ERROR:
                self._model_failed(worker.error)
        elif worker.group == "generate" and event.state == WorkerState.ERROR:
            # run_turn turns every Exception into TurnFailed; this is the net below it.
            self.notify(
                f"Generation stopped unexpectedly: {describe(worker.error or Exception())}",
                severity="error",
                markup=False,
            )
            if self.turn is not None and self.turn.worker is worker:
                self._end_turn()
            self.compression = None
            self.status_line.end_compressing()
        if worker.group == "generate" and worker.is_finished:
            self.drain_queue()  # the model is free: send the next queued message

    # -- chats ---------------------------------------------------------------------------

    @property
    def chat(self) -> Chat:
        """The open chat (as last read from the store)."""
        assert self.session is not None
        return self.session.chat

    async def open_chat(self, chat: Chat) -> None:
        """Show ``chat`` and make it the one new messages go to."""
        self.put_queue_back("Switched chat")
        self.session = ChatSession(self.store, self.engine, self.settings, chat, self.summariser)
        self.remember_tier(announce=False)  # the session's tier is this chat's too
        self.session.accounting = self.accounting  # exact counts from the cache in fit()
        self.session.kv = self.kv_cache
        messages = self.store.messages(chat.id)
        await self.transcript.show(messages, *self.checkpoints_of(chat.id))
        self.transcript.border_subtitle = ""
        self._show_chat_title()
        self.refresh_chat_list()
        self.context.chat_opened()
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

    async def _stop_and_wait(self, why: str = "Switched chat") -> None:
        """Stop the reply (it is kept, marked stopped) or compression under way and wait
        until the model is free. Queued messages go back to the composer (note: ``why``)."""
        self.put_queue_back(why)
        self.action_stop()
        for worker in [w for w in self.workers if w.group == "generate" and not w.is_finished]:
            # a timeout leaves the job to finish on its own; worker errors are reported
            # by _worker_state_changed
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(worker.wait()), STOP_WAIT_S)

    @on(ChatList.ChatChosen)
    async def _chat_chosen(self, message: ChatList.ChatChosen) -> None:
        if message.chat_id != self.chat.id:
            chat = self.store.get_chat(message.chat_id)
            if chat is None:
                self.refresh_chat_list()
                return
            await self._stop_and_wait()
            await self.open_chat(chat)
        self.composer.focus()

    async def action_new_chat(self) -> None:
        """Open a new, empty chat (the open one if it is still empty)."""
        await self._stop_and_wait("New chat")
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

        self.push_screen(RenameDialog(chat.title), renamed)

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
                await self._delete_chat(chat)

        self.push_screen(ConfirmDialog("Delete chat", question, yes_label="Delete"), answered)

    async def _delete_chat(self, chat: Chat) -> None:
        if self.turn is not None and self.turn.chat_id == chat.id:
            await self._stop_and_wait("Deleted the chat")
        order = [c.id for c in self.store.list_chats()]
        self.store.delete_chat(chat.id)
        self.kv_cache.forget_chat(chat.id)
        if chat.id == self.chat.id:
            rest = self.store.list_chats()
            index = min(order.index(chat.id), len(rest) - 1) if chat.id in order else 0
            await self.open_chat(rest[index] if rest else self.store.create_chat())
        else:
            self.refresh_chat_list()
        self.notify(f"Deleted “{chat.title}”", markup=False)

    # -- turns ---------------------------------------------------------------------------

    def _refuse_turn(self) -> bool:
        """Say why a new turn cannot start now (the model is busy, no model); True if refused."""
        busy = self.model_busy_reason()
        if busy is not None:
            self.notify(busy, severity="warning", markup=False)
            return True
        reason = self.no_model_reason()
        if reason is not None:
            self.notify(reason, severity="error", markup=False)
            return True
        return False

    @on(Composer.Submitted)
    async def _submitted(self, event: Composer.Submitted) -> None:
        if self.model_busy() or self.queued:
            self.queue_message(event.text)  # sent in order once the model is free
            self.drain_queue()
            return
        reason = self.no_model_reason()
        if reason is not None:
            self.notify(reason, severity="error", markup=False)
            return
        self.composer.clear()
        self.composer.recall = event.text
        await self.send_text(event.text)

    async def action_regenerate(self) -> None:
        """Replace the last reply with a new one."""
        if self._refuse_turn():
            return
        if not any(m.role == "user" for m in self.store.messages(self.chat.id)):
            self.notify("Nothing to regenerate: send a message first.", severity="warning")
            return
        await self.transcript.drop_trailing_replies()
        reply_view = await self.transcript.add_reply(self._model_name())
        self.start_turn(Turn(self._session(), None, reply_view))

    def action_stop(self) -> None:
        """Stop the reply being written (what it wrote so far is kept), or the compression."""
        if self.compression is not None:
            self.compression.stop()
            self.status_line.end_compressing("stopping…")
        turn = self.turn
        if turn is None:
            return
        turn.stop()
        turn.reply_view.mark_stopping()
        self.status_line.activity = "stopping…"

    def _session(self) -> ChatSession:
        assert self.session is not None
        return self.session

    def _model_name(self) -> str | None:
        info = self.engine.info
        return info.name if info else None

    def start_turn(self, turn: Turn) -> None:
        """Run ``turn`` in the generation worker, showing it streaming."""
        self.turn = turn
        self.full_gc.hold()
        self.sending = False
        turn.reply_view.begin_stream(turn.buffer)
        self.status_line.activity = "generating…"
        self.refresh_bindings()
        self.context.turn_started(turn)
        turn.worker = self._generate(turn)

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def _generate(self, turn: Turn) -> None:
        run_turn(turn, self.post_message)
        if turn.complete and not turn.cancel.cancelled:
            compress_if_needed(turn.session, self.post_message)  # before the next message

    def _end_turn(self) -> None:
        self.turn = None
        self.full_gc.release()
        self.status_line.activity = ""
        self.refresh_bindings()
        self.context.turn_ended()

    @on(TurnBegan)
    def _turn_began(self, message: TurnBegan) -> None:
        turn = message.turn
        if turn.user_view is not None:
            turn.user_view.message = message.event.user
        turn.reply_view.message = message.event.reply
        if turn.chat_id == self.chat.id:
            self._show_chat_title()  # the first message names the chat
            self.refresh_chat_list()

    @on(TurnEnded)
    def _turn_ended(self, message: TurnEnded) -> None:
        turn, event = message.turn, message.event
        turn.reply_view.post_message(AssistantMessage.Finalize(event.reply))
        if turn is self.turn:
            self._end_turn()
        if event.done is not None:
            self.status_line.show_done(event.done.tokens_per_s, event.done.ttft_s)
        if event.error:
            self.reply_failed(event.error)
            self.put_queue_back("The reply failed")
        if event.save_error:  # the reply stays on screen; what was stored before is kept
            self.notify(
                f"The reply is shown but was not saved: {event.save_error}",
                title="Not saved",
                severity="error",
                markup=False,
                timeout=20,
            )
        if turn.chat_id == self.chat.id:
            self.refresh_chat_list()

    @on(TurnFailed)
    async def _turn_failed(self, message: TurnFailed) -> None:
        turn = message.turn
        if turn is self.turn:
            self._end_turn()
        if turn.chat_id == self.chat.id:
            stored = self.store.messages(turn.chat_id)  # what is stored
            await self.transcript.show(stored, *self.checkpoints_of(turn.chat_id))
            self.put_queue_back("A message before them was not sent")
            if turn.text is not None and not message.started:
                self.restore_composer(turn.text)  # first, before the queued ones
        if message.too_long:
            self.notify(f"Message too long: {message.reason}", severity="error", markup=False)
        else:
            self.reply_failed(message.reason, started=message.started)

    @on(Composer.Changed, "#composer")
    def _composer_changed(self, event: Composer.Changed) -> None:
        self.context.composer_changed(event.text_area.text)

    def action_token_stats(self) -> None:
        """Show the context budget and the token-count cache figures."""
        self.context.show_stats()

    # -- copying -------------------------------------------------------------------------

    @on(MessageView.CopyRequested)
    @on(CheckpointDivider.CopyRequested)
    def _copy_message(
        self, message: MessageView.CopyRequested | CheckpointDivider.CopyRequested
    ) -> None:
        view = message.view if isinstance(message, MessageView.CopyRequested) else message.divider
        text = view.text
        if not text:
            self.notify("This message is empty: nothing was copied.", severity="warning")
            return
        self.copy_to_clipboard(text)
        self.notify(sent_note(text))

    def action_copy_code(self) -> None:
        """Copy the last fenced code block of the last reply."""
        reply = self.transcript.last_reply()
        if reply is None:
            self.notify("No reply in this chat yet: nothing was copied.", severity="warning")
            return
        code = last_code_block(reply.text)
        if code is None:
            self.notify("No code block in the last reply", severity="warning")
            return
        self.copy_to_clipboard(code)
        self.notify(sent_note(code, "the last code block"))

    # -- keys ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Chat keys are off while a dialog is open; Esc only stops while a reply streams."""
        if action in _SCREEN_ACTIONS and (
            isinstance(self.screen, ModalScreen) or self.pane != "chat"
        ):
            return False
        return not (action == "stop" and self.turn is None and self.compression is None)

    async def action_quit(self) -> None:
        """Stop a reply being written (it is kept, marked stopped), then quit.

        With messages queued, the first quit puts them back in the composer and warns.
        """
        if self.quit_with_queue():
            return
        self._load_cancel.cancel()
        await self._stop_and_wait("Quitting")
        self.exit()


make_app = OllmApp
"""Build the app (the CLI's entry point into the UI): the same arguments as ``OllmApp``."""
