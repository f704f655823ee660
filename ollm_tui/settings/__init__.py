"""Settings: built once (CLI or test factory) and passed down. Nothing reads globals later.

Defaults, then ``config.toml`` in the config dir (see :mod:`ollm_tui.settings.config_file`), then the
``OLLM_*`` environment overrides; the CLI applies its flags last.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ollm_tui.settings.config_file import config_path, read_config
from ollm_tui.settings.paths import APP_NAME, config_dir, data_dir, default_external_dirs, log_dir
from ollm_tui.settings.servers import ServerConfig, Timeouts
from ollm_tui.settings.values import (
    SettingsError,
    parse_bool,
    parse_context,
    parse_size,
    parse_threads,
    parse_tier_setting,
)

__all__ = [
    "APP_NAME",
    "DEFAULT_SYSTEM_PROMPT",
    "DEFAULT_THEME",
    "Settings",
    "SettingsError",
    "default_threads",
    "parse_bool",
    "parse_context",
    "parse_size",
    "parse_threads",
    "parse_tier_setting",
    "usable_cores",
]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and concisely."

DEFAULT_THEME = "ollm-dark"


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Decode threads when the user sets none: all usable cores but one, at most 8.

    Measured on a 2-core VM (SmolLM2-135M): 2 threads decode at 76 tok/s on a quiet
    machine but fall to 1.8 tok/s when another process keeps one core busy (the thread
    pool spins waiting for the descheduled worker); 1 thread holds 47 tok/s either way.
    Leaving one core free keeps the UI and the rest of the desktop responsive and avoids
    that collapse. Decode is memory-bound, so more than 8 threads rarely helps.
    """
    return max(1, min(usable_cores() - 1, 8))


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know before it starts."""

    data_dir: Path
    config_dir: Path
    log_dir: Path
    model: str | None = None  # name or path; None = the starter model
    model_dirs: tuple[Path, ...] = ()
    context_size: int = 4096  # used as is only when context_explicit (else the tier decides)
    context_explicit: bool = False  # --context / OLLM_CONTEXT given: it overrides the tier
    tier: int | None = None  # a context size picked with --tier; None = auto
    memory_budget: int | None = None  # bytes the memory planner may use (--memory-budget)
    memory_sample_s: float = 2.0  # how often the memory guard samples
    # other tools' model folders, (kind, root): "hf", "lmstudio", "ollama"; from_env fills them
    external_model_dirs: tuple[tuple[str, Path], ...] = ()
    n_threads: int = field(default_factory=default_threads)
    n_threads_batch: int = field(default_factory=default_threads)
    flash_attn: bool = True
    n_ubatch: int = 512
    """llama.cpp's micro-batch; the engine caps it at 128 for vocabularies over 100K tokens
    (the compute buffer is about n_ubatch x vocabulary x 4 bytes)."""
    temperature: float = 0.3  # small local models stay on topic better; --temperature changes it
    max_tokens: int = 1024
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    reply_reserve_tokens: int = 1024  # the reply reserve: this, or 25 % of the limit if smaller
    context_warn_percent: float = 70.0  # one warning per chat when the budget is this full
    # -- compression into checkpoints (CONTEXT-SPEC; see core/compression.py) --
    compress_percent: float = 80.0  # compress (after a reply) when the budget is this full
    emergency_percent: float = (
        95.0  # compress before the prompt when the new message takes it this full
    )
    snapshot_percent: float = 85.0  # snapshot the active context the first time it is this full
    kept_percent: float = 50.0  # newest messages kept verbatim: up to this share of the budget
    kept_min_turns: int = 2  # ...but at least this many turns
    snapshots_kept: int = 5  # snapshots kept per chat
    rollover_keep_messages: int = (
        4  # the emergency rollover keeps the summary and this many messages
    )
    summary_levels: tuple[tuple[int, int], ...] = ((50, 100), (150, 300), (300, 500))
    """Token ranges of checkpoint levels L1, L2, L3 (the upper bound is enforced)."""
    rolling_summary_tokens: int = 200  # tier 1's single rolling summary
    tier_checkpoints: tuple[int, ...] = (0, 1, 3, 10, 15)
    """Checkpoints kept by tiers 1-5 (0: one rolling summary)."""
    summary_budget_fraction: float = 0.15  # no summary takes more of the budget than this
    summary_retries: int = 1  # model attempts after the first before the extractive fallback
    echo_similarity: float = 0.6  # a summary this similar to its instruction is an echo
    summary_model: str | None = None  # a separate (smaller) summariser model; None = the loaded one
    warm_after_compression: bool = True  # evaluate the new prompt right after compressing
    theme: str = DEFAULT_THEME
    servers: tuple[ServerConfig, ...] = ()
    """OpenAI-compatible servers (``[[servers]]`` in the config file, ``--server``)."""
    server_connect_timeout_s: float = 5.0  # a server that does not accept by then is unreachable
    server_read_timeout_s: float = 60.0  # longest wait for a server's first byte or next chunk
    server_list_timeout_s: float = 3.0  # model lists, probes and token counts on a server
    kv_cache_max_bytes: int = 2 * 1024**3
    """Cap on the saved per-chat KV states (``kv/`` in the data dir); 0 turns them off."""
    keymap: Mapping[str, str] = field(default_factory=dict)
    """Binding id -> keys, from the ``[keymap]`` table of the config file."""
    config_problems: tuple[str, ...] = ()
    """What was wrong in the config file (each names the file, line and key); shown at start."""

    @property
    def db_path(self) -> Path:
        """The chat database."""
        return self.data_dir / "ollm.db"

    @property
    def log_file(self) -> Path:
        """Where llama.cpp and the app write their logs (never the terminal)."""
        return self.log_dir / "ollm.log"

    @property
    def kv_dir(self) -> Path:
        """Saved per-chat KV cache states (``engine.kv_state``)."""
        return self.data_dir / "kv"

    @property
    def user_models_dir(self) -> Path:
        """The data dir's ``models/`` folder, always searched for GGUF files."""
        return self.data_dir / "models"

    @property
    def user_profiles_dir(self) -> Path:
        """User model profiles (override the shipped ones)."""
        return self.config_dir / "profiles"

    @property
    def config_file(self) -> Path:
        """The settings file, ``config.toml`` in the config dir."""
        return self.config_dir / "config.toml"

    @property
    def user_themes_dir(self) -> Path:
        """User theme files (override the shipped ones of the same name)."""
        return self.config_dir / "themes"

    @property
    def export_dir(self) -> Path:
        """Where chats exported from the app are written."""
        return self.data_dir / "exports"

    def server_timeouts(self) -> Timeouts:
        """The timeouts of the remote engine."""
        return Timeouts(
            connect=self.server_connect_timeout_s,
            read=self.server_read_timeout_s,
            short=self.server_list_timeout_s,
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Defaults, platformdirs locations, ``config.toml``, and ``OLLM_*`` overrides.

        Problems in the config file do not raise: they are kept in ``config_problems`` and
        the keys concerned stay at their defaults. A bad environment value raises
        SettingsError naming the variable.
        """
        env = os.environ if environ is None else environ
        data, config, logs = data_dir(env), config_dir(env), log_dir(env)
        values, problems = read_config(config_path(config))
        settings = cls(data_dir=data, config_dir=config, log_dir=logs, **values)
        settings = settings.with_(config_problems=tuple(str(p) for p in problems))
        if "context_size" in values:  # a size set in the file overrides the tier, like --context
            settings = settings.with_(context_explicit=True)
        dirs = tuple(
            Path(p).expanduser() for p in env.get("OLLM_MODEL_DIRS", "").split(os.pathsep) if p
        )
        if dirs:
            settings = settings.with_(model_dirs=dirs)
        if env.get("OLLM_SCAN_EXTERNAL", "1").strip().lower() not in {"0", "off", "false", "no"}:
            settings = settings.with_(external_model_dirs=default_external_dirs(env, Path.home()))
        if env.get("OLLM_MODEL"):
            settings = settings.with_(model=env["OLLM_MODEL"])
        if env.get("OLLM_THREADS"):
            n = parse_threads(env["OLLM_THREADS"], "OLLM_THREADS")
            settings = settings.with_(n_threads=n, n_threads_batch=n)
        if env.get("OLLM_FLASH_ATTN"):
            settings = settings.with_(
                flash_attn=parse_bool(env["OLLM_FLASH_ATTN"], "OLLM_FLASH_ATTN")
            )
        if env.get("OLLM_CONTEXT"):
            settings = settings.with_(
                context_size=parse_context(env["OLLM_CONTEXT"], "OLLM_CONTEXT"),
                context_explicit=True,
            )
        if env.get("OLLM_TIER"):
            settings = settings.with_(tier=parse_tier_setting(env["OLLM_TIER"], "OLLM_TIER"))
        if env.get("OLLM_MEMORY_BUDGET"):
            budget = parse_size(env["OLLM_MEMORY_BUDGET"], "OLLM_MEMORY_BUDGET")
            settings = settings.with_(memory_budget=budget)
        return settings
