"""The sidebar of chats, most recently used first. Selecting one opens it.

With thousands of chats the list is rebuilt after every turn and every switch, so each
chat's prompt is made once (sanitised, styled) and kept while its title and its open mark
stay the same, and a title that fits on its line says so without being wrapped to measure
it (Textual's ``OptionList`` asks every option for its height on each rebuild and resize).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ollm_tui.store.db import Chat
from ollm_tui.ui.bindings import CHAT_LIST_BINDINGS
from ollm_tui.ui.safe_text import safe

if TYPE_CHECKING:
    from textual.css.styles import RulesMap


class _Title(Content):
    """A chat's prompt, whose height is known without wrapping it: the list neither wraps nor
    folds (``text-wrap: nowrap``, ``text-overflow: ellipsis`` in ``app.tcss``), and a
    prompt that fits its width is one line anyway."""

    def get_height(self, rules: RulesMap, width: int) -> int:
        no_wrap = rules.get("text_wrap", "wrap") == "nowrap"
        if no_wrap and rules.get("text_overflow", "fold") != "fold":  # cut, never folded
            return self.plain.count("\n") + 1
        if self.cell_length <= width - rules.get("line_pad", 0) * 2 and "\n" not in self.plain:
            return 1
        return super().get_height(rules, width)


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
        self._prompts: dict[tuple[int, str, bool], Content] = {}
        """Each shown chat's prompt by (id, title, open), kept across rebuilds."""
        self._shown: list[tuple[int, str, bool]] = []
        """What the options show now, in order."""

    def show_chats(self, chats: list[Chat], open_chat_id: int | None) -> None:
        """Replace the list, keeping the open chat highlighted."""
        self.chats = list(chats)
        self.open_chat_id = open_chat_id
        shown = [(chat.id, chat.title, chat.id == open_chat_id) for chat in self.chats]
        if shown != self._shown or self.option_count != len(shown):
            prompts = self._prompts
            self._prompts = {key: prompts.get(key) or self._prompt(*key) for key in shown}
            self.clear_options()
            self.add_options(Option(self._prompts[key], id=f"chat-{key[0]}") for key in shown)
            self._shown = shown
        for index, chat in enumerate(self.chats):
            if chat.id == open_chat_id:
                self.highlighted = index
                break
        count = len(self.chats)
        self.border_subtitle = f"{count} chat" if count == 1 else f"{count} chats"

    @staticmethod
    def _prompt(chat_id: int, title: str, is_open: bool) -> Content:
        shown = safe(title)
        if is_open:
            prompt = Content.assemble(("▸ ", "bold"), shown.stylize("bold"))
        else:
            prompt = Content.assemble("  ", shown)
        return _Title(prompt.plain, list(prompt.spans), prompt.cell_length)

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
