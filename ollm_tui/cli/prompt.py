"""``ollm -p``: one turn without the full-screen app, optionally part of a saved chat
(``--chat``), and the figures ``--output json`` reports.

The store, engine, accounting, KV cache and summariser come from the composition root
(``cli/chat.build_components``), as the app's do. What differs from the app: the model is
loaded at once (not lazily), a one-off turn runs on an in-memory database, the accounting
counts with the engine's own model (nothing runs beside it), and KV states are restored and
saved only for a saved chat.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import TYPE_CHECKING, Any

from ollm_tui.cli.common import (
    EXIT_GENERATION,
    EXIT_INTERRUPTED,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_USAGE,
    err,
    is_terminal,
    plan_placement,
    store_exit,
)
from ollm_tui.core.display import DisplayStream, json_escape
from ollm_tui.settings import Settings

if TYPE_CHECKING:  # the command imports these when it runs
    from ollm_tui.engine.base import CancelToken, ModelInfo
    from ollm_tui.engine.planning import Placement
    from ollm_tui.engine.registry import ModelEntry
    from ollm_tui.session.components import Components
    from ollm_tui.session.events import ContextEvent


def cmd_prompt(settings: Settings, args: argparse.Namespace) -> int:
    """One turn without the full-screen app; optionally part of a saved chat."""
    from ollm_tui.cli.chat import build_components, close_components
    from ollm_tui.engine.base import CancelToken, EngineError
    from ollm_tui.engine.remote.models import resolve_model
    from ollm_tui.settings.logs import setup_logging
    from ollm_tui.store.db import StoreError

    text = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not text.strip():
        err("the prompt is empty")
        return EXIT_USAGE
    cancel = CancelToken()
    signal.signal(signal.SIGINT, lambda *_: cancel.cancel())  # Ctrl+C: stop, keep what we have
    log_problem = setup_logging(settings.log_file)
    if log_problem:
        err(f"warning: {log_problem}")
    try:
        entry = resolve_model(settings, settings.model)
    except EngineError as exc:
        err(str(exc))
        return EXIT_MODEL
    try:  # a one-off turn is not saved: an in-memory database
        components = build_components(settings, lazy=False, in_memory=not args.chat)
    except StoreError as exc:
        err(str(exc))
        return store_exit(exc)
    for problem in components.profile_errors:
        err(f"warning: {problem}")
    try:
        return _run(components, entry, text, cancel, args)
    finally:
        close_components(components)


def _run(
    components: Components,
    entry: ModelEntry,
    text: str,
    cancel: CancelToken,
    args: argparse.Namespace,
) -> int:
    """Plan and load the model, then send ``text`` and print the reply."""
    from ollm_tui.engine.base import EngineError
    from ollm_tui.engine.factory import load_options
    from ollm_tui.engine.remote.models import is_remote_entry

    settings, engine, store = components.settings, components.engine, components.store
    placement = None  # a server model: the server decides its context, not the tier planner
    if not is_remote_entry(entry):
        saved = store.find_chat(args.chat) if args.chat else None
        try:
            placement = plan_placement(settings, entry, saved.settings if saved else None)
        except ValueError as exc:  # TierError: the size is not offered for this model
            err(str(exc))
            return EXIT_USAGE
        if not placement.plan.chosen.fits and not settings.context_explicit:
            err(f"warning: {placement.plan.reason}")
    try:
        info = engine.load(entry.path, placement.options if placement else load_options(settings))
    except EngineError as exc:
        err(str(exc))
        return EXIT_MODEL
    if info.format_note:
        err(f"note: {info.format_note}")
    if cancel.cancelled:  # Ctrl+C while the model was loading
        return EXIT_INTERRUPTED
    return _turn(components, entry, info, placement, text, cancel, args)


def _turn(
    components: Components,
    entry: ModelEntry,
    info: ModelInfo,
    placement: Placement | None,
    text: str,
    cancel: CancelToken,
    args: argparse.Namespace,
) -> int:
    """Send ``text`` in the chat (``--chat``, or a new unsaved one) and print the reply."""
    from ollm_tui.engine.base import EngineError, GenParams
    from ollm_tui.session.chat import (
        ChatSession,
        CompressionStep,
        MessageTooLong,
        TurnDelta,
        TurnFinished,
    )

    settings, engine, store = components.settings, components.engine, components.store
    if args.chat:
        chat = store.find_chat(args.chat) or store.create_chat(args.chat)
    else:
        chat = store.create_chat("ollm -p")
    session = ChatSession(store, engine, settings, chat, components.summariser, listener=notice)
    if args.chat and placement is not None:  # the tier is stored with the saved chat
        session.context.lock_tier(
            placement.plan.chosen.label,
            info.n_ctx,
            placement.plan.manual,
            placement.override_note or placement.plan.reason,
            str(entry.path),
        )
    session.accounting = shared_accounting(components.accounting, engine, info.path)
    if args.chat:  # a saved chat: resume its KV state, save it after the reply
        session.kv = components.kv_cache
    params = GenParams(
        temperature=settings.temperature, max_tokens=settings.max_tokens, seed=args.seed
    )
    streaming = args.output == "text"
    reply_out = ReplyWriter(sys.stdout)
    finished: TurnFinished | None = None
    try:
        for event in session.send(text, cancel, params):
            if isinstance(event, TurnDelta) and streaming:
                reply_out.write(event.text)
            elif isinstance(event, TurnFinished):
                finished = event
            elif isinstance(event, CompressionStep):
                err(f"note: compressing: {event.text}")
    except MessageTooLong as exc:
        err(str(exc))
        return EXIT_GENERATION
    except EngineError as exc:
        err(f"generation failed: {exc}")
        return EXIT_GENERATION
    if streaming:
        reply_out.close()
    assert finished is not None
    if finished.error:
        err(f"generation failed: {finished.error}")
        return EXIT_GENERATION
    if args.chat and not cancel.cancelled:
        compress_after_reply(session, cancel)
    if args.output == "json":
        report = reply_report(session, finished, info, placement, saved_chat=bool(args.chat))
        print(json_text(report))
    if finished.done is not None and finished.done.stopped:
        return EXIT_INTERRUPTED
    return EXIT_OK


def notice(event: ContextEvent) -> None:
    """The context manager's notices on stderr (usage and tier events need no line)."""
    from ollm_tui.session.events import Notice

    if isinstance(event, Notice):
        err(f"{'note' if event.severity == 'information' else event.severity}: {event.text}")


class ReplyWriter:
    """Writes a streamed reply to ``stream``: on a terminal through the display sanitiser
    (visible escapes, the same as the app shows), to a pipe or a file exactly."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self._display = DisplayStream() if is_terminal(stream) else None

    def write(self, chunk: str) -> None:
        """Write one chunk of the reply and flush it."""
        self.stream.write(chunk if self._display is None else self._display.feed(chunk))
        self.stream.flush()

    def close(self) -> None:
        """End the reply: what the sanitiser held back (a lone CR), then a newline."""
        if self._display is not None:
            self.stream.write(self._display.flush())
        self.stream.write("\n")
        self.stream.flush()


def json_text(value: Any) -> str:
    """``value`` as JSON, every string exact once decoded: ``json.dumps`` escapes C0
    controls, and ``json_escape`` also DEL, C1, bidi and lone surrogates (``\\uXXXX``)."""
    return json_escape(json.dumps(value, ensure_ascii=False))


def shared_accounting(accounting: Any, engine: Any, model: Any) -> Any:
    """``accounting`` counting with the engine's own model (nothing runs beside it in
    ``-p``), so ``fit`` counts long chats from the cache; None if the engine has no
    tokenizer to share."""
    try:
        accounting.attach(engine.counting_codec(shared=True), model)
    except Exception as exc:  # noqa: BLE001 - the engine still counts by itself
        err(f"warning: token counting falls back to the engine: {exc}")
        return None
    return accounting


def reply_report(
    session: Any, finished: Any, info: Any, placement: Any, saved_chat: bool
) -> dict[str, Any]:
    """The ``--output json`` object of one turn (docs/cli.md lists every field)."""
    done = finished.done
    return {
        "reply": finished.reply.content,
        "model": info.name,
        "chat": session.chat.title if saved_chat else None,
        "prompt_tokens": done.prompt_tokens if done else None,
        "completion_tokens": done.completion_tokens if done else None,
        "time_to_first_token_s": round(done.ttft_s, 4) if done else None,
        "tokens_per_s": round(done.tokens_per_s, 2) if done else None,
        "finish_reason": done.finish_reason if done else None,
        "context_size": info.n_ctx,
        "tier": placement.plan.chosen.label if placement else None,
        "tier_reason": (placement.override_note or placement.plan.reason)
        if placement
        else session.engine.context_source or None,
        "context": context_figures(session, info.n_ctx),
        **compression_figures(session),
    }


def compress_after_reply(session: Any, cancel: Any) -> None:
    """Compress the saved chat when its budget is past the trigger (as the app does after a
    reply); notices go to stderr, a failure is a warning (the reply is saved already)."""
    from ollm_tui.session.chat import CompressionFinished, CompressionStep

    try:
        if not session.needs_compression():
            return
        for event in session.compress(cancel, "auto"):
            if isinstance(event, CompressionStep):
                err(f"note: compressing: {event.text}")
            elif isinstance(event, CompressionFinished) and event.error:
                err(f"warning: compression failed: {event.error}")
    except Exception as exc:  # noqa: BLE001 - the reply is out already
        err(f"warning: compression failed: {exc}")


def compression_figures(session: Any) -> dict[str, Any]:
    """``usage`` (used/budget/percent of the active context), ``checkpoints`` (active
    count) and ``compressed`` (whether a compression ran) for ``--output json``."""
    out: dict[str, Any] = {"usage": None, "checkpoints": 0, "compressed": session.compressed}
    try:
        usage = session.usage()
        out["usage"] = {
            "used": usage.used,
            "budget": usage.budget.available,
            "percent": round(usage.percent, 2),
        }
        out["checkpoints"] = len(session.active_context().checkpoints)
    except Exception as exc:  # noqa: BLE001 - the figures are extra
        err(f"warning: usage figures unavailable: {exc}")
    return out


def context_figures(session: Any, n_ctx: int) -> dict[str, Any] | None:
    """Exact token figures of the chat after the turn (for ``--output json``).

    ``tokens`` is what the model is fed for the whole chat now (system prompt, every
    message, the reply opener); ``used`` is that minus the system prompt, against the
    ``budget`` (limit - system prompt - reply reserve). None, with a warning, if the
    tokenizer cannot be used.
    """
    if session.accounting is None:
        return None
    measured = session.context.last  # counted after the reply (or the compression after it)
    try:
        if measured is None or measured.breakdown is None:
            measured = session.context.measure(session.history())
        if measured.breakdown is None:
            raise RuntimeError("the engine counted, without the cached tokenizer")
    except Exception as exc:  # noqa: BLE001 - the reply is out already; the figures are extra
        err(f"warning: token figures unavailable: {exc}")
        return None
    usage, budget = measured.usage, measured.usage.budget
    return {
        "tokens": measured.breakdown.total,
        "messages": measured.messages,
        "system_tokens": budget.system,
        "checkpoint_tokens": budget.checkpoints,
        "template_overhead": measured.breakdown.overhead,
        "used": usage.used,
        "budget": budget.available,
        "percent": round(usage.percent, 2),
        "limit": budget.limit,
        "reply_reserve": budget.reserve,
        "exact": usage.exact,
    }
