"""Server models in the running app: switching to one, the tier key's note, and failures.

``RemoteModels`` works beside ``ModelSwitcher`` (``ui/switching.py``), which owns it. When
a reply from a server fails, the toast says what happened, that the partial reply is kept
(marked in the transcript), and which key retries; then a dialog offers to continue on the
local starter model, switching with the ordinary model switch. Memory figures keep
describing this machine only.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from ollm_tui.engine.base import EngineError, ModelInfo
from ollm_tui.engine.factory import load_options
from ollm_tui.engine.registry import ModelEntry, resolve
from ollm_tui.settings.servers import is_remote, parse_remote_path
from ollm_tui.ui.bindings import APP_BINDINGS
from ollm_tui.ui.screens.dialogs import ConfirmDialog

if TYPE_CHECKING:
    from ollm_tui.engine.base import Backend
    from ollm_tui.settings import Settings
    from ollm_tui.ui.switching import ModelSwitcher

REMOTE_DOC = "remote.md"
"""The guide page about servers."""


def binding_key(binding_id: str, keymap: Any) -> str:
    """The key a binding is on now (the user's keymap first), e.g. ``ctrl+r``."""
    if binding_id in keymap:
        return str(keymap[binding_id])
    for binding in APP_BINDINGS:
        if getattr(binding, "id", None) == binding_id:
            return str(binding.key).split(",")[0]  # type: ignore[union-attr]
    return binding_id


class RemoteModels:
    """Switching to server models, and what the app does when a server fails."""

    def __init__(self, models: ModelSwitcher) -> None:
        self.models = models
        self.app = models.app

    @property
    def settings(self) -> Settings:
        """The app's settings (the settings form may change them)."""
        return self.app.settings

    @property
    def engine(self) -> Backend:
        """The app's engine."""
        return self.app.engine

    @property
    def in_use(self) -> bool:
        """True when the model in use (or loading) is on a server."""
        return is_remote(self.models.model_path)

    # -- switching ------------------------------------------------------------------------

    def switch(self, entry: ModelEntry) -> ModelInfo:
        """Use a server model (called in the model worker by ``ModelSwitcher._switch``)."""
        self.app.call_from_thread(self._remote_planned, entry)
        return self.engine.load(entry.path, load_options(self.settings), self.models.load_cancel)

    def _remote_planned(self, entry: ModelEntry) -> None:
        self.models.model_path = entry.path
        self.models.placement = None  # the server decides the context; no tier here
        self.app.status_line.tier = "server"
        server = parse_remote_path(entry.path)
        where = f" on server {server[0]}" if server else ""
        text = f"Switched to {entry.name}{where} · context from the server"
        self.app.chat_screen.add_divider(text, {"tier": "server"})

    def tier_note(self) -> bool:
        """For a server model, say why there is no tier menu (True when said)."""
        if not self.in_use:
            return False
        info = self.engine.info
        source = self.engine.context_source or "the server"
        context = f"{info.n_ctx:,} tokens, from {source}" if info else "set by the server"
        self.app.workspace.notify_doc(
            f"{info.name if info else 'This model'} runs on a server: its context ({context}) "
            "is the server's, so there are no tiers to pick. The memory meter describes this "
            "machine only.",
            f"{REMOTE_DOC}#context-and-tokens-on-a-server",
        )
        return True

    # -- failures -------------------------------------------------------------------------

    def reply_failed(self, reason: str, started: bool = True) -> None:
        """Say that a reply failed; for a server, say what is kept, how to retry, and offer
        to continue on a local model. ``started``: the turn was stored (else the message
        went back to the composer)."""
        failure = self.engine.last_failure
        if not self.in_use or failure is None or str(failure) not in reason:
            self.app.notify(f"The reply failed: {reason}", severity="error", markup=False)
            return
        key = binding_key("regenerate", self.settings.keymap)
        if started:
            kept = f"What arrived is kept, marked with the error; {key} asks the server again."
        else:
            kept = "Your message is back in the composer: send it again to retry."
        self.app.workspace.notify_doc(
            f"The reply failed: {failure}. {kept}",
            f"{REMOTE_DOC}#when-a-server-fails",
            severity="error",
            timeout=15,
        )
        from ollm_tui.engine.remote.engine import ServerContextOverflow  # httpx: not at start

        if not isinstance(failure, ServerContextOverflow):
            self.offer_local("did not deliver the reply")

    def offer_local(self, what: str) -> None:
        """Ask whether to continue on the local starter model (``what`` the server did)."""
        self.app.run_worker(
            partial(self._find_local, what),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group="fallback",
        )

    def _find_local(self, what: str) -> None:
        try:
            entry = resolve(self.settings, None)  # the starter model (reads its header)
        except EngineError:
            return  # no local model to offer: the toast already says how to retry
        self.app.call_from_thread(self._ask_local, entry, what)

    def _ask_local(self, entry: ModelEntry, what: str) -> None:
        server = parse_remote_path(self.models.model_path)
        name = f"Server {server[0]}" if server else "The server"

        def answered(yes: bool | None) -> None:
            if yes and self.app.jobs.refusal("switch") is None:
                self.models.switch_model(entry, None)

        self.app.push_screen(
            ConfirmDialog(
                "Continue on a local model?",
                f"{name} {what}. Switch to {entry.name}, which runs on this machine? "
                "Your chats stay as they are.",
                yes_label="Switch",
            ),
            answered,
        )
