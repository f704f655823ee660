"""OpenAI-compatible servers as model sources: their configuration and how their models are named.

Plain data and parsing only (no HTTP here; ``engine.remote`` talks to the servers), so the
settings and the config file can use it without importing an HTTP client.

A model on a server is named ``MODEL@SERVER`` where the user types one (``--model``, the
``model`` key), e.g. ``llama3:8b@gpu-box``; ``@SERVER`` alone means the server's first model.
Inside the app, where models are identified by a path, a server model is the pseudo path
``remote:/SERVER/MODEL`` with MODEL percent-encoded (so ids such as ``/models/x.gguf`` or
``org/name`` survive ``pathlib``'s normalisation); ``parse_remote_path`` reads it back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

REMOTE_PREFIX = "remote:/"
"""How the pseudo path of a server model starts."""

SERVER_SOURCE = "server"
"""``ModelEntry.source`` of server models is ``"server NAME"``."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


class ServerConfigError(ValueError):
    """A ``[[servers]]`` entry (or ``--server``) cannot be used; the message says why."""


@dataclass(frozen=True)
class ServerConfig:
    """One OpenAI-compatible server: where it is, how to authenticate, which models to offer."""

    name: str
    url: str
    """Base URL without the ``/v1`` part, e.g. ``http://gpu-box:8080``."""
    api_key: str | None = field(default=None, repr=False)
    """The key itself (then the config file must be owner-only); never logged."""
    api_key_env: str | None = None
    """The environment variable holding the key (preferred over ``api_key``)."""
    models: tuple[str, ...] = ()
    """Model ids to offer; empty: every model the server lists."""
    context: int | None = None
    """Context window to assume when the server does not say (llama-cpp-python's does not)."""

    def key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The API key to send (from the environment variable first), or None."""
        env = os.environ if environ is None else environ
        if self.api_key_env and env.get(self.api_key_env):
            return env[self.api_key_env]
        return self.api_key

    @property
    def shown_url(self) -> str:
        """The URL without any ``user:password@`` part (for messages and the log)."""
        parts = urlsplit(self.url)
        if "@" not in parts.netloc:
            return self.url
        return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()

    def __str__(self) -> str:
        return f"{self.name} ({self.shown_url})"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: to connect, for the first byte and between chunks, for short calls."""

    connect: float = 5.0
    read: float = 60.0
    short: float = 3.0
    """Probes, model lists and tokenize calls (a dead server must not hold up the picker)."""


def normalise_url(url: str) -> str:
    """``url`` checked (http or https, a host) without a trailing ``/`` or ``/v1``."""
    text = url.strip().rstrip("/")
    text = text.removesuffix("/v1")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ServerConfigError(f"expected an http:// or https:// URL, got {url!r}")
    return text


def name_from_url(url: str) -> str:
    """A server name for a URL given on the command line: its host and port."""
    return urlsplit(normalise_url(url)).netloc


def parse_servers(value: object) -> tuple[ServerConfig, ...]:
    """The ``[[servers]]`` array of tables of ``config.toml`` (raises ServerConfigError)."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ServerConfigError("expected [[servers]] tables with name and url")
    out: list[ServerConfig] = []
    for index, table in enumerate(value, start=1):
        where = f"server {index}"
        unknown = set(table) - {"name", "url", "api_key", "api_key_env", "models", "context"}
        if unknown:
            raise ServerConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        name, url = table.get("name"), table.get("url")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ServerConfigError(
                f"{where}: name must be letters, digits, '.', '_', ':' or '-', got {name!r}"
            )
        if not isinstance(url, str):
            raise ServerConfigError(f"{where} ({name}): url is missing")
        models = table.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
            raise ServerConfigError(f"{where} ({name}): models must be a list of model ids")
        for key in ("api_key", "api_key_env"):
            if key in table and (not isinstance(table[key], str) or not table[key]):
                raise ServerConfigError(f"{where} ({name}): {key} must be a non-empty string")
        context = table.get("context")
        if context is not None and (
            isinstance(context, bool) or not isinstance(context, int) or context < 256
        ):
            raise ServerConfigError(f"{where} ({name}): context must be a token count >= 256")
        if any(s.name == name for s in out):
            raise ServerConfigError(f"{where}: a server is already called {name!r}")
        out.append(
            ServerConfig(
                name=name,
                url=normalise_url(url),
                api_key=table.get("api_key"),
                api_key_env=table.get("api_key_env"),
                models=tuple(models),
                context=context,
            )
        )
    return tuple(out)


def find_server(servers: Sequence[ServerConfig], name: str) -> ServerConfig | None:
    """The server called ``name`` (case-insensitive), or None."""
    return next((s for s in servers if s.name.lower() == name.lower()), None)


# -- naming server models ---------------------------------------------------------------


def remote_path(server: str, model: str) -> Path:
    """The pseudo path identifying ``model`` on ``server`` inside the app."""
    return Path(f"{REMOTE_PREFIX}{server}/{quote(model, safe='')}")


def parse_remote_path(path: Path | str | None) -> tuple[str, str] | None:
    """``(server, model)`` of a pseudo path made by ``remote_path``, else None."""
    text = str(path) if path is not None else ""
    if not text.startswith(REMOTE_PREFIX):
        return None
    server, _, model = text[len(REMOTE_PREFIX) :].partition("/")
    return server, unquote(model)


def is_remote(path: Path | str | None) -> bool:
    """True when ``path`` names a model on a server."""
    return parse_remote_path(path) is not None


def split_model_ref(ref: str, servers: Sequence[ServerConfig]) -> tuple[ServerConfig, str] | None:
    """``(server, model)`` when ``ref`` is ``MODEL@SERVER`` for a configured server
    (``model`` is empty for ``@SERVER``: the server's first model), else None."""
    model, at, name = ref.rpartition("@")
    if not at:
        return None
    server = find_server(servers, name.strip())
    return (server, model.strip()) if server is not None else None


def display_name(server: str, model: str) -> str:
    """How a server model is shown: the last part of its id, without ``.gguf``, and the server."""
    short = model.rstrip("/").rsplit("/", 1)[-1]
    if short.lower().endswith(".gguf"):
        short = short[:-5]
    return f"{short or model}@{server}"


def model_label(path: Path) -> str:
    """How a model path is shown: the file's stem, or ``MODEL@SERVER`` for a server model."""
    ref = parse_remote_path(path)
    if ref is None:
        return Path(path).stem
    return display_name(*ref) if ref[1] else f"@{ref[0]}"


def mode_too_open(path: Path) -> bool:
    """True when ``path`` can be read by its group or others (POSIX modes only)."""
    try:
        return os.name == "posix" and bool(path.stat().st_mode & 0o077)
    except OSError:
        return False
