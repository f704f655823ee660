"""The summariser of checkpoints: the loaded model, or a separate smaller one.

``EngineSummariser.summarise`` runs one completion at temperature 0 with the instruction
as the system message and the text as the user message, at most ``max_tokens`` long. It
is called from the worker that owns the engine (compression runs in the generation
worker group). With ``Settings.summary_model`` set, that model is loaded on first use as
a second engine with a small window (``SUMMARY_CONTEXT``), shared by every chat of the
process and kept until ``close_summary_models``; a summariser model that cannot be found or
loaded raises ``EngineError`` with the reason, which the compressor reports and answers
with the extractive fallback.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ollm_tui.engine.base import Backend, CancelToken, ChatMessage, Delta, EngineError, GenParams

if TYPE_CHECKING:
    from ollm_tui.core.compression import Cancel
    from ollm_tui.settings import Settings

log = logging.getLogger("ollm.compress")

SUMMARY_CONTEXT = 4096
"""The window of a separate summariser model (its input is at most one budget's worth)."""

CUTS = 8
"""How many times an input too long for the window is cut (a fifth from the front each)."""

_models: dict[str, Backend] = {}
"""Loaded summariser models by ``summary_model`` value (one per process)."""
_models_lock = threading.Lock()


def close_summary_models() -> None:
    """Free every separate summariser model (at exit; safe to call twice)."""
    with _models_lock:
        engines = list(_models.values())
        _models.clear()
    for engine in engines:
        engine.close()


class _Bridge(CancelToken):
    """A ``CancelToken`` that follows another ``cancelled`` flag (the compressor's)."""

    def __init__(self, source: Cancel) -> None:
        super().__init__()
        self._source = source

    @property
    def cancelled(self) -> bool:
        """True once the source is cancelled (or this token is)."""
        return self._source.cancelled or super().cancelled


class EngineSummariser:
    """Summaries written by an engine: the chat's own, or ``summary_model`` loaded on demand."""

    def __init__(self, engine: Backend, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.calls = 0
        """Completions run so far."""

    def _summary_engine(self) -> Backend:
        name = self.settings.summary_model
        if not name:
            return self.engine
        with _models_lock:
            engine = _models.get(name)
            if engine is None:
                from ollm_tui.engine.factory import load_options, make_engine
                from ollm_tui.engine.registry import resolve

                entry = resolve(self.settings, name)  # EngineError: not found / unusable
                engine, _ = make_engine(self.settings)
                engine.load(entry.path, load_options(self.settings, SUMMARY_CONTEXT))
                log.info("summariser model %s loaded", entry.path)
                _models[name] = engine
        return engine

    def summarise(self, instruction: str, text: str, max_tokens: int, cancel: Cancel) -> str:
        """The engine's summary of ``text`` (unvalidated; the compressor checks it)."""
        engine = self._summary_engine()
        info = engine.info
        if info is None:
            raise EngineError("no model is loaded to write the summary")
        messages: list[ChatMessage] = [
            {"role": "system", "content": instruction},
            {"role": "user", "content": text},
        ]
        for _ in range(CUTS):  # the oldest part goes first when the input is too long
            if engine.count_prompt_tokens(messages) + max_tokens <= info.n_ctx:
                break
            text = text[len(text) // 5 :]
            messages[1] = {"role": "user", "content": text}
        params = GenParams(temperature=0.0, max_tokens=max_tokens, seed=0, repeat_penalty=1.1)
        parts: list[str] = []
        self.calls += 1
        token = cancel if isinstance(cancel, CancelToken) else _Bridge(cancel)
        for event in engine.stream(messages, params, token):
            if isinstance(event, Delta):
                parts.append(event.text)
        return "".join(parts)
