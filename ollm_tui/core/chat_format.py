"""Render a message list into the exact prompt text a model is fed.

Two kinds of format: the model's own Jinja chat template from its GGUF metadata (rendered
in a sandbox, the way Hugging Face and llama-cpp-python do), or a named format for models
that ship none (a base model, or a profile that overrides a broken template). The engine
tokenizes exactly what ``render`` returns, so token counts made from it are exact.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2.ext

# jinja2 is imported when a template is first compiled (not with this module): the app's
# first frame needs no template, and jinja2 costs it ~25 ms.

Messages = Sequence[dict[str, str]]


class ChatFormatError(ValueError):
    """The chat template cannot be rendered (broken template, unsupported roles...)."""


@dataclass(frozen=True)
class RenderedPrompt:
    """The prompt text and the strings that end the reply."""

    text: str
    stop: tuple[str, ...]


@functools.cache
def _ignore_generation() -> type[jinja2.ext.Extension]:
    """The extension passing Hugging Face's ``{% generation %}`` template tag through."""
    import jinja2.ext

    class _IgnoreGeneration(jinja2.ext.Extension):
        """Pass-through for Hugging Face's ``{% generation %}`` template tag."""

        tags = {"generation"}  # noqa: RUF012 (jinja2's Extension API: a plain class attribute)

        def parse(self, parser: jinja2.parser.Parser) -> Any:
            parser.stream.skip(1)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    return _IgnoreGeneration


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, **kw: Any) -> str:
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, sort_keys=kw.get("sort_keys", False)
    )


def _raise(message: str) -> None:
    raise ChatFormatError(f"the chat template refused the messages: {message}")


class TemplateFormat:
    """A GGUF ``tokenizer.chat_template`` (Jinja)."""

    name = "gguf template"

    def __init__(self, template: str, bos_token: str, eos_token: str) -> None:
        import jinja2
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(
            loader=jinja2.BaseLoader(),
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=[_ignore_generation(), jinja2.ext.loopcontrols],
        )
        env.filters["tojson"] = _tojson
        try:
            self._template = env.from_string(template)
        except jinja2.TemplateError as exc:
            raise ChatFormatError(f"the model's chat template does not parse: {exc}") from exc
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, messages: Messages) -> RenderedPrompt:
        """The prompt for ``messages`` followed by the assistant's turn opener."""
        import jinja2

        try:
            text = self._template.render(
                messages=list(messages),
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                add_generation_prompt=True,
                raise_exception=_raise,
                strftime_now=lambda f: datetime.now().astimezone().strftime(f),
            )
        except ChatFormatError:
            raise
        except jinja2.TemplateError as exc:
            raise ChatFormatError(f"the model's chat template failed: {exc}") from exc
        return RenderedPrompt(text, (self.eos_token,) if self.eos_token else ())


def _system_and_turns(messages: Messages) -> tuple[str, list[dict[str, str]]]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    return system, [m for m in messages if m["role"] != "system"]


def _chatml(messages: Messages) -> RenderedPrompt:
    out = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return RenderedPrompt("".join(out) + "<|im_start|>assistant\n", ("<|im_end|>",))


def _gemma(messages: Messages) -> RenderedPrompt:
    # Gemma 3's own template: no system role; the system text opens the first user turn.
    system, turns = _system_and_turns(messages)
    out = []
    for i, m in enumerate(turns):
        role = "model" if m["role"] == "assistant" else "user"
        content = m["content"]
        if i == 0 and system and role == "user":
            content = f"{system}\n\n{content}"
        out.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    return RenderedPrompt("".join(out) + "<start_of_turn>model\n", ("<end_of_turn>",))


def _llama3(messages: Messages) -> RenderedPrompt:
    out = [
        f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>"
        for m in messages
    ]
    return RenderedPrompt(
        "".join(out) + "<|start_header_id|>assistant<|end_header_id|>\n\n", ("<|eot_id|>",)
    )


def _plain(messages: Messages) -> RenderedPrompt:
    # For base models: a transcript they can continue. Stops before a new speaker.
    system, turns = _system_and_turns(messages)
    out = [f"{system}\n\n"] if system else []
    for m in turns:
        who = "User" if m["role"] == "user" else "Assistant"
        out.append(f"{who}: {m['content']}\n\n")
    return RenderedPrompt("".join(out) + "Assistant:", ("\nUser:", "\n\nUser"))


class NamedFormat:
    """One of the built-in formats (``NAMED_FORMATS``)."""

    def __init__(self, name: str) -> None:
        if name not in NAMED_FORMATS:
            known = ", ".join(sorted(NAMED_FORMATS))
            raise ChatFormatError(f"unknown chat format {name!r} (known: {known})")
        self.name = name
        self._render = NAMED_FORMATS[name]

    def render(self, messages: Messages) -> RenderedPrompt:
        """The prompt for ``messages`` followed by the assistant's turn opener."""
        return self._render(messages)


NAMED_FORMATS: dict[str, Callable[[Messages], RenderedPrompt]] = {
    "chatml": _chatml,
    "gemma": _gemma,
    "llama3": _llama3,
    "plain": _plain,
}

FALLBACK_FORMAT = "chatml"
"""Used when a model has neither a chat template nor a profile format (announced to the user)."""

ChatFormat = TemplateFormat | NamedFormat
