"""Token counts for a model on a server: exact when the server can show it, else an estimate.

An exact count needs two things: the prompt text the server builds from the messages (its
chat template) and the server's tokenizer.

- The tokenizer: ``/extras/tokenize`` (llama-cpp-python's server) or ``/tokenize``
  (llama.cpp's server). Both add the model's BOS the way their chat endpoint does, so the
  BOS count is learnt by tokenizing an empty text and taken off every count.
- The template: ``chat_template`` in ``/props`` (llama.cpp's server), or the GGUF header of
  the model when the id the server lists is a file readable here (llama-cpp-python's server
  lists the path it was started with). We render it with the same Jinja code as the
  in-process engine (``core.chat_format``).

Then one tiny request (``max_tokens`` 1) checks the count against the ``prompt_tokens`` the
server reports for the same messages. Only a count that matches is called exact; otherwise
(no tokenizer, no template, or a mismatch) counts are estimates and the meter marks them
with ``~``. Ollama and vLLM therefore get estimates (Ollama has no tokenize endpoint;
vLLM's ``/tokenize`` is not used yet).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ollm_tui.core.chat_format import (
    FALLBACK_FORMAT,
    ChatFormat,
    ChatFormatError,
    NamedFormat,
    TemplateFormat,
)
from ollm_tui.core.gguf_info import GGUFError, read_gguf_info
from ollm_tui.core.token_estimate import raw_estimate
from ollm_tui.core.tokens import Message, locate_contents, split_prompt
from ollm_tui.engine.base import ChatMessage, EngineError
from ollm_tui.settings.servers import ServerConfig

log = logging.getLogger("ollm.tokens")

VERIFY_MESSAGES: list[Message] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hello!  Two spaces, a tab\tand\nnew lines. 東京 café 🙂"},
    {"role": "assistant", "content": "Hi. `code` and ```py\nx = 1\n```"},
    {"role": "user", "content": "Fine?"},
]
"""The conversation whose count is checked against the server's own figure."""

FINGERPRINT_TEXT = "The quick brown fox 0123456789 ½ naïve café 東京 🙂 def f(x):\n\treturn x**2"


_CONTROL_LIKE = re.compile(r"<\|[^<>|\s]{1,40}\|>|</?[A-Za-z_][A-Za-z0-9_]{0,30}>|\[/?INST\]")
"""Texts that look like control tokens (``<|im_start|>``, ``<start_of_turn>``, ``[INST]``)."""

_PROBE_TEXTS = ("ollmprobe0", "ollmprobe1", "ollmprobe2", "ollmprobe3", "ollmprobe4")


class ServerRequests(Protocol):
    """What the codec needs from the engine of a server model (``RemoteEngine`` has it)."""

    @property
    def props(self) -> dict[str, Any] | None:
        """The server's ``/props`` answer from the last load (llama.cpp's server), or None."""
        ...

    def request_json(self, path: str, body: Any, long: bool = False) -> Any | None:
        """POST ``body`` to ``path`` on the server in use (raises ``EngineError``)."""
        ...


class ServerCodec:
    """A ``PromptCodec`` for a server model: a chat format and a token counting function."""

    specials: tuple[str, ...] = ()
    """Control-token texts between messages (cut points); empty: whole prompts are counted."""

    def __init__(
        self,
        fmt: ChatFormat,
        count: Callable[[str], int],
        bos: int,
        fingerprint: str,
        exact: bool,
        how: str,
    ) -> None:
        self._format = fmt
        self._count = count
        self._bos = bos
        self._fingerprint = fingerprint
        self.exact = exact
        """True when counts were checked to equal the server's prompt tokens."""
        self._how = how
        self.ratio = 1.0
        """Estimates only: the server's reported prompt tokens per estimated token."""
        self._samples = 0

    @property
    def how(self) -> str:
        """How the counts are made, for the token statistics and the log."""
        if self.exact or not self._samples:
            return self._how
        return f"{self._how}, calibrated ×{self.ratio:.2f} by the server's own prompt counts"

    @how.setter
    def how(self, value: str) -> None:
        self._how = value

    @property
    def fingerprint(self) -> str:
        """Identifies the tokenizer (and the estimate) these counts come from; a calibrated
        estimate includes its ratio, so counts cached at another ratio are not reused."""
        if self.exact or self.ratio == 1.0:
            return self._fingerprint
        return f"{self._fingerprint}×{self.ratio:.2f}"

    def observe(self, messages: Sequence[Message] | Sequence[ChatMessage], reported: int) -> None:
        """Calibrate an estimate with the prompt tokens the server reported for ``messages``
        (a running average, kept to two decimals so cached counts stay reusable)."""
        if self.exact or reported <= 0:
            return
        text = self.render(messages)
        raw = self._count(text) if text else 0
        if raw <= 0:
            return
        sample = max(0.0, reported - self._bos) / raw
        ratio = sample if not self._samples else 0.7 * self.ratio + 0.3 * sample
        self._samples += 1
        self.ratio = round(min(4.0, max(0.25, ratio)), 2)

    @property
    def format_name(self) -> str:
        """The chat format's name."""
        return self._format.name

    def render(self, messages: Sequence[Message] | Sequence[ChatMessage]) -> str:
        """The prompt text (the server's template, or the fallback format for estimates)."""
        return self._format.render(messages).text  # type: ignore[arg-type]

    def count(self, text: str) -> int:
        """Tokens of ``text`` without BOS (an estimate is scaled by its calibration)."""
        if not text:
            return 0
        n = self._count(text)
        return n if self.exact or self.ratio == 1.0 else round(n * self.ratio)

    def bos_tokens(self, text: str) -> int:
        """BOS tokens the server adds in front of every prompt."""
        return self._bos

    def close(self) -> None:
        """Nothing to free: the tokenizer is the server's."""

    def find_specials(self) -> None:
        """Learn the template's control tokens, so prompts are counted (and cached) per
        message: texts in the template's framing that look like control tokens and are one
        token on the server, kept only if the parts of a test prompt add up to its count."""
        roles = ["system", "user", "assistant", "user", "assistant"]
        probe = [{"role": r, "content": t} for r, t in zip(roles, _PROBE_TEXTS, strict=True)]
        try:
            text = self.render(probe)
        except ChatFormatError:
            return
        for marker in _PROBE_TEXTS:
            text = text.replace(marker, "\n")
        found = [c for c in dict.fromkeys(_CONTROL_LIKE.findall(text)) if self.count(c) == 1]
        if not found:
            return
        self.specials = tuple(sorted(found, key=len, reverse=True))
        text = self.render(VERIFY_MESSAGES)
        spots = locate_contents(self.render, VERIFY_MESSAGES, text)
        spans = split_prompt(text, [m["content"] for m in VERIFY_MESSAGES], self.specials, spots)
        if sum(self.count(text[s.start : s.end]) for s in spans) != self.count(text):
            log.warning("prompt parts do not add up on the server: counting whole prompts")
            self.specials = ()


def _tokenizer(engine: ServerRequests, model: str) -> tuple[Callable[[str], int], str] | None:
    """A function giving the server's token count of a text (BOS included), and its name."""
    for path, body in (
        ("/extras/tokenize", lambda t: {"input": t, "model": model}),
        ("/tokenize", lambda t: {"content": t, "add_special": True}),
    ):
        try:
            answer = engine.request_json(path, body("x"))
        except EngineError:
            continue
        if isinstance(answer, dict) and isinstance(answer.get("tokens"), list):

            def count(text: str, path: str = path, body: Any = body) -> int:
                result = engine.request_json(path, body(text))
                if not isinstance(result, dict) or not isinstance(result.get("tokens"), list):
                    raise EngineError(f"{path} answered an unexpected shape")
                return len(result["tokens"])

            return count, path
    return None


def _token_text(engine: ServerRequests, model: str, token: int | None) -> str:
    if token is None or token < 0:
        return ""
    for path, body in (
        ("/extras/detokenize", {"tokens": [token], "model": model}),
        ("/detokenize", {"tokens": [token]}),
    ):
        try:
            answer = engine.request_json(path, body)
        except EngineError:
            continue
        if isinstance(answer, dict):
            text = answer.get("text", answer.get("content"))
            if isinstance(text, str):
                return text
    return ""


def _template(engine: ServerRequests, model: str) -> tuple[ChatFormat, str] | None:
    """The server's chat template as a format we can render, and where it came from."""
    props = engine.props or {}
    template = props.get("chat_template")
    if isinstance(template, str) and template.strip():
        bos, eos = str(props.get("bos_token") or ""), str(props.get("eos_token") or "")
        try:
            return TemplateFormat(template, bos, eos), "the template in /props"
        except ChatFormatError as exc:
            log.warning("the server's template does not parse: %s", exc)
    path = Path(model)
    if path.suffix.lower() == ".gguf" and path.is_file():
        try:
            info = read_gguf_info(path)
        except GGUFError:
            return None
        if info.chat_template:
            bos = _token_text(engine, model, info.bos_token_id)
            eos = _token_text(engine, model, info.eos_token_id)
            try:
                return TemplateFormat(info.chat_template, bos, eos), f"the template of {path.name}"
            except ChatFormatError:
                return None
    return None


def _server_prompt_tokens(engine: ServerRequests, model: str) -> int | None:
    body = {"model": model, "messages": VERIFY_MESSAGES, "max_tokens": 1, "temperature": 0.0}
    try:
        answer = engine.request_json("/v1/chat/completions", body, long=True)
    except EngineError as exc:
        log.warning("could not check token counts against the server: %s", exc)
        return None
    usage = answer.get("usage") if isinstance(answer, dict) else None
    value = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return value if isinstance(value, int) else None


def estimate_codec(why: str) -> ServerCodec:
    """Counts by the calibrated estimate (tiktoken), rendered in the fallback format."""
    return ServerCodec(
        NamedFormat(FALLBACK_FORMAT), raw_estimate, 0, "estimate:cl100k", False, f"estimate ({why})"
    )


def make_codec(engine: ServerRequests, server: ServerConfig, model: str) -> ServerCodec:
    """The best codec this server allows (see the module's docstring). Never raises for a
    server that cannot count: it gets the estimate."""
    tokenizer = _tokenizer(engine, model)
    if tokenizer is None:
        return estimate_codec(f"server {server.name} has no tokenize endpoint")
    count_with_bos, endpoint = tokenizer
    try:
        bos = count_with_bos("")
        fingerprint_ids = count_with_bos(FINGERPRINT_TEXT)
    except EngineError as exc:
        return estimate_codec(f"{endpoint} failed: {exc}")
    digest = hashlib.blake2b(
        f"{server.url}|{model}|{bos}|{fingerprint_ids}".encode(), digest_size=12
    ).hexdigest()

    def count(text: str) -> int:
        return count_with_bos(text) - bos

    found = _template(engine, model)
    if found is None:
        how = f"{endpoint} on the fallback format (the server's chat template is unknown)"
        return ServerCodec(
            NamedFormat(FALLBACK_FORMAT), count, bos, f"server:{digest}", False, f"estimate: {how}"
        )
    fmt, where = found
    codec = ServerCodec(fmt, count, bos, f"server:{digest}", False, "")
    codec.find_specials()
    text = codec.render(VERIFY_MESSAGES)
    ours = bos + codec.count(text)
    theirs = _server_prompt_tokens(engine, model)
    codec.exact = ours == theirs
    if codec.exact:
        codec.how = f"exact: {endpoint} on {where}"
    else:
        codec.how = f"estimate: {endpoint} on {where} (server said {theirs}, we count {ours})"
        log.warning("token counts for %s on %s are estimates: %s", model, server.name, codec.how)
    log.info("token counts for %s on server %s: %s", model, server.name, codec.how)
    return codec
