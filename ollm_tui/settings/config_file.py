"""``config.toml``: one table of keys, loading with clear errors, and small in-place edits.

Order of precedence: defaults < ``config.toml`` < ``OLLM_*`` environment < command-line flags.
A file that is not valid TOML is ignored as a whole; a key with a bad value is ignored on
its own; either way a :class:`ConfigProblem` names the file, the line and the key, and the
app starts on the defaults (the app shows a toast, the CLI prints to stderr).

To add a key, add one :class:`ConfigKey` to :data:`KEYS` (and a line to
``docs/configuration.md``; a test checks every key is documented).
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ollm_tui.core.folders import NOT_A_FOLDER, folder_error, os_reason
from ollm_tui.settings.servers import ServerConfigError, mode_too_open, parse_servers
from ollm_tui.settings.values import SettingsError, parse_context, parse_size

CONFIG_NAME = "config.toml"


class ConfigValueError(ValueError):
    """A value in the config file cannot be used (the message says why)."""


@dataclass(frozen=True)
class ConfigProblem:
    """Something wrong in the config file: where, which key, and why."""

    path: Path
    line: int | None
    key: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}" + (f", line {self.line}" if self.line else "")
        key = f", key {self.key!r}" if self.key else ""
        return f"{where}{key}: {self.reason}"


def _int(lo: int, hi: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigValueError(f"expected a whole number, got {value!r}")
        if not lo <= value <= hi:
            raise ConfigValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _float(lo: float, hi: float) -> Callable[[object], float]:
    def parse(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigValueError(f"expected a number, got {value!r}")
        if not lo <= value <= hi:
            raise ConfigValueError(f"must be between {lo} and {hi}, got {value}")
        return float(value)

    return parse


def _str(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigValueError(f"expected a non-empty string, got {value!r}")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigValueError(f"expected true or false, got {value!r}")
    return value


def _paths(value: object) -> tuple[Path, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigValueError(f"expected a list of folder paths, got {value!r}")
    return tuple(Path(v).expanduser() for v in value)


def _context(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigValueError(f'expected a size like 4096 or "8k", got {value!r}')
    try:
        return parse_context(str(value), "context_size")
    except SettingsError as exc:
        raise ConfigValueError(str(exc).split(": ", 1)[-1]) from None


def _bytes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigValueError(f'expected a size like "2GiB" or a number of bytes, got {value!r}')
    if value in (0, "0"):
        return 0
    if isinstance(value, int) and value < 0:
        raise ConfigValueError(f"must be 0 (off) or a size, got {value}")
    try:
        return parse_size(str(value), "kv_cache_max_bytes")
    except SettingsError as exc:
        if "below 16 MiB" in str(exc):
            raise ConfigValueError(f"must be 0 (off) or at least 16 MiB, got {value!r}") from None
        raise ConfigValueError(str(exc).split(": ", 1)[-1]) from None


def _keymap(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        raise ConfigValueError('expected a table of binding id = "keys"')
    return dict(value)


def _servers(value: object) -> tuple[Any, ...]:
    try:
        return parse_servers(value)
    except ServerConfigError as exc:
        raise ConfigValueError(str(exc)) from None


@dataclass(frozen=True)
class ConfigKey:
    """One key of ``config.toml``: where it goes in Settings, how it is checked, what it means."""

    name: str
    """The key in the file (``keymap`` is a table, the others top-level values)."""
    type: str
    """The TOML type, for the docs and ``ollm config show``."""
    fields: tuple[str, ...]
    """The Settings fields it sets."""
    parse: Callable[[object], Any]
    """Check and convert the value; raises ConfigValueError."""
    doc: str
    """One line for users."""
    env: str | None = None
    """The environment variable that overrides it, if any."""


KEYS: tuple[ConfigKey, ...] = (
    ConfigKey(
        "model", "string", ("model",), _str, "Model name or path to a .gguf file.", "OLLM_MODEL"
    ),
    ConfigKey(
        "model_dirs",
        "list of strings",
        ("model_dirs",),
        _paths,
        "Extra folders searched for .gguf files.",
        "OLLM_MODEL_DIRS",
    ),
    ConfigKey(
        "context_size",
        "integer or string",
        ("context_size",),
        _context,
        'Context window in tokens (256 to 1M; "8k" allowed).',
        "OLLM_CONTEXT",
    ),
    ConfigKey(
        "threads",
        "integer",
        ("n_threads", "n_threads_batch"),
        _int(1, 256),
        "CPU threads for generation.",
        "OLLM_THREADS",
    ),
    ConfigKey(
        "temperature", "float", ("temperature",), _float(0.0, 5.0), "Sampling temperature (0 to 5)."
    ),
    ConfigKey(
        "max_tokens", "integer", ("max_tokens",), _int(1, 1_000_000), "Longest reply in tokens."
    ),
    ConfigKey(
        "system_prompt", "string", ("system_prompt",), _str, "The system prompt of new turns."
    ),
    ConfigKey(
        "flash_attn",
        "boolean",
        ("flash_attn",),
        _bool,
        "Flash attention on or off.",
        "OLLM_FLASH_ATTN",
    ),
    ConfigKey(
        "n_ubatch",
        "integer",
        ("n_ubatch",),
        _int(32, 8192),
        "llama.cpp's micro-batch (capped at 128 for vocabularies over 100K).",
    ),
    ConfigKey(
        "kv_cache_max_bytes",
        "integer or string",
        ("kv_cache_max_bytes",),
        _bytes,
        'Disk cap for saved chat KV caches ("2GiB" default; 0 turns saving off).',
    ),
    ConfigKey(
        "compress_percent",
        "float",
        ("compress_percent",),
        _float(10.0, 99.0),
        "Compress old messages into a checkpoint when the budget is this full (percent).",
    ),
    ConfigKey(
        "kept_percent",
        "float",
        ("kept_percent",),
        _float(5.0, 90.0),
        "Share of the budget kept as verbatim recent messages when compressing (percent).",
    ),
    ConfigKey(
        "snapshots_kept", "integer", ("snapshots_kept",), _int(1, 100), "Snapshots kept per chat."
    ),
    ConfigKey(
        "summary_model",
        "string",
        ("summary_model",),
        _str,
        "A separate, smaller model (name or path) that writes the summaries.",
    ),
    ConfigKey("theme", "string", ("theme",), _str, "The theme's name (see the Themes page)."),
    ConfigKey("keymap", "table", ("keymap",), _keymap, 'Your key bindings: binding id = "keys".'),
    ConfigKey(
        "servers",
        "array of tables",
        ("servers",),
        _servers,
        "OpenAI-compatible servers: [[servers]] with name, url, api_key_env or api_key, "
        "models, context.",
    ),
    ConfigKey(
        "server_connect_timeout",
        "float",
        ("server_connect_timeout_s",),
        _float(0.1, 600.0),
        "Seconds to wait for a server to accept a connection.",
    ),
    ConfigKey(
        "server_read_timeout",
        "float",
        ("server_read_timeout_s",),
        _float(0.1, 3600.0),
        "Seconds to wait for a server's first byte of a reply, and between chunks.",
    ),
    ConfigKey(
        "server_list_timeout",
        "float",
        ("server_list_timeout_s",),
        _float(0.1, 600.0),
        "Seconds to wait for a server's model list, probes and token counts.",
    ),
)
"""Every key of ``config.toml``; the one place to add one."""

KEYS_BY_NAME: dict[str, ConfigKey] = {k.name: k for k in KEYS}


def config_path(config_dir: Path) -> Path:
    """The config file inside ``config_dir``."""
    return config_dir / CONFIG_NAME


def _line_of(text: str, key: str, table: str | None = None) -> int | None:
    """The 1-based line where ``key`` is set (inside ``[table]`` when given)."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[([^\[\]]+)\]", stripped)
        if header:
            current = header.group(1).strip()
            if table is None and current == key:
                return number
            continue
        if current == table and re.match(rf"^\"?{re.escape(key)}\"?\s*=", stripped):
            return number
    return None


def _file_in_the_way(folder: Path) -> Path:
    """The config folder, or the file that stands where it or a folder above it should be."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate
    return folder


def read_config(path: Path) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """The checked values of the file (Settings field -> value) and the problems found.

    A missing file is not a problem: it gives no values. Bad contents are problems (the
    keys concerned keep their defaults); a config folder or file that cannot be read at all
    (a file in the folder's place, permission denied, a folder named ``config.toml``)
    raises ``FolderError``: the CLI exits with code 5 rather than run without the user's
    settings.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except UnicodeDecodeError as exc:  # the contents are bad: a warning, as a bad value is
        return {}, [ConfigProblem(path, None, None, f"cannot be read ({exc})")]
    except OSError as exc:  # the folder or the file cannot be used: the settings would be lost
        reason = os_reason(exc)
        if reason == NOT_A_FOLDER:
            raise folder_error("config", _file_in_the_way(path.parent), reason) from None
        raise folder_error("config", path, reason, "the settings file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        return {}, [
            ConfigProblem(
                path, int(found.group(1)) if found else None, None, f"not valid TOML: {reason}"
            )
        ]
    values: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    for name, raw in data.items():
        key = KEYS_BY_NAME.get(name)
        if key is None:
            problems.append(
                ConfigProblem(path, _line_of(text, name), name, "unknown key (ignored)")
            )
            continue
        try:
            value = key.parse(raw)
        except ConfigValueError as exc:
            problems.append(
                ConfigProblem(path, _line_of(text, name), name, f"{exc} (using the default)")
            )
            continue
        for field_name in key.fields:
            values[field_name] = value
    if any(server.api_key for server in values.get("servers", ())) and mode_too_open(path):
        problems.append(
            ConfigProblem(
                path,
                _line_of(text, "api_key", "servers"),
                "servers",
                "holds an API key but other users can read the file: "
                f"run `chmod 600 {path}` (or use api_key_env)",
            )
        )
    return values, problems


def keymap_problems(
    path: Path, keymap: Mapping[str, str], known_ids: set[str]
) -> list[ConfigProblem]:
    """Entries of ``[keymap]`` that name no binding (checked by the UI, which knows the ids)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        text = ""
    return [
        ConfigProblem(
            path,
            _line_of(text, binding_id, "keymap"),
            f"keymap.{binding_id}",
            "no binding has this id (ignored)",
        )
        for binding_id in keymap
        if binding_id not in known_ids
    ]


# -- writing ------------------------------------------------------------------------------


def toml_value(value: object) -> str:
    """``value`` written as TOML (strings, numbers, booleans, lists, paths)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def set_value(path: Path, key: str, value: object | None, table: str | None = None) -> None:
    """Set (or with ``None`` remove) one key in the file, keeping everything else as written.

    ``table`` puts the key inside ``[table]`` (created at the end if missing). The file and
    its folder are created when needed; the write is atomic (a temporary file, then rename).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    new_line = None if value is None else f"{_toml_key(key)} = {toml_value(value)}"
    current: str | None = None
    table_start: int | None = None
    table_end = len(lines)
    first_table: int | None = None
    found: int | None = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        header = re.match(r"^\[([^\[\]]+)\]", stripped)
        if header:
            if first_table is None:
                first_table = index
            if current == table and table is not None and table_start is not None:
                table_end = index
            current = header.group(1).strip()
            if current == table:
                table_start = index
                table_end = len(lines)
            continue
        if current == table and re.match(rf"^\"?{re.escape(key)}\"?\s*=", stripped):
            found = index
    if found is not None:
        if new_line is None:
            del lines[found]
        else:
            lines[found] = new_line
    elif new_line is not None:
        if table is None:
            at = first_table if first_table is not None else len(lines)
            lines.insert(at, new_line)
        elif table_start is None:
            if lines and lines[-1].strip():
                lines.append("")
            lines += [f"[{table}]", new_line]
        else:
            at = table_end
            while at > table_start + 1 and not lines[at - 1].strip():
                at -= 1
            lines.insert(at, new_line)
    write_private_aware(path, "\n".join(lines) + "\n")


def holds_api_key(text: str) -> bool:
    """True when config text sets an ``api_key`` (the file must then be owner-only)."""
    return re.search(r"^\s*\"?api_key\"?\s*=", text, re.MULTILINE) is not None


def write_private_aware(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, keeping the file's permissions; a file that
    holds an API key is written owner-only (0600) whatever it had before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = None
    if holds_api_key(text):
        mode = 0o600
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    # a new file gets the usual 0666 minus the umask; an existing one keeps its mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def describe_settings(settings: object) -> str:
    """The effective value of every key, as a config file (for ``ollm config show``)."""
    out: list[str] = []
    keymap: Mapping[str, str] = {}
    for key in KEYS:
        value = getattr(settings, key.fields[0])
        if key.name == "keymap":
            keymap = value
            continue
        if key.name == "servers":
            continue  # written as [[servers]] tables at the end
        if value is None:
            out.append(f"# {key.name} is not set: {key.doc}")
            continue
        out.append(f"{key.name} = {toml_value(value)}")
    out.append("")
    out.append("[keymap]")
    out += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in sorted(keymap.items())]
    for server in getattr(settings, "servers", ()):
        out += [
            "",
            "[[servers]]",
            f"name = {toml_value(server.name)}",
            f"url = {toml_value(server.shown_url)}",
        ]
        if server.api_key_env:
            out.append(f"api_key_env = {toml_value(server.api_key_env)}")
        if server.api_key:
            out.append("# api_key is set (not shown)")
        if server.models:
            out.append(f"models = {toml_value(list(server.models))}")
        if server.context:
            out.append(f"context = {server.context}")
    return "\n".join(out) + "\n"
