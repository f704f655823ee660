"""The checks every ``Backend`` passes: the fake, the llama engine, the remote engine, the proxies.

``tests/unit/test_backend_conformance.py`` runs them without a model (the fake engine, and
the remote engine against ``tests/fake_server.py``); ``tests/integration/
test_backend_conformance_real.py`` runs the same checks on the starter model in process and
on llama-cpp-python's server. A member added to the protocol is checked everywhere at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from ollm_tui.core.gguf_info import GGUFInfo
from ollm_tui.engine.base import (
    Backend,
    CancelToken,
    ChatMessage,
    Delta,
    Done,
    EngineError,
    GenParams,
    KvKey,
    LoadOptions,
    ModelInfo,
)

MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello in three words."},
]

PARAMS = GenParams(temperature=0.0, max_tokens=8, seed=1)


def protocol_members() -> list[str]:
    """The public members of ``Backend``."""
    return sorted(n for n in vars(Backend) if not n.startswith("_"))


def _parameters(fn: Callable[..., object]) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def check_members(engine: object) -> None:
    """Every protocol member exists on ``engine``: methods with the protocol's parameters
    (names, kinds, defaults), properties as readable values, nothing via ``__getattr__``."""
    cls = type(engine)
    assert "__getattr__" not in {n for k in cls.__mro__ for n in vars(k)}, cls
    for name in protocol_members():
        spec = vars(Backend)[name]
        if isinstance(spec, property):
            member = inspect.getattr_static(engine, name)  # no dynamic look-ups
            assert not callable(member) or isinstance(member, property), (cls, name)
            continue
        member = inspect.getattr_static(engine, name)
        assert callable(member), (cls, name)
        assert _parameters(getattr(engine, name)) == _parameters(getattr(Backend, name))[1:], (
            cls,
            name,
            inspect.signature(getattr(engine, name)),
        )


def check_facts_before_load(engine: Backend) -> None:
    """A fresh engine has no model and says so."""
    assert engine.info is None
    assert isinstance(engine.context_source, str)
    assert engine.last_failure is None
    assert isinstance(engine.remote_active, bool)
    assert engine.kv_key() is None


def check_loaded(engine: Backend, path: Path, options: LoadOptions) -> ModelInfo:
    """Load ``path``; the answers about the model agree with each other."""
    info = engine.load(path, options)
    assert isinstance(info, ModelInfo) and engine.info == info
    assert info.n_ctx > 0 and isinstance(info.chat_format, str)
    gguf = engine.gguf
    assert gguf is None or (isinstance(gguf, GGUFInfo) and gguf.path == info.path)
    assert isinstance(engine.context_source, str)
    assert isinstance(engine.remote_active, bool)
    return info


def check_stream(engine: Backend) -> Done:
    """Delta events, then exactly one Done, last; a good reply leaves no failure behind."""
    events = list(engine.stream(MESSAGES, PARAMS, CancelToken()))
    assert events and isinstance(events[-1], Done)
    assert all(isinstance(e, Delta) and isinstance(e.text, str) for e in events[:-1])
    done = events[-1]
    assert done.prompt_tokens > 0 and done.completion_tokens >= 0
    assert done.finish_reason in ("stop", "length") and not done.stopped
    assert engine.last_failure is None
    cancel = CancelToken()
    cancel.cancel()
    stopped = list(engine.stream(MESSAGES, PARAMS, cancel))
    assert isinstance(stopped[-1], Done) and stopped[-1].stopped
    assert sum(isinstance(e, Done) for e in stopped) == 1
    return done


def check_tokens(engine: Backend, done: Done) -> None:
    """count_prompt_tokens, the counting codec (both kinds) and tokenize agree."""
    count = engine.count_prompt_tokens(MESSAGES)
    assert isinstance(count, int) and count > 0
    for shared in (False, True):
        codec = engine.counting_codec(shared)
        try:
            assert isinstance(codec.fingerprint, str) and codec.fingerprint
            assert isinstance(codec.specials, tuple)
            assert isinstance(codec.exact, bool) and isinstance(codec.how, str)
            text = codec.render(MESSAGES)
            assert isinstance(text, str) and text
            assert codec.bos_tokens(text) + codec.count(text) == count
            if codec.exact:
                assert done.prompt_tokens == count
        finally:
            codec.close()
            codec.close()  # twice is safe
    engine.counting_codec().close()  # the default argument works too
    tokens = engine.tokenize("Hello there, world.")
    assert tokens is None or (tokens and all(isinstance(t, int) for t in tokens))


def check_kv_hooks(engine: Backend) -> None:
    """With a key, the hooks round-trip a state; without one they answer 'nothing here'."""
    key = engine.kv_key()
    if key is None:
        assert engine.cached_tokens() == []
        tokens, data = engine.save_seq_state()
        assert tokens == [] and len(memoryview(data).cast("B")) == 0
        assert engine.restore_seq_state([1, 2, 3], b"not a state") is False
        return
    assert isinstance(key, KvKey)
    prompt, stop = engine.prompt_tokens(MESSAGES)
    assert len(prompt) == engine.count_prompt_tokens(MESSAGES) and isinstance(stop, tuple)
    cached = engine.cached_tokens()
    assert isinstance(cached, list) and all(isinstance(t, int) for t in cached)
    tokens, data = engine.save_seq_state()
    assert tokens == cached
    if tokens:
        assert engine.restore_seq_state(tokens, bytearray(memoryview(data).cast("B")))
        assert engine.cached_tokens() == tokens


def check_close(engine: Backend) -> None:
    """Close frees the model; closing twice is safe."""
    engine.close()
    assert engine.info is None
    engine.close()
    assert engine.info is None
    try:
        engine.counting_codec()
    except EngineError:
        pass  # no model: a clear engine error, not an AttributeError
    else:  # pragma: no cover - every engine refuses
        raise AssertionError("counting_codec worked without a model")


def check_backend(engine: Backend, path: Path, options: LoadOptions) -> None:
    """All of the above, in order, on a fresh ``engine``."""
    check_members(engine)
    check_facts_before_load(engine)
    check_loaded(engine, path, options)
    done = check_stream(engine)
    check_tokens(engine, done)
    check_kv_hooks(engine)
    if engine.remote_active:
        assert engine.gguf is None and engine.context_source  # the server's context
    check_close(engine)
