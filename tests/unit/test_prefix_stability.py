"""Prefix stability: the prompt of turn N+1 extends the prompt of turn N byte for byte.

Only then does the engine's prefix reuse evaluate just the new tokens (the reply and the
new message). Checked for every format we ship on many turn sequences; the token-level
check with the real tokenizers is in ``tests/integration/test_prefix_real.py``.
"""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from ollm_tui.core.chat_format import NAMED_FORMATS, ChatFormat, NamedFormat, TemplateFormat

SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""The GGUF chat template of the starter model (SmolLM2-135M-Instruct), verbatim."""

FORMATS: dict[str, ChatFormat] = {
    "smollm2 gguf template": TemplateFormat(SMOLLM2_TEMPLATE, "<|im_start|>", "<|im_end|>"),
    **{name: NamedFormat(name) for name in NAMED_FORMATS},
}

content = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40
).filter(str.strip)
turns = st.lists(st.tuples(content, content), min_size=2, max_size=6)


def prompts(fmt: ChatFormat, system: str | None, pairs: list[tuple[str, str]]) -> list[str]:
    """The prompt text before each reply of a chat, turn by turn."""
    messages = [{"role": "system", "content": system}] if system else []
    out = []
    for user, reply in pairs:
        messages.append({"role": "user", "content": user})
        out.append(fmt.render(messages).text)
        messages.append({"role": "assistant", "content": reply})
    return out


@settings(max_examples=150, deadline=None)
@given(system=st.none() | content, pairs=turns)
def test_every_turn_extends_the_previous_prompt(system: str | None, pairs) -> None:
    for name, fmt in FORMATS.items():
        texts = prompts(fmt, system, pairs)
        for before, after in pairwise(texts):
            assert after.startswith(before), name


def test_the_system_prompt_comes_first() -> None:
    for name, fmt in FORMATS.items():
        text = prompts(fmt, "SYSTEM-TEXT", [("hi", "hello"), ("again", "sure")])[-1]
        assert text.find("SYSTEM-TEXT") < text.find("hi") < text.find("hello"), name
