"""What the in-process engine and its counting codec share: llama.cpp's log routing, the
text of a token, and the choice of chat format.

Both ``engine.py`` and ``tokenizer.py`` import this module; neither imports the other back.
"""

from __future__ import annotations

import ctypes
import logging

import llama_cpp

from ollm_tui.core.chat_format import (
    FALLBACK_FORMAT,
    ChatFormat,
    ChatFormatError,
    NamedFormat,
    TemplateFormat,
)
from ollm_tui.core.gguf_info import GGUFInfo
from ollm_tui.core.profiles import ProfileSet

llama_log = logging.getLogger("ollm.llama_cpp")

# ggml log levels (llama-cpp-python's own map is stale): NONE0 DEBUG1 INFO2 WARN3 ERROR4 CONT5
_GGML_LEVELS = {
    0: logging.INFO,
    1: logging.DEBUG,
    2: logging.INFO,
    3: logging.WARNING,
    4: logging.ERROR,
}
_last_level = [logging.INFO]
log_lines: list[str] = []
"""Recent llama.cpp log lines (the engine quotes one in a load error)."""


@llama_cpp.llama_log_callback
def _on_llama_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
    lvl = _last_level[0] if level == 5 else _GGML_LEVELS.get(level, logging.INFO)
    _last_level[0] = lvl
    line = text.decode("utf-8", "replace").rstrip("\n")
    if line:
        log_lines.append(line)
        del log_lines[:-40]
        llama_log.log(lvl, line)


def install_llama_logging() -> None:
    """Route llama.cpp's logs to our logger (idempotent; the callback lives at module level)."""
    llama_cpp.llama_log_set(_on_llama_log, ctypes.c_void_p(0))


def choose_format(
    info: GGUFInfo, profiles: ProfileSet, override: str | None, bos: str, eos: str
) -> tuple[ChatFormat, str]:
    """The chat format for a model, and a note for the user when it is not the model's own."""
    profile = profiles.match(info.architecture, [info.name or "", info.path.name])
    if override:
        return NamedFormat(override), f"prompts use the '{override}' format (set by you)"
    if profile and profile.override_template and profile.chat_format:
        fmt = profile.chat_format
        return NamedFormat(fmt), f"prompts use the '{fmt}' format from the {profile.name} profile"
    problem = ""
    if info.chat_template:
        try:
            return TemplateFormat(info.chat_template, bos, eos), ""
        except ChatFormatError as exc:
            problem = f"{exc}; "
    else:
        problem = "this model has no chat template; "
    if profile and profile.chat_format:
        fmt = profile.chat_format
        return NamedFormat(
            fmt
        ), f"{problem}using the '{fmt}' format from the {profile.name} profile"
    return NamedFormat(FALLBACK_FORMAT), (
        f"{problem}no profile matches it either, so prompts use the '{FALLBACK_FORMAT}' "
        "fallback format and replies may be poor (see Profiles in the guide)"
    )


def token_text(llm: llama_cpp.Llama, token: int) -> str:
    """The text of ``token`` with special tokens shown ("" for none or an unknown one)."""
    if token < 0:
        return ""
    try:
        return llm.detokenize([token], special=True).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - a model without that token
        return ""
