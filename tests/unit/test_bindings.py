"""The binding registry: unique ids, conflicts where bindings meet, readable key names."""

from __future__ import annotations

from ollm_tui.ui.bindings import REGISTRY, conflicts, key_problem
from ollm_tui.ui.screens.keys_pane import show_keys


def test_ids_are_unique() -> None:
    ids = [e.id for e in REGISTRY]
    assert len(ids) == len(set(ids))


def test_conflicts_only_where_both_bindings_work() -> None:
    assert [e.id for e in conflicts("new_chat", "ctrl+r", {})] == ["regenerate"]
    assert [e.id for e in conflicts("copy_message", "ctrl+n", {})] == [
        "new_chat"
    ]  # app keys reach messages
    assert conflicts("copy_message", "t", {}) == []  # t is the docs pane's, not a message's
    assert conflicts("new_chat", "t", {}) != []  # an app key would shadow the docs pane's t
    assert conflicts("new_chat", "ctrl+t", {}) == []
    assert [e.id for e in conflicts("quit", "ctrl+t", {"new_chat": "ctrl+t"})] == ["new_chat"]
    assert conflicts("quit", "ctrl+n", {"new_chat": "ctrl+t"}) == []  # ctrl+n was freed


def test_key_names_for_people() -> None:
    assert show_keys("ctrl+j,shift+enter") == "Ctrl+J, Shift+Enter"
    assert show_keys("c") == "c" and show_keys("R") == "R"
    assert show_keys("escape,pageup,slash,f2") == "Esc, PgUp, /, F2"


def test_key_problems_name_the_reason() -> None:
    assert "already used by" in key_problem("new_chat", "ctrl+r", {})
    assert "message editor uses it" in key_problem("new_chat", "ctrl+a", {})  # line start
    assert "types a character" in key_problem("new_chat", "x", {})
    assert key_problem("copy_message", "x", {}) is None  # a message is not a text box
    assert key_problem("new_chat", "ctrl+t", {}) is None
    assert key_problem("new_chat", "f10", {}) is None
