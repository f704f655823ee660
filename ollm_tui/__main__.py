"""The ``ollm`` command: the chat app, one scripted turn (``-p``), and headless commands.

Exit codes (documented in docs/cli.md):
  0 success; 1 other failure (e.g. the chat database cannot be opened);
  2 bad arguments; 3 model not found, unreadable or failing to load;
  4 generation failed (including a message too long for the context);
  5 data folder unusable (a file in its place, permission denied, disk full, read-only);
  130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from ollm_tui import __version__
from ollm_tui.core.display import DisplayStream, display, json_escape
from ollm_tui.settings import (
    Settings,
    SettingsError,
    parse_context,
    parse_size,
    parse_threads,
    parse_tier_setting,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_GENERATION = 4
EXIT_FOLDER = 5
EXIT_INTERRUPTED = 130


def _version() -> str:
    try:
        llama = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        llama = "not installed"
    return f"ollm_tui {__version__} (llama-cpp-python {llama}, Python {sys.version.split()[0]})"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs consistency tests)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", "-m", metavar="NAME|PATH", help="model name (see `ollm models`) or path to a .gguf file")
    common.add_argument("--context", metavar="SIZE", help="exact context window in tokens, e.g. 4096 or 8k (overrides --tier)")
    common.add_argument("--tier", metavar="TIER", help="context tier: auto (default), 2k, 4k, 8k, 16k, 32k, 64k or 128k")
    common.add_argument("--memory-budget", metavar="SIZE", help="most memory the planner may use, e.g. 300MiB or 6GiB")
    common.add_argument("--threads", metavar="N", help="CPU threads for generation (default: usable cores - 1)")
    common.add_argument("--server", metavar="URL", help="use a model on this OpenAI-compatible server (--model names it; default: its first)")
    common.add_argument("--api-key-env", metavar="NAME", help="with --server: the environment variable holding its API key")

    parser = argparse.ArgumentParser(
        prog="ollm",
        description="Chat with local GGUF models in a full-screen terminal app.",
        parents=[common],
        epilog="Exit codes: 0 ok, 1 failure, 2 bad arguments, 3 model problem, 4 generation failed, 5 data folder unusable, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("-p", "--prompt", metavar="TEXT", help="send one message, print the reply and exit ('-' reads stdin)")
    parser.add_argument("--output", choices=["text", "json"], default="text", help="with -p: plain reply text or a JSON object")
    parser.add_argument("--chat", metavar="NAME", help="with -p: continue (or start) the saved chat of this title")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="with -p: longest reply in tokens")
    parser.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (default 0.3)")
    parser.add_argument("--seed", type=int, metavar="N", help="with -p: sampling seed, for repeatable replies")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    models = sub.add_parser("models", help="list the models ollm can find")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    # the planner's flags also after the command; SUPPRESS keeps values given before it
    planner = argparse.ArgumentParser(add_help=False)
    for flag in ("--context", "--tier", "--memory-budget"):
        planner.add_argument(flag, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    doctor = sub.add_parser(
        "doctor", parents=[planner], help="memory probes, build features, models and their tier plans"
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    config = sub.add_parser("config", help="where the settings file is, or the settings in effect")
    config.add_argument("action", choices=["path", "show"], help="path: print the file's path; show: print every setting")
    export = sub.add_parser("export", help="write a saved chat as Markdown or JSON")
    export.add_argument("chat", metavar="CHAT", help="the chat's title or id (see the chat list)")
    export.add_argument("--format", choices=["md", "json"], default="md", help="md (default) or json")
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Environment settings with the command line's overrides."""
    settings = Settings.from_env()
    if args.model:
        settings = settings.with_(model=args.model)
    if args.context:
        settings = settings.with_(context_size=parse_context(args.context, "--context"), context_explicit=True)
    if args.tier:
        settings = settings.with_(tier=parse_tier_setting(args.tier, "--tier"))
    if args.memory_budget:
        settings = settings.with_(memory_budget=parse_size(args.memory_budget, "--memory-budget"))
    if args.threads:
        n = parse_threads(args.threads, "--threads")
        settings = settings.with_(n_threads=n, n_threads_batch=n)
    if getattr(args, "temperature", None) is not None:
        if not 0.0 <= args.temperature <= 5.0:
            raise SettingsError(f"--temperature must be between 0 and 5, got {args.temperature}")
        settings = settings.with_(temperature=args.temperature)
    if getattr(args, "server", None):
        settings = _with_cli_server(settings, args.server, args.api_key_env, args.model)
    elif getattr(args, "api_key_env", None):
        raise SettingsError("--api-key-env only works with --server")
    if getattr(args, "max_tokens", None) is not None:
        if args.max_tokens < 1:
            raise SettingsError(f"--max-tokens must be at least 1, got {args.max_tokens}")
        settings = settings.with_(max_tokens=args.max_tokens)
    return settings


def _with_cli_server(
    settings: Settings, url: str, api_key_env: str | None, model: str | None
) -> Settings:
    """``settings`` with the ``--server`` URL first among the servers and its model chosen."""
    from ollm_tui.engine.servers import (
        ServerConfig,
        ServerConfigError,
        name_from_url,
        normalise_url,
    )

    try:
        server = ServerConfig(name_from_url(url), normalise_url(url), api_key_env=api_key_env)
    except ServerConfigError as exc:
        raise SettingsError(f"--server: {exc}") from None
    others = tuple(s for s in settings.servers if s.name != server.name)
    return settings.with_(servers=(server, *others), model=f"{model or ''}@{server.name}")


def _is_terminal(stream: Any) -> bool:
    """True when ``stream`` is a terminal (False for pipes, files and closed streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _shown(text: str, stream: Any) -> str:
    """``text`` as written to ``stream``: control, C1 and bidi characters as visible escapes
    when it is a terminal (``core/display.py``); the exact text for a pipe or a file."""
    return display(text) if _is_terminal(stream) else text


def _err(message: str) -> None:
    """An ``ollm:`` line on standard error (its text made terminal-safe on a terminal)."""
    print(_shown(f"ollm: {message}", sys.stderr), file=sys.stderr)


def _store_exit(exc: Exception) -> int:
    """The exit code for a store that did not open: 5 for an unusable data folder."""
    from ollm_tui.store.db import StoreUnusable

    return EXIT_FOLDER if isinstance(exc, StoreUnusable) else EXIT_FAILURE


def make_engine(settings: Settings, lazy: bool = False):
    """The in-process engine with bundled and user profiles. Returns (engine, profile errors).

    ``lazy`` defers importing llama-cpp-python until the first model load (the app does
    that in a worker, so the first frame does not wait for the import).
    """
    from ollm_tui.core.profiles import load_profiles
    from ollm_tui.resources import bundled_dir

    profiles = load_profiles([bundled_dir("profiles"), settings.user_profiles_dir])

    def build():
        from ollm_tui.engine.llama import LlamaEngine

        return LlamaEngine(profiles)

    if lazy:
        from ollm_tui.engine.lazy import LazyEngine

        engine = LazyEngine(build)
    else:
        engine = build()
    if settings.servers:  # server models too: one engine routes to the right one
        from ollm_tui.engine.remote import RemoteEngine
        from ollm_tui.engine.routing import RoutedEngine

        engine = RoutedEngine(engine, RemoteEngine(settings.servers, settings.server_timeouts()))
    return engine, profiles.errors


# -- ollm models -----------------------------------------------------------------------


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def cmd_models(settings: Settings, as_json: bool) -> int:
    """Print every model found, usable or not."""
    from ollm_tui.engine.registry import discover
    from ollm_tui.engine.server_models import server_entries

    entries = discover(settings) + server_entries(settings)
    rows: list[dict[str, Any]] = []
    for e in entries:
        i = e.info
        rows.append(
            {
                "name": e.name,
                "path": str(e.path),
                "size_bytes": e.size_bytes,
                "source": e.source,
                "architecture": i.architecture if i else None,
                "quantization": i.quantization if i else None,
                "context_length": i.context_length if i else None,
                "chat_template": i.has_chat_template if i else None,
                "parameters": i.parameter_count if i else None,
                "usable": e.usable,
                "error": e.error,
                "note": e.note,
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("No models found. Put .gguf files in", settings.user_models_dir)
        return EXIT_OK
    header = ("NAME", "SIZE", "ARCH", "QUANT", "CONTEXT", "TEMPLATE", "SOURCE")
    table = [header]
    for r in rows:
        table.append(
            (
                r["name"],
                _size(r["size_bytes"]),
                r["architecture"] or "-",
                r["quantization"] or "-",
                str(r["context_length"] or "-"),
                "-" if r["chat_template"] is None else ("yes" if r["chat_template"] else "no"),
                r["source"],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
        print(_shown(line, sys.stdout))  # names come from files and servers
    for r in rows:
        if r["error"]:
            print(_shown(f"unusable: {r['path']}: {r['error']}", sys.stdout))
        elif r["note"]:
            print(_shown(f"note: {r['name']}: {r['note']}", sys.stdout))
    return EXIT_OK


def _placement(settings: Settings, entry: Any, chat_settings: dict | None = None) -> Any:
    """The tier plan and load options for a resolved model (TierError if --tier is not offered).

    ``chat_settings``: the settings of the chat about to open; a tier it was locked to for
    this model is kept (unless the command line says otherwise, or the size is gone).
    """
    from ollm_tui.engine.planning import load_all_profiles, place, stored_choice

    profiles = load_all_profiles(settings)
    choice = stored_choice(settings, chat_settings or {}, entry.path)
    if choice is not None:
        try:
            return place(settings, entry.info, profiles=profiles, choice=choice, save_profile=True)
        except ValueError:  # the stored size is no longer offered: auto decides
            pass
    return place(settings, entry.info, profiles=profiles, save_profile=True)


def _chat_settings(settings: Settings, title: str | None) -> dict | None:
    """The stored settings of the saved chat ``title`` (None: no such chat, or no store)."""
    if not title:
        return None
    from ollm_tui.store.db import Store, StoreError

    try:
        store = Store(settings.db_path)
    except StoreError:
        return None  # reported when the chat is opened for real
    try:
        chat = store.find_chat(title)
        return chat.settings if chat else None
    finally:
        store.close()


# -- ollm config, ollm export -------------------------------------------------------------


def cmd_config(settings: Settings, action: str) -> int:
    """``ollm config path``: the settings file's path; ``ollm config show``: every setting."""
    from ollm_tui.config import describe_settings

    if action == "path":
        print(settings.config_file)
    else:
        print(f"# {settings.config_file}" + ("" if settings.config_file.exists() else " (not created yet)"))
        print(describe_settings(settings), end="")
    return EXIT_OK


def cmd_export(settings: Settings, chat_ref: str, fmt: str, out: str | None) -> int:
    """Print (or write to ``out``) one saved chat as Markdown or JSON."""
    from ollm_tui.store.db import Store, StoreError
    from ollm_tui.store.export import render

    folder = settings.db_path.parent
    if not settings.db_path.exists() and (folder.is_dir() or not folder.exists()):
        _err(f"no chats yet ({settings.db_path} does not exist)")
        return EXIT_FAILURE
    try:
        store = Store(settings.db_path)
    except StoreError as exc:
        _err(str(exc))
        return _store_exit(exc)
    try:
        chat = store.find_chat(chat_ref)
        if chat is None and chat_ref.isdigit():
            chat = store.get_chat(int(chat_ref))
        if chat is None:
            _err(f"no chat is called {chat_ref!r} (titles are matched exactly; an id works too)")
            return EXIT_FAILURE
        active = store.active_context(chat.id).checkpoint_ids
        text = render(chat, store.messages(chat.id), fmt, store.all_checkpoints(chat.id), active)
    finally:
        store.close()
    if fmt == "json":  # still valid JSON with the same strings, and safe to print
        text = json_escape(text)
    if out is None:
        if fmt != "json":
            text = _shown(text, sys.stdout)  # Markdown on a terminal: visible escapes
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return EXIT_OK
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        _err(f"cannot write {out}: {exc}")
        return EXIT_FAILURE
    return EXIT_OK


# -- ollm -p ---------------------------------------------------------------------------


class ReplyWriter:
    """Writes a streamed reply to ``stream``: on a terminal through the display sanitiser
    (visible escapes, the same as the app shows), to a pipe or a file exactly."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self._display = DisplayStream() if _is_terminal(stream) else None

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


def cmd_prompt(settings: Settings, args: argparse.Namespace) -> int:
    """One turn without the full-screen app; optionally part of a saved chat."""
    from ollm_tui.engine.base import CancelToken, EngineError, GenParams
    from ollm_tui.engine.server_models import is_remote_entry, resolve_model
    from ollm_tui.logs import setup_logging
    from ollm_tui.session import (
        ChatSession,
        CompressionStep,
        MessageTooLong,
        TurnDelta,
        TurnFinished,
    )
    from ollm_tui.store.db import Store, StoreError

    text = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not text.strip():
        _err("the prompt is empty")
        return EXIT_USAGE
    cancel = CancelToken()
    signal.signal(signal.SIGINT, lambda *_: cancel.cancel())  # Ctrl+C: stop, keep what we have
    setup_logging(settings.log_file)
    try:
        entry = resolve_model(settings, settings.model)
    except EngineError as exc:
        _err(str(exc))
        return EXIT_MODEL
    engine, profile_errors = make_engine(settings)
    for problem in profile_errors:
        _err(f"warning: {problem}")
    placement = None  # a server model: the server decides its context, not the tier planner
    if not is_remote_entry(entry):
        try:
            placement = _placement(settings, entry, _chat_settings(settings, args.chat))
        except ValueError as exc:  # TierError: the size is not offered for this model
            _err(str(exc))
            engine.close()
            return EXIT_USAGE
        if not placement.plan.chosen.fits and not settings.context_explicit:
            _err(f"warning: {placement.plan.reason}")
    try:
        info = engine.load(entry.path, placement.options if placement else settings.load_options())
    except EngineError as exc:
        _err(str(exc))
        return EXIT_MODEL
    if info.format_note:
        _err(f"note: {info.format_note}")
    if cancel.cancelled:  # Ctrl+C while the model was loading
        engine.close()
        return EXIT_INTERRUPTED
    try:
        store = Store(settings.db_path if args.chat else Path(":memory:"))
    except StoreError as exc:
        _err(str(exc))
        engine.close()
        return _store_exit(exc)
    session: ChatSession | None = None
    try:
        chat = (store.find_chat(args.chat) or store.create_chat(args.chat)) if args.chat else store.create_chat("ollm -p")
        if args.chat and placement is not None:
            store.update_chat_settings(
                chat.id,
                tier=placement.plan.chosen.label,
                tier_manual=placement.plan.manual,
                tier_reason=placement.override_note or placement.plan.reason,
                n_ctx=info.n_ctx,
                model_path=str(entry.path),
            )
        session = ChatSession(store, engine, settings, chat)
        session.accounting = shared_accounting(engine, settings, store, info.path)
        if args.chat:  # a saved chat: resume its KV state, save it after the reply
            from ollm_tui.engine.kv_state import ChatKvCache, KvStateStore

            session.kv = ChatKvCache(KvStateStore(settings.kv_dir, settings.kv_cache_max_bytes), engine)
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
                    _err(f"note: compressing: {event.text}")
        except MessageTooLong as exc:
            _err(str(exc))
            return EXIT_GENERATION
        except EngineError as exc:
            _err(f"generation failed: {exc}")
            return EXIT_GENERATION
        if streaming:
            reply_out.close()
        assert finished is not None
        if finished.error:
            _err(f"generation failed: {finished.error}")
            return EXIT_GENERATION
        done = finished.done
        if args.chat and not cancel.cancelled:
            compress_after_reply(session, cancel)
        if args.output == "json":
            print(
                json_text(
                    {
                        "reply": finished.reply.content,
                        "model": info.name,
                        "chat": session.chat.title if args.chat else None,
                        "prompt_tokens": done.prompt_tokens if done else None,
                        "completion_tokens": done.completion_tokens if done else None,
                        "time_to_first_token_s": round(done.ttft_s, 4) if done else None,
                        "tokens_per_s": round(done.tokens_per_s, 2) if done else None,
                        "finish_reason": done.finish_reason if done else None,
                        "context_size": info.n_ctx,
                        "tier": placement.plan.chosen.label if placement else None,
                        "tier_reason": (placement.override_note or placement.plan.reason)
                        if placement
                        else getattr(engine, "context_source", None),
                        "context": context_figures(session, info.n_ctx),
                        **compression_figures(session),
                    }
                )
            )
        if done is not None and done.stopped:
            return EXIT_INTERRUPTED
        return EXIT_OK
    finally:
        if session is not None and session.accounting is not None:
            session.accounting.detach()
        from ollm_tui.summariser import close_summary_models

        close_summary_models()
        engine.close()
        store.close()


def compress_after_reply(session: Any, cancel: Any) -> None:
    """Compress the saved chat when its budget is past the trigger (as the app does after a
    reply); notices go to stderr, a failure is a warning (the reply is saved already)."""
    from ollm_tui.session import CompressionFinished, CompressionStep

    try:
        if not session.needs_compression():
            return
        for event in session.compress(cancel, "auto"):
            if isinstance(event, CompressionStep):
                _err(f"note: compressing: {event.text}")
            elif isinstance(event, CompressionFinished) and event.error:
                _err(f"warning: compression failed: {event.error}")
    except Exception as exc:  # noqa: BLE001 - the reply is out already
        _err(f"warning: compression failed: {exc}")


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
        _err(f"warning: usage figures unavailable: {exc}")
    return out


def shared_accounting(engine: Any, settings: Settings, store: Any, model: Path) -> Any:
    """Token accounting on the engine's own model (nothing runs beside it in ``-p``), so
    ``fit`` counts long chats from the cache; None if the engine has no tokenizer to share."""
    from ollm_tui.accounting import Accounting

    accounting = Accounting(settings, store)
    try:
        accounting.attach(engine.counting_codec(shared=True), model)
    except Exception as exc:  # noqa: BLE001 - the engine still counts by itself
        _err(f"warning: token counting falls back to the engine: {exc}")
        return None
    return accounting


def context_figures(session: Any, n_ctx: int) -> dict[str, Any] | None:
    """Exact token figures of the chat after the turn (for ``--output json``).

    ``tokens`` is what the model is fed for the whole chat now (system prompt, every
    message, the reply opener); ``used`` is that minus the system prompt, against the
    ``budget`` (limit - system prompt - reply reserve). None, with a warning, if the
    tokenizer cannot be used.
    """
    accounting = session.accounting
    if accounting is None:
        return None
    try:
        history = session.engine_messages(session.history())
        measured = accounting.measure(history, n_ctx, session.settings.system_prompt)
    except Exception as exc:  # noqa: BLE001 - the reply is out already; the figures are extra
        _err(f"warning: token figures unavailable: {exc}")
        return None
    usage, budget = measured.usage, measured.usage.budget
    return {
        "tokens": measured.breakdown.total,
        "messages": len(history),
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


# -- the app -----------------------------------------------------------------------------


def cmd_app(settings: Settings) -> int:
    """Open the full-screen chat."""
    from ollm_tui.engine.base import EngineError
    from ollm_tui.engine.server_models import is_remote_entry, resolve_model
    from ollm_tui.logs import setup_logging
    from ollm_tui.store.db import Store, StoreError

    if not sys.stdout.isatty() or not sys.stdin.isatty():
        _err("the chat app needs a terminal; use `ollm -p TEXT` for scripts")
        return EXIT_USAGE
    setup_logging(settings.log_file)
    try:
        store = Store(settings.db_path)
    except StoreError as exc:
        _err(str(exc))
        return _store_exit(exc)
    model_path: Path | None = None
    startup_error: str | None = None
    engine, profile_errors = make_engine(settings, lazy=True)
    placement = None
    try:
        entry = resolve_model(settings, settings.model)
        model_path = entry.path
        chats = store.list_chats()  # the app opens the most recent chat
        if not is_remote_entry(entry):  # a server decides its own context
            placement = _placement(settings, entry, chats[0].settings if chats else None)
    except EngineError as exc:
        startup_error = str(exc)
    except ValueError as exc:  # TierError
        _err(str(exc))
        store.close()
        return EXIT_USAGE
    from ollm_tui.ui.app import make_app

    app = make_app(
        settings,
        store,
        engine,
        model_path,
        startup_error,
        placement.options if placement else settings.load_options(),
        profile_errors,
        placement,
    )
    try:
        app.run()
    finally:
        app.accounting.detach()  # saves the estimate calibration, frees the tokenizer
        from ollm_tui.summariser import close_summary_models

        close_summary_models()  # a separate summary_model, if one was loaded
        engine.close()
        store.close()
    return app.return_code or EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ollm`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        parser.print_usage(sys.stderr)
        _err(str(exc))
        return EXIT_USAGE
    if args.command is not None or args.prompt is not None:  # the app shows them as toasts
        for problem in settings.config_problems:
            _err(f"warning: {problem}")
    if args.command == "config":
        return cmd_config(settings, args.action)
    if args.command == "models":
        return cmd_models(settings, args.json)
    if args.command == "doctor":
        from ollm_tui.doctor import cmd_doctor

        return cmd_doctor(settings, args.json)
    if args.command == "export":
        return cmd_export(settings, args.chat, args.format, args.out)
    if args.prompt is not None:
        return cmd_prompt(settings, args)
    for flag in ("chat", "seed", "max_tokens"):
        if getattr(args, flag) is not None:
            _err(f"--{flag.replace('_', '-')} only works with -p")
            return EXIT_USAGE
    if args.output != "text":
        _err("--output only works with -p")
        return EXIT_USAGE
    return cmd_app(settings)


if __name__ == "__main__":
    sys.exit(main())
