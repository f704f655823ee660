"""The sidebar of chats, most recently used first. Selecting one opens it.

With thousands of chats the list is refreshed after every turn and every switch, so each
chat's prompt is kept while its title and its open mark stay the same, only the prompts
that changed are replaced, a prompt is made (sanitised, styled) only when it is first
drawn, and its height is known without wrapping it (Textual's ``OptionList`` asks every
option for its height on each rebuild and resize).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import BindingType
from textual.content import Content, Span
from textual.message import Message
from textual.visual import Visual
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ollm_tui.store.db import Chat
from ollm_tui.ui.bindings import CHAT_LIST_BINDINGS
from ollm_tui.ui.safe_text import safe

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.css.styles import RulesMap
    from textual.strip import Strip
    from textual.style import Style
    from textual.visual import RenderOptions


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


def _title_prompt(title: str, is_open: bool) -> _Title:
    """``"  title"``, or ``"▸ title"`` in bold for the open chat: what ``Content.assemble``
    would make of ``safe(title)``, built as one ``Content``."""
    shown = safe(title)
    text = shown.plain
    escapes = [Span(span.start + 2, span.end + 2, span.style) for span in shown.spans]
    if not is_open:
        return _Title("  " + text, escapes)
    spans = [Span(0, 2, "bold"), *escapes]
    if text:
        spans.append(Span(2, 2 + len(text), "bold"))
    return _Title("▸ " + text, spans)


class _LazyTitle(Visual):
    """A chat's prompt, made only when it is drawn or read (most of thousands of chats never
    are): the ``_Title`` of ``_title_prompt``, whose height it knows without it where the list
    neither wraps nor folds (``safe`` keeps a title's newlines and adds none)."""

    __slots__ = ("_content", "_open", "_title")

    def __init__(self, title: str, is_open: bool) -> None:
        self._title = title
        self._open = is_open
        self._content: _Title | None = None

    @property
    def content(self) -> _Title:
        """The prompt itself (made on first use)."""
        if self._content is None:
            self._content = _title_prompt(self._title, self._open)
        return self._content

    @property
    def plain(self) -> str:
        """The prompt as plain text."""
        return self.content.plain

    @property
    def spans(self) -> Sequence[Span]:
        """The prompt's styled spans."""
        return self.content.spans

    @property
    def cell_length(self) -> int:
        """The prompt's width in cells."""
        return self.content.cell_length

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        return self.content.render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.content.get_optimal_width(rules, container_width)

    def get_minimal_width(self, rules: RulesMap) -> int:
        return self.content.get_minimal_width(rules)

    def get_height(self, rules: RulesMap, width: int) -> int:
        no_wrap = rules.get("text_wrap", "wrap") == "nowrap"
        if no_wrap and rules.get("text_overflow", "fold") != "fold" and "\n" not in self._title:
            return 1
        return self.content.get_height(rules, width)


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
        self._prompts: dict[tuple[int, str, bool], _LazyTitle] = {}
        """Each shown chat's prompt by (id, title, open), kept across rebuilds."""
        self._shown: list[tuple[int, str, bool]] = []
        """What the options show now, in order."""

    def show_chats(self, chats: list[Chat], open_chat_id: int | None) -> None:
        """Replace the list, keeping the open chat highlighted."""
        self.chats = list(chats)
        self.open_chat_id = open_chat_id
        shown = [(chat.id, chat.title, chat.id == open_chat_id) for chat in self.chats]
        prompts = self._prompts
        self._prompts = {key: prompts.get(key) or self._prompt(*key) for key in shown}
        if self.option_count != len(self._shown):
            self._shown = []  # changed behind show_chats' back: rebuild
        if [key[0] for key in shown] == [key[0] for key in self._shown]:
            # the same chats in the same order (a switch, a rename): new prompts only
            for index, (key, old) in enumerate(zip(shown, self._shown, strict=True)):
                if key != old:
                    self.replace_option_prompt_at_index(index, self._prompts[key])
        else:
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
    def _prompt(chat_id: int, title: str, is_open: bool) -> _LazyTitle:
        return _LazyTitle(title, is_open)

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
