"""The Textual app: a thin shell that builds its collaborators and pushes the chat screen.

The composition root (``cli/chat.py``) hands over ``Components`` and ``Startup``; the app
builds one collaborator per concern; its main screen is
:class:`~ollm_tui.ui.screens.chat.ChatScreen` (as in Frogmouth), which holds the chat layout
and its actions:

- ``jobs`` (``ui/jobs.py``): what the model is doing; the one answer to "may X start now";
- ``models`` (``ui/switching.py``): the model in use, loading, the pickers, switching;
- ``queue`` (``ui/queueing.py``): messages typed while the model is busy;
- ``compressor`` (``ui/compressing.py``): auto compression, compress now, undo, snapshots;
- ``workspace`` (``ui/workspace.py``): panes, keymap, themes, settings, export;
- ``context`` (``ui/context_watch.py``): the context meter.

The model loads in a thread worker (group ``model``) and each job that runs the model
(a reply, a compression, an undo) in another (group ``generate``), so the UI never waits on
the engine. One ``Worker.StateChanged`` handler turns worker results and errors into UI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import App
from textual.binding import BindingType
from textual.geometry import Size
from textual.worker import Worker, WorkerState

from ollm_tui.core.memory_guard import MemoryGuard
from ollm_tui.session.components import Components, Startup
from ollm_tui.ui.bindings import WORKSPACE_BINDINGS
from ollm_tui.ui.compressing import Compressor, checkpoints_of
from ollm_tui.ui.context_watch import ContextWatch
from ollm_tui.ui.generation import FullCollections, Turn, describe
from ollm_tui.ui.jobs import GENERATE, ModelJobs
from ollm_tui.ui.queueing import SendQueue
from ollm_tui.ui.safe_text import SafeToasts
from ollm_tui.ui.screens.chat import ChatScreen
from ollm_tui.ui.switching import MODEL_GROUP, ModelSwitcher
from ollm_tui.ui.themes import app_variables
from ollm_tui.ui.too_small import TooSmallScreen, is_too_small
from ollm_tui.ui.widgets.chat_list import ChatList
from ollm_tui.ui.workspace import Workspace, commands_provider, docs_search_provider

if TYPE_CHECKING:
    from textual.command import Provider

    from ollm_tui.core.conversation import Checkpoint
    from ollm_tui.engine.base import LoadOptions
    from ollm_tui.engine.planning import Placement
    from ollm_tui.session.chat import ChatSession
    from ollm_tui.settings import Settings
    from ollm_tui.store.db import Chat
    from ollm_tui.ui.compressing import Compression
    from ollm_tui.ui.widgets.composer import Composer
    from ollm_tui.ui.widgets.memory_meter import MemoryMeter
    from ollm_tui.ui.widgets.status import LoadState, StatusLine
    from ollm_tui.ui.widgets.transcript import Transcript


class OllmApp(SafeToasts, App[None], inherit_bindings=False):
    """A full-screen chat with a local GGUF model."""

    CSS_PATH = "app.tcss"
    TITLE = "ollm"
    BINDINGS: ClassVar[list[BindingType]] = WORKSPACE_BINDINGS
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {
        commands_provider,
        docs_search_provider,
    }
    # (App annotates these oddly, so a ClassVar annotation here upsets mypy)
    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (40, "-narrow"), (100, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (10, "-tall")]  # noqa: RUF012

    def __init__(self, components: Components, startup: Startup) -> None:
        super().__init__()
        self.settings: Settings = components.settings
        self.store = components.store
        self.engine = components.engine
        self.accounting = components.accounting
        """Token counts, the count cache and the budget (``session/accounting.py``)."""
        self.kv_cache = components.kv_cache
        """Per-chat KV states: saved after replies, restored when a chat is resumed."""
        self.summariser = components.summariser
        """Writes checkpoint summaries for every chat (a test may swap in a scripted one)."""
        self.memory_probe = components.probe
        """Where memory samples come from (tests pass a described machine)."""
        self.startup_warnings = list(startup.warnings) + list(components.profile_errors)
        """Problems worth a toast that do not stop the model loading (a broken profile file)."""
        self.memory_guard = MemoryGuard()
        """Memory levels of the model's device (every chat's context manager shares it)."""
        self.full_gc = FullCollections()
        """Full garbage collections are held off while a reply streams."""
        self.jobs = ModelJobs(
            lambda: self.engine, lambda: self.workers, lambda: self.models.model_path
        )
        self.models = ModelSwitcher(self, components, startup)
        self.queue = SendQueue(self)
        self.compressor = Compressor(self)
        self.workspace = Workspace(self)
        self.context = ContextWatch(self, self.accounting)
        """Keeps the context meter up to date (``ui/context_watch.py``)."""
        self.chat_screen = ChatScreen(self)

    def get_default_screen(self) -> ChatScreen:
        """The chat screen is the app's main screen (the bottom of the screen stack)."""
        return self.chat_screen

    def started(self) -> None:
        """The chat screen is up (its mount): show the problems found, start the model."""
        self.workspace.show_problems()
        for warning in self.startup_warnings:
            self.notify(warning, title="Warning", severity="warning", markup=False, timeout=10)
        self.models.start()

    # -- terminal size -----------------------------------------------------------------

    def on_mount(self) -> None:
        """Watch the screen stack, so the "too small" screen stays on top."""
        self.screen_change_signal.subscribe(self, self._keep_too_small_on_top)

    def _keep_too_small_on_top(self, screen: object) -> None:
        """A screen came on top (a dialog, a picker, the palette) while the terminal is too
        small: cover it with the "too small" screen again. At a usable size the top one is
        popped and shows what it covered; one left lower down dismisses itself when it is
        back on top (``TooSmallScreen.on_screen_resume``)."""
        if is_too_small(self.size) and not isinstance(self.screen, TooSmallScreen):
            self.push_screen(TooSmallScreen())

    def on_resize(self, event: events.Resize) -> None:
        """Cover everything with the "too small" screen below 40x10; uncover above it."""
        self.fit_screen(event.size)

    def fit_screen(self, size: Size) -> None:
        """Push or pop the "too small" screen for a terminal of ``size``."""
        if is_too_small(size):
            if not isinstance(self.screen, TooSmallScreen):
                self.push_screen(TooSmallScreen())
        elif isinstance(self.screen, TooSmallScreen):
            self.pop_screen()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """App colours (memory levels, context meter bands, message markers) for any theme."""
        return app_variables()

    def use_settings(self, settings: Settings) -> None:
        """Use changed settings from now on (the settings form)."""
        self.settings = settings
        if self.session is not None:
            self.session.settings = settings
        self.summariser.settings = settings

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where worker results and unexpected worker errors become UI."""
        worker = event.worker
        if not self.chat_screen.is_attached:
            return  # the app is shutting down (a worker ended meanwhile): no UI to update
        if worker.group == MODEL_GROUP:
            info = worker.result or self.engine.info
            if event.state == WorkerState.SUCCESS and info is not None:
                self.models.loaded(info)
            elif event.state == WorkerState.ERROR:
                self.models.failed(worker.error)
        elif worker.group == GENERATE and event.state == WorkerState.ERROR:
            # run_turn and the compressor turn every Exception into a message; this is the
            # net below them.
            self.notify(
                f"Generation stopped unexpectedly: {describe(worker.error or Exception())}",
                severity="error",
                markup=False,
            )
            turn = self.jobs.turn
            if turn is not None and turn.worker is worker:
                self.chat_screen.end_turn(turn.id)
            self.compressor.abandon()
        if worker.group == GENERATE and worker.is_finished:
            self.queue.drain()  # the model is free: send the next queued message

    @on(ChatList.ChatChosen)
    async def _chat_chosen(self, message: ChatList.ChatChosen) -> None:
        await self.chat_screen.choose_chat(message.chat_id)

    # -- actions that work on any pane (bindings and the palette) -----------------------

    async def action_show_pane(self, name: str) -> None:
        """Show a pane; asking for the pane already shown goes back to the chat."""
        await self.workspace.show_pane(name)

    async def action_open_doc(self, page: str, anchor: str = "") -> None:
        """Open the docs pane at a page."""
        await self.workspace.open_doc(page, anchor)

    async def action_open_chat_id(self, chat_id: int) -> None:
        """Open a chat by id (from the palette), showing the chat pane."""
        await self.workspace.open_chat_id(chat_id)

    def action_set_theme(self, name: str) -> None:
        """Switch to a theme and remember it in the config file."""
        self.workspace.set_theme(name)

    def action_export_chat(self, fmt: str) -> None:
        """Write the open chat as Markdown or JSON into the exports folder."""
        self.workspace.export_chat(fmt)

    def action_reset_keymap(self) -> None:
        """Give every binding its default keys back, after asking."""
        self.workspace.reset_keymap()

    def action_show_settings(self) -> None:
        """Open the settings form."""
        self.workspace.show_settings()

    def action_compress_now(self) -> None:
        """Compress the open chat now (whatever its usage)."""
        self.compressor.compress_now()

    def action_undo_compression(self) -> None:
        """Swap the active context back to before the last compression."""
        self.compressor.undo()

    def action_pick_snapshot(self) -> None:
        """Pick a snapshot of the open chat's context to restore."""
        self.compressor.pick_snapshot()

    async def action_quit(self) -> None:
        """Stop a reply being written (it is kept, marked stopped), then quit.

        With messages queued, the first quit puts them back in the composer and warns.
        """
        if self.queue.quit_with_queue():
            return
        self.models.load_cancel.cancel()
        await self.chat_screen.stop_and_wait("Quitting")
        self.exit()

    # -- what the chat screen and the collaborators hold (read here by tests and tools) --

    @property
    def session(self) -> ChatSession | None:
        return self.chat_screen.session

    @property
    def chat(self) -> Chat:
        return self.chat_screen.chat

    @property
    def turn(self) -> Turn | None:
        return self.jobs.turn

    @property
    def compression(self) -> Compression | None:
        return self.jobs.compression

    @property
    def load_state(self) -> LoadState:
        return self.jobs.load_state

    def model_busy(self) -> bool:
        return self.jobs.busy()

    @property
    def queued(self) -> list[str]:
        return self.queue.queued

    @property
    def model_path(self) -> Path | None:
        return self.models.model_path

    @property
    def placement(self) -> Placement | None:
        return self.models.placement

    @property
    def load_options(self) -> LoadOptions:
        return self.models.load_options

    @property
    def remote_in_use(self) -> bool:
        return self.models.remote.in_use

    @property
    def composer(self) -> Composer:
        return self.chat_screen.composer

    @property
    def transcript(self) -> Transcript:
        return self.chat_screen.transcript

    @property
    def chat_list(self) -> ChatList:
        return self.chat_screen.chat_list

    @property
    def status_line(self) -> StatusLine:
        return self.chat_screen.status_line

    @property
    def memory_meter(self) -> MemoryMeter:
        return self.chat_screen.memory_meter

    @property
    def pane(self) -> str:
        return self.workspace.pane

    @property
    def keymap(self) -> dict[str, str]:
        return self.workspace.keymap

    @property
    def doc_hint(self) -> str | None:
        return self.workspace.doc_hint

    @property
    def docs_dir(self) -> Path:
        return self.workspace.docs_dir

    @docs_dir.setter
    def docs_dir(self, folder: Path) -> None:
        self.workspace.docs_dir = folder

    def remap(self, binding_id: str, keys: str | None) -> bool:
        return self.workspace.remap(binding_id, keys)

    def checkpoints_of(self, chat_id: int) -> tuple[list[Checkpoint], set[int]]:
        return checkpoints_of(self.store, chat_id)

    async def open_chat(self, chat: Chat) -> None:
        await self.chat_screen.open_chat(chat)

    async def action_new_chat(self) -> None:
        await self.chat_screen.action_new_chat()

    async def _delete_chat(self, chat: Chat) -> None:
        await self.chat_screen.delete_chat(chat)


def make_app(components: Components, startup: Startup) -> OllmApp:
    """The app on the composition root's ``components``, loading what ``startup`` says
    (the CLI's and the tests' one entry point into the UI)."""
    return OllmApp(components, startup)
