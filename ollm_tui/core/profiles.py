"""Model profiles: per-family facts that GGUF metadata does not carry.

A profile is a TOML file (``profiles/*.toml`` shipped with the app, plus the user's
``<config dir>/profiles/*.toml``, which override shipped files of the same name). It is
matched against a model's GGUF metadata. See ``docs/profiles.md`` for the format.

    name = "Gemma 3"
    [match]
    architecture = ["gemma3"]          # general.architecture, any of
    name_contains = ["gemma-3"]        # optional: general.name or the file name, lower-case
    [chat]
    format = "gemma"                   # named format when the GGUF has no chat template
    override_template = false          # true: use `format` even if the GGUF has a template
    tools = false                      # optional: the model can call tools
    [context]                          # optional
    effective = 0.85                   # share of each size sent to the engine as n_ctx
    limits = { "4K" = 3328 }           # optional: exact effective limits per size

A broken file is reported (file and error) and skipped; the others still load.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ollm_tui.core.chat_format import NAMED_FORMATS
from ollm_tui.core.gguf_info import GGUFInfo


@dataclass(frozen=True)
class Profile:
    """One model family's profile."""

    name: str
    source: Path
    architectures: tuple[str, ...] = ()
    name_contains: tuple[str, ...] = ()
    chat_format: str | None = None
    override_template: bool = False
    tools: bool = False
    context_fraction: float | None = None
    context_limits: tuple[tuple[int, int], ...] = ()  # (size, effective limit) pairs

    def matches(self, architecture: str, names: Iterable[str]) -> int:
        """0 when it does not match, else a score: higher is more specific."""
        lowered = [n.lower() for n in names if n]
        arch_ok = not self.architectures or architecture in self.architectures
        if not arch_ok:
            return 0
        if self.name_contains:
            if not any(s in n for s in self.name_contains for n in lowered):
                return 0
            return 2
        return 1 if self.architectures else 0


@dataclass
class ProfileSet:
    """Loaded profiles plus the errors met while loading them."""

    profiles: list[Profile] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def match(self, architecture: str, names: Iterable[str]) -> Profile | None:
        """The most specific profile for a model, or None."""
        names = list(names)
        best, best_score = None, 0
        for p in self.profiles:
            score = p.matches(architecture, names)
            if score > best_score:
                best, best_score = p, score
        return best


def parse_profile(path: Path) -> Profile:
    """Read one profile file; ValueError with a readable reason if it is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read it: {exc}") from None
    match = data.get("match", {})
    chat = data.get("chat", {})
    if not isinstance(match, dict) or not isinstance(chat, dict):
        raise ValueError("[match] and [chat] must be tables")

    def strings(key: str) -> tuple[str, ...]:
        value = match.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"match.{key} must be a list of strings")
        return tuple(v.lower() for v in value)

    fmt = chat.get("format")
    if fmt is not None and fmt not in NAMED_FORMATS:
        known = ", ".join(sorted(NAMED_FORMATS))
        raise ValueError(f"chat.format {fmt!r} is not a known format ({known})")
    override = chat.get("override_template", False)
    if not isinstance(override, bool):
        raise ValueError("chat.override_template must be true or false")
    tools = chat.get("tools", False)
    if not isinstance(tools, bool):
        raise ValueError("chat.tools must be true or false")
    fraction, limits = _context(data.get("context", {}))
    profile = Profile(
        name=str(data.get("name", path.stem)),
        tools=tools,
        context_fraction=fraction,
        context_limits=limits,
        source=path,
        architectures=strings("architecture"),
        name_contains=strings("name_contains"),
        chat_format=fmt,
        override_template=override,
    )
    if not profile.architectures and not profile.name_contains:
        raise ValueError("[match] needs architecture or name_contains")
    return profile


def _context(table: object) -> tuple[float | None, tuple[tuple[int, int], ...]]:
    """The optional [context] table: ``effective`` share and per-size ``limits``."""
    if not isinstance(table, dict):
        raise ValueError("[context] must be a table")
    fraction = table.get("effective")
    if fraction is not None and (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not 0.1 <= fraction <= 1.0
    ):
        raise ValueError("context.effective must be a number between 0.1 and 1.0")
    limits = table.get("limits", {})
    if not isinstance(limits, dict):
        raise ValueError('context.limits must be a table like { "4K" = 3328 }')
    pairs = []
    for key, value in limits.items():
        text = str(key).strip().lower()
        try:
            size = int(text[:-1]) * 1024 if text.endswith("k") else int(text)
        except ValueError:
            raise ValueError(f"context.limits: {key!r} is not a size like 4K") from None
        if isinstance(value, bool) or not isinstance(value, int) or not 256 <= value <= size:
            raise ValueError(f"context.limits.{key}: expected a whole number from 256 to {size}")
        pairs.append((size, value))
    return (float(fraction) if fraction is not None else None), tuple(sorted(pairs))


def load_profiles(dirs: Iterable[Path]) -> ProfileSet:
    """Profiles from ``dirs`` in order; a later dir's file overrides an earlier one's."""
    by_name: dict[str, Profile] = {}
    result = ProfileSet()
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                by_name[path.name] = parse_profile(path)
            except ValueError as exc:
                result.errors.append(f"profile {path}: {exc}")
    result.profiles = list(by_name.values())
    return result


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text.lower()).strip("-")


def computed_profile_text(info: GGUFInfo, limits: Iterable[tuple[int, int]]) -> str:
    """A profile for a model no profile matches, computed from its GGUF metadata."""
    stem = _slug(
        info.path.name[:-5] if info.path.name.lower().endswith(".gguf") else info.path.name
    )
    lines = [
        f"# Computed by ollm from the GGUF metadata of {info.path.name}.",
        "# Edit it freely: ollm never overwrites a file that exists.",
        f"name = {_toml_str(info.name or stem)}",
        "",
        "[match]",
        f"architecture = [{_toml_str(info.architecture)}]",
        f"name_contains = [{_toml_str(stem)}]",
        "",
        "[chat]",
    ]
    if not info.has_chat_template:
        lines.append('format = "chatml"  # the file has no chat template: a guess, change it')
    lines += ["tools = false", "", "[context]", "effective = 0.85"]
    pairs = ", ".join(f'"{size // 1024}K" = {limit}' for size, limit in limits)
    if pairs:
        lines.append(f"limits = {{ {pairs} }}")
    return "\n".join(lines) + "\n"


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def save_computed_profile(folder: Path, info: GGUFInfo, limits: Iterable[tuple[int, int]]) -> Path:
    """Write the computed profile for ``info`` into ``folder`` (kept if it exists); its path.

    Raises OSError when the folder cannot be written.
    """
    stem = _slug(info.path.stem)
    path = folder / f"auto-{stem}.toml"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".toml.part")
        tmp.write_text(computed_profile_text(info, limits), encoding="utf-8")
        tmp.replace(path)
    return path
