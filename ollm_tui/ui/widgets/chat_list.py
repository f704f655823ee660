"""The sidebar of chats, most recently used first. Selecting one opens it."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ollm_tui.store.db import Chat
from ollm_tui.ui.bindings import CHAT_LIST_BINDINGS
from ollm_tui.ui.safe_text import safe


def _chat_id(option: Option) -> int:
    assert option.id is not None
    return int(option.id.removeprefix("chat-"))


class ChatList(OptionList):
    """Lists chats by title (titles are shown literally). The open chat is marked."""

    BINDINGS: ClassVar[list[BindingType]] = CHAT_LIST_BINDINGS

    class ChatChosen(Message):
        """The user selected a chat to open."""

        def __init__(self, chat_id: int) -> None:
            super().__init__()
            self.chat_id = chat_id

    class DeleteRequested(Message):
        """The user asked to delete the highlighted chat."""

        def __init__(self, chat_id: int) -> None:
            super().__init__()
            self.chat_id = chat_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.chats: list[Chat] = []
        """The chats shown, in order."""
        self.open_chat_id: int | None = None
        """The chat shown in the transcript."""

    def show_chats(self, chats: list[Chat], open_chat_id: int | None) -> None:
        """Replace the list, keeping the open chat highlighted."""
        self.chats = list(chats)
        self.open_chat_id = open_chat_id
        self.clear_options()
        self.add_options(Option(self._prompt(chat), id=f"chat-{chat.id}") for chat in self.chats)
        for index, chat in enumerate(self.chats):
            if chat.id == open_chat_id:
                self.highlighted = index
                break
        count = len(self.chats)
        self.border_subtitle = f"{count} chat" if count == 1 else f"{count} chats"

    def _prompt(self, chat: Chat) -> Content:
        title = safe(chat.title)
        if chat.id == self.open_chat_id:
            return Content.assemble(("▸ ", "bold"), title.stylize("bold"))
        return Content.assemble("  ", title)

    @property
    def highlighted_chat_id(self) -> int | None:
        """The chat under the cursor, if any."""
        if self.highlighted is None:
            return None
        return _chat_id(self.get_option_at_index(self.highlighted))

    def _on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.ChatChosen(_chat_id(event.option)))

    def action_delete_highlighted(self) -> None:
        """Ask the app to delete the highlighted chat."""
        chat_id = self.highlighted_chat_id
        if chat_id is not None:
            self.post_message(self.DeleteRequested(chat_id))
