"""Prompt rendering: GGUF templates in a sandbox and the named formats."""

from __future__ import annotations

import pytest

from ollm_tui.core.chat_format import (
    NAMED_FORMATS,
    ChatFormatError,
    NamedFormat,
    TemplateFormat,
)

MSGS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Bye"},
]

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def test_template_matches_named_chatml() -> None:
    fmt = TemplateFormat(CHATML_TEMPLATE, bos_token="<s>", eos_token="<|im_end|>")
    assert fmt.render(MSGS).text == NamedFormat("chatml").render(MSGS).text
    assert fmt.render(MSGS).stop == ("<|im_end|>",)


def test_prompt_of_next_turn_extends_previous_turn() -> None:
    """Prefix stability: turn N+1's prompt starts with turn N's prompt minus the opener."""
    for name in NAMED_FORMATS:
        fmt = NamedFormat(name)
        first = fmt.render(MSGS[:2]).text
        full = fmt.render(MSGS).text
        opener_free = first[: len(first) - len(fmt.render([]).text)] if name != "plain" else ""
        assert full.startswith(opener_free), name


def test_gemma_has_no_system_role_and_merges_it_into_the_first_turn() -> None:
    text = NamedFormat("gemma").render(MSGS).text
    assert text.startswith("<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n")
    assert "<start_of_turn>model\nHello!<end_of_turn>" in text
    assert text.endswith("<start_of_turn>model\n")
    assert "system" not in text


def test_template_raise_exception_becomes_chat_format_error() -> None:
    fmt = TemplateFormat("{{ raise_exception('roles must alternate') }}", "", "")
    with pytest.raises(ChatFormatError, match="roles must alternate"):
        fmt.render(MSGS)


def test_broken_template_is_reported() -> None:
    with pytest.raises(ChatFormatError, match="does not parse"):
        TemplateFormat("{% for x in %}", "", "")


def test_template_cannot_escape_the_sandbox() -> None:
    fmt = TemplateFormat("{{ messages.__class__.__mro__[1].__subclasses__() }}", "", "")
    with pytest.raises(ChatFormatError):
        fmt.render(MSGS)


def test_unknown_named_format() -> None:
    with pytest.raises(ChatFormatError, match="unknown chat format"):
        NamedFormat("klingon")


def test_markup_and_braces_in_content_pass_through_verbatim() -> None:
    msgs = [{"role": "user", "content": "{{ 7*7 }} [bold]x[/] {% if %}"}]
    fmt = TemplateFormat(CHATML_TEMPLATE, "", "<|im_end|>")
    assert "{{ 7*7 }} [bold]x[/] {% if %}" in fmt.render(msgs).text
