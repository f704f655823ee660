"""Drive a long scripted chat through ``ChatSession`` the way the app does: send, and right
after each reply compress when the session says it is time."""

from __future__ import annotations

from collections.abc import Iterable

from ollm_tui.engine.base import CancelToken, GenParams
from ollm_tui.session.chat import ChatSession, CompressionFinished, TurnFinished


def run_long_chat(
    session: ChatSession, texts: Iterable[str], params: GenParams, n_ctx: int
) -> tuple[list[str], int]:
    """Send every text; return the reply errors and the number of compressions. Asserts
    that each reply's prompt plus the reply reserve fits ``n_ctx`` and that no compression
    fails."""
    errors: list[str] = []
    compressions = 0
    for text in texts:
        for event in session.send(text, CancelToken(), params):
            if isinstance(event, TurnFinished):
                if event.error:
                    errors.append(event.error)
                elif event.done is not None:  # the prompt and the reply reserve fit
                    assert event.done.prompt_tokens + session.budget().reserve <= n_ctx
            elif isinstance(event, CompressionFinished):
                compressions += 1
        if session.needs_compression():
            for event in session.compress(CancelToken(), "auto"):
                if isinstance(event, CompressionFinished):
                    assert event.error is None, event.error
                    compressions += 1
    return errors, compressions
