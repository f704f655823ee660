"""Server models as ``ModelEntry`` rows beside the local files, and what a model name means.

``server_entries`` asks every configured server for its models at once (one thread each,
the short timeout), so a dead server costs the picker a few seconds at most and shows as
one unusable row saying why. ``resolve_model`` is ``registry.resolve`` that also knows
``MODEL@SERVER`` names and ``remote:/`` paths.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ollm_tui.engine.base import EngineError
from ollm_tui.engine.registry import ModelEntry, ModelNotFound, resolve
from ollm_tui.settings import Settings
from ollm_tui.settings.servers import (
    SERVER_SOURCE,
    ServerConfig,
    Timeouts,
    display_name,
    find_server,
    parse_remote_path,
    remote_path,
    split_model_ref,
)


def remote_entry(server: ServerConfig, model: str, context: int | None = None) -> ModelEntry:
    """The entry of ``model`` on ``server`` (an empty ``model``: the server's first one)."""
    name = display_name(server.name, model) if model else f"@{server.name}"
    note = f"on server {server.name}" + (f" · context {context}" if context else "")
    return ModelEntry(
        name, remote_path(server.name, model), 0, f"{SERVER_SOURCE} {server.name}", None, None, note
    )


def is_remote_entry(entry: ModelEntry) -> bool:
    """True for a model on a server."""
    return entry.source.startswith(f"{SERVER_SOURCE} ")


def _one_server(server: ServerConfig, timeouts: Timeouts) -> list[ModelEntry]:
    # imported here: httpx costs the app's first frame ~30 ms, and resolving a name needs none
    from ollm_tui.engine.remote.http import RemoteError, list_models

    try:
        models = list_models(server, timeouts)
    except RemoteError as exc:
        reason = f"server unavailable: {exc}"
        return [
            ModelEntry(
                f"@{server.name}",
                remote_path(server.name, ""),
                0,
                f"{SERVER_SOURCE} {server.name}",
                None,
                reason,
            )
        ]
    return [remote_entry(server, m["id"], m.get("max_model_len")) for m in models]


def server_entries(settings: Settings) -> list[ModelEntry]:
    """Every model of every configured server, in config order (blocking: a worker's job).

    Never raises: an unreachable server gives one unusable entry with the reason.
    """
    servers = settings.servers
    if not servers:
        return []
    timeouts = settings.server_timeouts()
    with ThreadPoolExecutor(max_workers=min(8, len(servers))) as pool:
        found = list(pool.map(lambda s: _one_server(s, timeouts), servers))
    return [entry for entries in found for entry in entries]


def resolve_model(settings: Settings, ref: str | None) -> ModelEntry:
    """What ``ref`` means: ``MODEL@SERVER``, a ``remote:/`` path, or a local model
    (``registry.resolve``). Server models are not contacted here (loading checks them)."""
    if ref:
        split = split_model_ref(ref.strip(), settings.servers)
        if split is not None:
            return remote_entry(*split)
        parsed = parse_remote_path(ref)
        if parsed is not None:
            server = find_server(settings.servers, parsed[0])
            if server is None:
                raise ModelNotFound(f"no server is called {parsed[0]!r} any more")
            return remote_entry(server, parsed[1])
        if "@" in ref and not ref.startswith(("/", "~", ".")):
            name = ref.rpartition("@")[2]
            names = ", ".join(s.name for s in settings.servers) or "none are configured"
            try:
                return resolve(settings, ref)
            except EngineError:
                raise ModelNotFound(
                    f"no server is called {name!r} (servers: {names}; see docs/remote.md)"
                ) from None
    return resolve(settings, ref)
