"""The in-process engine: llama-cpp-python running a GGUF model in this process.

Facts this module is built on (measured, see ENGINE-NOTES): llama.cpp is not thread-safe,
so one lock guards the model; ``verbose=False`` would dup2 the terminal's file
descriptors away and blank a running TUI, so we keep ``verbose=True`` during load with our
own log callback (llama.cpp's logs go to the log file) and then switch verbose off; a
long prefill is stopped with llama.cpp's abort callback; ``close()`` frees the model.

The engine renders prompts itself (``core.chat_format``) and feeds token lists, so the
prompt token count it reports is exactly what ``count_prompt_tokens`` returns.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import llama_cpp

if TYPE_CHECKING:
    from llama_cpp.llama_types import CreateCompletionStreamResponse

from ollm_tui.core.chat_format import ChatFormat, ChatFormatError, TemplateFormat
from ollm_tui.core.gguf_info import GGUFError, GGUFInfo, read_gguf_info
from ollm_tui.core.memory_plan import micro_batch
from ollm_tui.core.profiles import ProfileSet
from ollm_tui.engine.base import (
    Backend,
    CancelToken,
    ChatMessage,
    ContextOverflowError,
    Delta,
    Done,
    EngineError,
    GenerationError,
    GenParams,
    KvKey,
    LoadOptions,
    ModelInfo,
    ModelLoadError,
    StreamEvent,
)
from ollm_tui.engine.kv_state import model_fingerprint, text_hash
from ollm_tui.engine.llama.support import (
    choose_format,
    install_llama_logging,
    llama_log,
    log_lines,
    token_text,
)
from ollm_tui.engine.llama.tokenizer import LlamaCodec, load_codec

__all__ = ["LlamaEngine", "choose_format", "install_llama_logging"]

log = logging.getLogger("ollm.engine")


class LlamaEngine:
    """A GGUF model loaded in this process. One model at a time; not thread-safe by itself,
    so every call takes the engine's lock."""

    def __init__(self, profiles: ProfileSet | None = None) -> None:
        install_llama_logging()
        self.profiles = profiles or ProfileSet()
        self._lock = threading.RLock()
        self._llm: llama_cpp.Llama | None = None
        self._info: ModelInfo | None = None
        self._format: ChatFormat | None = None
        self._add_bos = False
        self._bos_text = ""
        self._cancel: CancelToken | None = None
        self._abort_cb: Any = None
        self._format_override: str | None = None
        self._kv_key: KvKey | None = None
        self._gguf: GGUFInfo | None = None

    # -- loading -------------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, or None."""
        return self._info

    @property
    def gguf(self) -> GGUFInfo | None:
        """The GGUF header of the model loaded last (kept after ``close``; the tier picker
        checks its path against the model in use)."""
        return self._gguf

    @property
    def context_source(self) -> str:
        """Empty: the context is what the tier planner chose (``info.n_ctx``)."""
        return ""

    @property
    def last_failure(self) -> EngineError | None:
        """Always None: a failed reply raises here; nothing is kept for later."""
        return None

    @property
    def remote_active(self) -> bool:
        """False: the model runs in this process."""
        return False

    def load(
        self, path: Path, options: LoadOptions, cancel: CancelToken | None = None
    ) -> ModelInfo:
        """Load ``path``, closing the current model first. Raises ``ModelLoadError``."""
        path = Path(path).expanduser()
        with self._lock:
            self.close()
            try:
                gguf = read_gguf_info(path)
            except GGUFError as exc:
                raise ModelLoadError(f"{path.name}: {exc}") from None
            start = time.perf_counter()
            # the plan and the engine agree on the micro-batch (smaller for large vocabularies)
            n_ubatch = micro_batch(gguf.vocab_size, options.n_ubatch)
            kwargs: dict[str, Any] = {
                "n_ctx": options.n_ctx,
                "n_batch": options.n_batch,
                "n_ubatch": n_ubatch,
                "n_threads": options.n_threads,
                "n_threads_batch": options.n_threads_batch,
                "n_gpu_layers": options.n_gpu_layers,
                "flash_attn": options.flash_attn,
                # verbose=False dup2's fds 1 and 2 away during load and blanks the TUI
                "verbose": True,
            }
            llm = self._construct(path, kwargs)
            llm.verbose = False  # no more prints from Python-side helpers
            self._llm = llm
            self._gguf = gguf
            self._format_override = options.chat_format
            self._bos_text = token_text(llm, llm.token_bos())
            eos_text = token_text(llm, llm.token_eos())
            try:
                self._format, note = choose_format(
                    gguf, self.profiles, options.chat_format, self._bos_text, eos_text
                )
            except ChatFormatError as exc:
                self.close()
                raise ModelLoadError(str(exc)) from None
            self._add_bos = bool(llm._model.add_bos_token()) and llm.token_bos() >= 0
            self._kv_key = self._make_kv_key(path, gguf, llm, kwargs)
            self._abort_cb = llama_cpp.ggml_abort_callback(self._should_abort)
            llama_cpp.llama_set_abort_callback(llm._ctx.ctx, self._abort_cb, None)
            seconds = time.perf_counter() - start
            self._info = ModelInfo(
                name=path.stem,
                path=path,
                n_ctx=llm.n_ctx(),
                n_ctx_train=llm._model.n_ctx_train(),
                chat_format=self._format.name,
                format_note=note,
                load_seconds=seconds,
            )
            log.info(
                "loaded %s in %.2fs: n_ctx=%d threads=%d/%d flash_attn=%s n_ubatch=%d format=%s %s",
                path,
                seconds,
                self._info.n_ctx,
                options.n_threads,
                options.n_threads_batch,
                options.flash_attn,
                n_ubatch,
                self._format.name,
                note,
            )
            return self._info

    def _construct(self, path: Path, kwargs: dict[str, Any]) -> llama_cpp.Llama:
        # verbose=True makes llama-cpp-python print a few lines to sys.stderr: keep them
        # out of the terminal (they go to the log).
        printed = io.StringIO()
        del log_lines[:]
        try:
            with contextlib.redirect_stderr(printed):
                try:
                    return llama_cpp.Llama(str(path), **kwargs)
                except (ValueError, RuntimeError) as exc:
                    if not kwargs.get("flash_attn"):
                        raise
                    log.warning("load with flash attention failed (%s); retrying without", exc)
                    return llama_cpp.Llama(str(path), **{**kwargs, "flash_attn": False})
        except (ValueError, RuntimeError, OSError) as exc:
            detail = next(
                (
                    line
                    for line in reversed(log_lines)
                    if "error" in line.lower() or "failed" in line.lower()
                ),
                "",
            )
            hint = f" ({detail.strip()})" if detail else ""
            raise ModelLoadError(
                f"llama.cpp could not load {path.name}: {exc}{hint}. The log has details."
            ) from None
        finally:
            if printed.getvalue().strip():
                llama_log.info(printed.getvalue().strip())

    def close(self) -> None:
        """Free the model (llama.cpp memory included). Safe to call twice."""
        with self._lock:
            if self._llm is not None:
                with contextlib.suppress(Exception):
                    llama_cpp.llama_set_abort_callback(
                        self._llm._ctx.ctx, llama_cpp.ggml_abort_callback(0), None
                    )
                self._llm.close()
                log.info("closed %s", self._info.path if self._info else "model")
            self._llm = None
            self._info = None
            self._format = None
            self._abort_cb = None
            self._kv_key = None

    def _make_kv_key(
        self, path: Path, gguf: GGUFInfo, llm: llama_cpp.Llama, kwargs: dict[str, Any]
    ) -> KvKey | None:
        """What a saved KV state of this model, context and format must match."""
        assert self._format is not None
        template = gguf.chat_template if isinstance(self._format, TemplateFormat) else ""
        params = llm.context_params
        layout = text_hash(
            llama_cpp.__version__,
            str(
                int(params.flash_attn_type)
                if hasattr(params, "flash_attn_type")
                else kwargs.get("flash_attn")
            ),
            str(params.type_k),
            str(params.type_v),
            str(kwargs.get("n_gpu_layers")),
        )
        try:
            fingerprint = model_fingerprint(path)
        except OSError:
            return None
        return KvKey(fingerprint, llm.n_ctx(), text_hash(self._format.name, template or ""), layout)

    # -- KV state ------------------------------------------------------------------------

    def kv_key(self) -> KvKey | None:
        """The key saved KV states of the loaded model must match (None: no model)."""
        return self._kv_key

    def cached_tokens(self) -> list[int]:
        """The tokens the KV cache holds now (what the next prompt can reuse)."""
        with self._lock:
            llm = self._require()
            return [int(t) for t in llm.input_ids[: llm.n_tokens]]

    def save_seq_state(self) -> tuple[list[int], bytes | ctypes.Array[ctypes.c_uint8]]:
        """The KV cache of sequence 0 (``llama_state_seq_get_data``) and its token list."""
        with self._lock:
            llm = self._require()
            ctx = llm._ctx.ctx
            tokens = llm.input_ids[: llm.n_tokens].tolist()
            if not tokens:
                return [], b""
            size = llama_cpp.llama_state_seq_get_size(ctx, 0)
            buf = (ctypes.c_uint8 * size)()
            got = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
            if got != size:
                raise GenerationError(f"llama.cpp copied {got} of {size} bytes of KV state")
            return tokens, buf

    def restore_seq_state(self, tokens: Sequence[int], data: bytes | bytearray) -> bool:
        """Load a state from :meth:`save_seq_state` into sequence 0; the next prompt then
        reuses ``tokens`` like a live cache. False (and an empty cache) when llama.cpp
        refuses the data."""
        with self._lock:
            llm = self._require()
            n = len(tokens)
            if not 0 < n <= llm.n_ctx():
                return False
            ctx = llm._ctx.ctx
            llm._ctx.kv_cache_seq_rm(0, 0, -1)
            buf = (
                (ctypes.c_uint8 * len(data)).from_buffer(data)
                if isinstance(data, bytearray)
                else ((ctypes.c_uint8 * len(data)).from_buffer_copy(data))
            )
            got = llama_cpp.llama_state_seq_set_data(ctx, buf, len(data), 0)
            if got != len(data):
                llm._ctx.kv_cache_seq_rm(0, 0, -1)
                llm.n_tokens = 0
                llm._requires_eval = True
                log.warning("llama.cpp refused a KV state (%d of %d bytes read)", got, len(data))
                return False
            llm.input_ids[:n] = tokens
            llm.n_tokens = n
            llm._requires_eval = True  # no logits yet: the next prompt evaluates one token at least
            return True

    # -- prompts and tokens --------------------------------------------------------------

    def _require(self) -> llama_cpp.Llama:
        if self._llm is None or self._format is None:
            raise GenerationError("no model is loaded")
        return self._llm

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        """The exact token list fed for ``messages``, and the reply's stop strings."""
        with self._lock:
            llm = self._require()
            assert self._format is not None
            try:
                rendered = self._format.render(messages)  # type: ignore[arg-type]
            except ChatFormatError as exc:
                raise GenerationError(str(exc)) from None
            add_bos = self._add_bos and not (
                self._bos_text and rendered.text.startswith(self._bos_text)
            )
            tokens = llm.tokenize(rendered.text.encode("utf-8"), add_bos=add_bos, special=True)
            return tokens, rendered.stop

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Exact number of prompt tokens ``stream`` feeds for ``messages``."""
        return len(self.prompt_tokens(messages)[0])

    def counting_codec(self, shared: bool = False) -> LlamaCodec:
        """A ``PromptCodec`` for exact counts of the loaded model's prompts.

        By default it loads the model's vocabulary a second time (no weights), so counting
        never waits for this engine's lock; ``shared`` uses this engine's model under its
        lock instead (for ``ollm -p``, where nothing runs beside the engine).
        """
        with self._lock:
            llm = self._require()
            assert self._format is not None and self._info is not None
            if shared:
                return LlamaCodec(llm, self._format, lock=self._lock, owned=False)
            path, override = self._info.path, self._format_override
        return load_codec(path, self.profiles, override)

    def tokenize(self, text: str) -> list[int]:
        """Plain text to tokens (no special tokens, no BOS)."""
        with self._lock:
            return self._require().tokenize(text.encode("utf-8"), add_bos=False, special=False)

    # -- generation ----------------------------------------------------------------------

    def _use_abort(self, llm: llama_cpp.Llama, on: bool) -> None:
        """Install llama.cpp's abort callback for a prefill, or take it off for decoding.

        ggml calls it for every graph node, through ctypes, taking the GIL each time: it
        cost about 3 % of decode speed (51.8 against 53.3 tok/s, 6 alternated runs on the
        starter model) and competes with the UI thread. Decoding is stopped by the stopping
        criterion between tokens instead, so the callback is only on until the first token.
        """
        callback = self._abort_cb if on else llama_cpp.ggml_abort_callback(0)
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, callback, None)

    def _should_abort(self, _data: Any) -> bool:
        cancel = self._cancel
        return bool(cancel is not None and cancel.cancelled)

    def _reusable_prefix(self, llm: llama_cpp.Llama, tokens: list[int]) -> int:
        """How many leading prompt tokens llama-cpp-python will reuse from its KV cache
        (mirrors ``Llama.generate``'s prefix logic)."""
        n = llm.n_tokens
        if n == 0:
            return 0
        cached = llm.input_ids[:n].tolist()
        common = 0
        for a, b in zip(cached, tokens, strict=False):  # the shorter one ends the prefix
            if a != b:
                break
            common += 1
        return common - 1 if common == len(tokens) else common

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        """Stream a reply: ``Delta`` events, then one ``Done``. Stops within a fraction of
        a second of ``cancel`` in prefill (abort callback) and in decode (stop criterion)."""
        with self._lock:
            llm = self._require()
            tokens, stop = self.prompt_tokens(messages)
            n_ctx = llm.n_ctx()
            if len(tokens) >= n_ctx:
                raise ContextOverflowError(
                    f"the prompt needs {len(tokens)} tokens but the context holds {n_ctx}"
                )
            max_tokens = max(1, min(params.max_tokens, n_ctx - len(tokens)))
            evaluated = len(tokens) - self._reusable_prefix(llm, tokens)
            sampled = [0]

            def count_and_check(_ids: Any, _logits: Any) -> bool:
                sampled[0] += 1
                return cancel.cancelled

            start = time.perf_counter()
            first: float | None = None
            finish = "length"
            self._cancel = cancel
            try:
                if cancel.cancelled:
                    finish = "cancelled"
                else:
                    self._use_abort(llm, True)  # a long prefill can be stopped
                    chunks = llm.create_completion(
                        prompt=tokens,
                        max_tokens=max_tokens,
                        temperature=params.temperature,
                        top_p=params.top_p,
                        top_k=params.top_k,
                        repeat_penalty=params.repeat_penalty,
                        seed=params.seed,
                        stop=list(stop),
                        stream=True,
                        stopping_criteria=llama_cpp.StoppingCriteriaList([count_and_check]),
                    )
                    for chunk in cast("Iterator[CreateCompletionStreamResponse]", chunks):
                        choice = chunk["choices"][0]
                        text = choice.get("text") or ""
                        if text:
                            if first is None:
                                first = time.perf_counter()
                                self._use_abort(llm, False)  # decoding: the criterion stops it
                            yield Delta(text)
                        reason = choice.get("finish_reason")
                        if reason:
                            finish = reason
                        if cancel.cancelled:
                            break
                    if cancel.cancelled:
                        finish = "cancelled"
            except RuntimeError as exc:
                if not cancel.cancelled:
                    raise GenerationError(f"llama.cpp failed while generating: {exc}") from None
                finish = "cancelled"  # the abort callback stopped a prefill
                llm.n_tokens = min(llm.n_tokens, len(tokens))
            except ValueError as exc:
                if "context window" in str(exc):
                    raise ContextOverflowError(str(exc)) from None
                raise GenerationError(str(exc)) from None
            finally:
                self._cancel = None
            end = time.perf_counter()
            # tokens the model produced, the end-of-turn token included
            completion = min(sampled[0], max_tokens)
            decode_s = end - first if first is not None else 0.0
            yield Done(
                prompt_tokens=len(tokens),
                completion_tokens=completion,
                ttft_s=(first - start) if first is not None else end - start,
                tokens_per_s=(completion - 1) / decode_s
                if completion > 1 and decode_s > 0
                else 0.0,
                total_s=end - start,
                finish_reason=finish if finish in ("stop", "length", "cancelled") else "stop",  # type: ignore[arg-type]
                evaluated_prompt_tokens=evaluated,
            )


_: type[Backend] = LlamaEngine  # mypy checks that the engine satisfies the protocol
