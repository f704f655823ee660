"""The command line's flags: the parser, and the ``Settings`` they imply.

Nothing here imports the engine or the UI, so ``ollm --help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ollm_tui import __version__
from ollm_tui.settings import (
    Settings,
    SettingsError,
    parse_context,
    parse_size,
    parse_threads,
    parse_tier_setting,
)


def _version() -> str:
    from importlib import metadata

    try:
        llama = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        llama = "not installed"
    return f"ollm_tui {__version__} (llama-cpp-python {llama}, Python {sys.version.split()[0]})"


class _LazyVersion(argparse._VersionAction):
    """``--version``, worked out only when asked: importlib.metadata would cost every start
    (the app's first frame included) ~40 ms."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        self.version = _version()
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs consistency tests)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--model",
        "-m",
        metavar="NAME|PATH",
        help="model name (see `ollm models`) or path to a .gguf file",
    )
    common.add_argument(
        "--context",
        metavar="SIZE",
        help="exact context window in tokens, e.g. 4096 or 8k (overrides --tier)",
    )
    common.add_argument(
        "--tier",
        metavar="TIER",
        help="context tier: auto (default), 2k, 4k, 8k, 16k, 32k, 64k or 128k",
    )
    common.add_argument(
        "--memory-budget",
        metavar="SIZE",
        help="most memory the planner may use, e.g. 300MiB or 6GiB",
    )
    common.add_argument(
        "--threads", metavar="N", help="CPU threads for generation (default: usable cores - 1)"
    )
    common.add_argument(
        "--server",
        metavar="URL",
        help="use a model on this OpenAI-compatible server (--model names it; default: its first)",
    )
    common.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="with --server: the environment variable holding its API key",
    )

    parser = argparse.ArgumentParser(
        prog="ollm",
        description="Chat with local GGUF models in a full-screen terminal app.",
        parents=[common],
        epilog=(
            "Exit codes: 0 ok, 1 failure (e.g. a damaged chat database left as it is), "
            "2 bad arguments, 3 model problem, 4 generation failed, "
            "5 data or config folder unusable, 130 interrupted."
        ),
    )
    parser.add_argument("--version", action=_LazyVersion)
    parser.add_argument(
        "-p",
        "--prompt",
        metavar="TEXT",
        help="send one message, print the reply and exit ('-' reads stdin)",
    )
    parser.add_argument(
        "--output",
        choices=["text", "json"],
        default="text",
        help="with -p: plain reply text or a JSON object",
    )
    parser.add_argument(
        "--chat", metavar="NAME", help="with -p: continue (or start) the saved chat of this title"
    )
    parser.add_argument(
        "--max-tokens", type=int, metavar="N", help="with -p: longest reply in tokens"
    )
    parser.add_argument(
        "--temperature", type=float, metavar="T", help="sampling temperature (default 0.3)"
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", help="with -p: sampling seed, for repeatable replies"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    models = sub.add_parser("models", help="list the models ollm can find")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    # the planner's flags also after the command; SUPPRESS keeps values given before it
    planner = argparse.ArgumentParser(add_help=False)
    for flag in ("--context", "--tier", "--memory-budget"):
        planner.add_argument(flag, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    doctor = sub.add_parser(
        "doctor",
        parents=[planner],
        help="memory probes, build features, models and their tier plans",
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument(
        "--set-aside-db",
        action="store_true",
        help=(
            "rename a damaged chat database (and its -wal/-shm) to a dated name and start "
            "fresh; asks first"
        ),
    )
    doctor.add_argument(
        "--yes",
        action="store_true",
        help="with --set-aside-db: do not ask (needed without a terminal)",
    )
    config = sub.add_parser("config", help="where the settings file is, or the settings in effect")
    config.add_argument(
        "action",
        choices=["path", "show"],
        help="path: print the file's path; show: print every setting",
    )
    export = sub.add_parser("export", help="write a saved chat as Markdown or JSON")
    export.add_argument("chat", metavar="CHAT", help="the chat's title or id (see the chat list)")
    export.add_argument(
        "--format", choices=["md", "json"], default="md", help="md (default) or json"
    )
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Environment settings with the command line's overrides."""
    settings = Settings.from_env()
    if args.model:
        settings = settings.with_(model=args.model)
    if args.context:
        settings = settings.with_(
            context_size=parse_context(args.context, "--context"), context_explicit=True
        )
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
    from ollm_tui.settings.servers import (
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
