"""Token accounting without a model: prompt splitting, the cache, persistence, the budget.

The exactness of real counts is proven on the real models in
``tests/integration/test_tokens_real.py``; here a small rule-based tokenizer stands in so
the cache and split logic can be checked fast and exhaustively.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ollm_tui.core.budget import Usage, band_of, make_budget, reply_reserve
from ollm_tui.core.token_cache import TokenCache, content_hash
from ollm_tui.core.token_estimate import Calibration, raw_estimate, text_kind
from ollm_tui.core.tokens import ExactCodec, TokenCounter, split_prompt
from ollm_tui.session.accounting import Accounting
from ollm_tui.settings import Settings
from ollm_tui.store.db import SCHEMA_VERSION, Store
from ollm_tui.store.token_counts import TokenCountTable, cache_figures

SPECIALS = ("<s>", "</s>")
_PIECE = re.compile(r"<s>|</s>|\w+|[^\w\s]|\s+")


class RuleCodec(ExactCodec):
    """Tokens: each special, each word, each punctuation mark, each run of blanks."""

    def __init__(self, fingerprint: str = "rule", specials: tuple[str, ...] = SPECIALS) -> None:
        self.fingerprint = fingerprint
        self.specials = specials
        self.calls = 0
        self.counted: list[str] = []

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        body = "".join(f"<s>{m['role']}\n{m['content']}</s>\n" for m in messages)
        return body + "<s>assistant\n"

    def count(self, text: str) -> int:
        self.calls += 1
        self.counted.append(text)
        return len(_PIECE.findall(text))

    def bos_tokens(self, text: str) -> int:
        return 1


def convo(*texts: str, system: str = "Be brief.") -> list[dict[str, str]]:
    out = [{"role": "system", "content": system}] if system else []
    roles = ["user", "assistant"]
    out += [{"role": roles[i % 2], "content": t} for i, t in enumerate(texts)]
    return out


WORDS = st.text(alphabet="ab c.\n", min_size=1, max_size=20).filter(lambda t: t.strip())


# -- splitting ---------------------------------------------------------------------------


def test_split_gives_each_message_its_own_part_and_covers_the_text() -> None:
    codec = RuleCodec()
    messages = convo("hello there", "hi!")
    text = codec.render(messages)
    spans = split_prompt(text, [m["content"] for m in messages], SPECIALS)
    assert "".join(text[s.start : s.end] for s in spans) == text
    assert [s.messages for s in spans] == [(0,), (1,), (2,), ()]
    assert text[spans[1].start : spans[1].end] == "<s>user\nhello there</s>\n"
    assert text[spans[-1].start :] == "<s>assistant\n"  # the reply opener is template overhead


def test_short_texts_that_look_like_template_text_still_get_their_own_parts() -> None:
    codec = RuleCodec()
    messages = convo("a", "a", "user", "s", system="")
    breakdown = TokenCounter(codec, TokenCache()).count(messages)
    assert [p.messages for p in breakdown.parts] == [(0,), (1,), (2,), (3,), ()]


def test_split_without_specials_or_with_unfound_text_is_one_part() -> None:
    text = "System\n\nUser: hi\n\nAssistant:"
    assert [s.messages for s in split_prompt(text, ["System", "hi"], ())] == [(0, 1)]
    assert len(split_prompt("<s>x</s>", ["not there"], SPECIALS)) == 1
    assert split_prompt("", [], SPECIALS) == []


@given(st.lists(WORDS, min_size=1, max_size=8))
def test_parts_add_up_to_the_whole(texts: list[str]) -> None:
    codec = RuleCodec()
    counter = TokenCounter(codec, TokenCache())
    messages = convo(*texts)
    breakdown = counter.count(messages)
    whole = 1 + codec.count(codec.render(messages))
    assert breakdown.total == whole
    assert breakdown.bos + sum(p.tokens for p in breakdown.parts) == whole
    assert breakdown.overhead + sum(p.tokens for p in breakdown.parts if p.messages) == whole


@given(st.lists(WORDS, min_size=2, max_size=8), st.data())
def test_an_edit_retokenizes_only_the_edited_message(texts: list[str], data: st.DataObject) -> None:
    codec = RuleCodec()
    counter = TokenCounter(codec, TokenCache())
    messages = convo(*texts)
    counter.count(messages)
    index = data.draw(st.integers(0, len(messages) - 1))
    edited = [dict(m) for m in messages]
    edited[index]["content"] = messages[index]["content"] + " edited"
    codec.counted.clear()
    after = counter.count(edited)
    assert after.misses == 1
    retokenized = [t for t in codec.counted if t in codec.render(edited)]  # not calibration
    assert len(retokenized) == 1 and edited[index]["content"] in retokenized[0]
    assert after.total == 1 + codec.count(codec.render(edited))


# -- the cache ---------------------------------------------------------------------------


def test_a_repeated_count_tokenizes_nothing_and_the_figures_say_so() -> None:
    codec = RuleCodec()
    cache = TokenCache()
    counter = TokenCounter(codec, cache)
    messages = convo("one", "two", "three")
    first = counter.count(messages)
    calls = codec.calls
    longer = counter.count([*messages, {"role": "user", "content": "four"}])
    assert longer.misses == 1  # only the new message
    assert counter.count(messages).total == first.total
    assert cache.stats.hits >= len(first.parts) and cache.stats.misses == len(first.parts) + 1
    assert codec.calls - calls <= 2  # the new part (and its calibration frame)
    assert 0 < cache.stats.hit_rate < 1


def test_fingerprints_keep_tokenizers_apart() -> None:
    cache = TokenCache()
    key = content_hash("same text")
    cache.add("model-a", {key: 5}, chars=9, seconds=0.001)
    assert cache.lookup("model-a", {key: 9}) == {key: 5}
    assert cache.lookup("model-b", {key: 9}) == {}
    a = TokenCounter(RuleCodec("a"), cache)
    b = TokenCounter(RuleCodec("b"), cache)
    a.count(convo("hello"))
    assert b.count(convo("hello")).misses == len(a.count(convo("hello")).parts)


def test_the_lru_forgets_the_least_recently_used() -> None:
    cache = TokenCache(size=2)
    k1, k2, k3 = (content_hash(t) for t in "abc")
    cache.add("f", {k1: 1, k2: 2}, 2, 0.0)
    cache.lookup("f", {k1: 1})  # k1 is now the most recent
    cache.add("f", {k3: 3}, 1, 0.0)
    assert cache.lookup("f", {k1: 1, k2: 1, k3: 1}) == {k1: 1, k3: 3}


def test_counts_survive_a_restart_in_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "ollm.db"
    store = Store(db)
    assert store.schema_version == SCHEMA_VERSION >= 2
    codec = RuleCodec()
    settings = Settings(data_dir=tmp_path, config_dir=tmp_path, log_dir=tmp_path)
    accounting = Accounting(settings, store)
    accounting.attach(codec)
    messages = convo("persist me", "ok")
    first = accounting.count(messages)
    accounting.counter.calibration.add(110, 100, "code")  # type: ignore[union-attr]
    accounting.detach()
    store.close()

    store = Store(db)
    accounting = Accounting(settings, store)
    fresh = RuleCodec()
    accounting.attach(fresh)
    again = accounting.count(messages)
    assert again.total == first.total
    assert fresh.counted == []  # every part came from the table
    assert accounting.cache.stats.disk_hits >= len(first.parts)
    assert accounting.counter.calibration.sums["code"][0] >= 110  # type: ignore[union-attr]
    figures = cache_figures(store)
    assert figures["tokenizers"] == 1 and figures["entries"] >= len(first.parts)
    assert accounting.figures()["stored"] == figures
    TokenCountTable(store).clear()
    assert cache_figures(store)["entries"] == 0
    store.close()


# -- budget and estimates ----------------------------------------------------------------


def test_budget_follows_the_spec() -> None:
    assert (
        reply_reserve(4096) == 1024 and reply_reserve(2048) == 512 and reply_reserve(8192) == 1024
    )
    budget = make_budget(4096, system=100, checkpoints=50)
    assert budget.available == 4096 - 100 - 50 - 1024
    usage = Usage(1461, budget)
    assert round(usage.percent) == 50 and usage.band == "low"
    assert [band_of(p) for p in (59.9, 60, 80, 80.1)] == ["low", "mid", "mid", "high"]
    assert usage.plus(10).exact is False and usage.plus(10).used == 1471
    assert Usage(5, make_budget(100, system=200)).percent == 100.0


def test_measure_subtracts_the_system_prompt_from_used(tmp_path: Path) -> None:
    """The context manager's measure: used = every prompt token but the system prompt's."""
    from ollm_tui.engine.base import LoadOptions
    from ollm_tui.session.chat import ChatSession
    from tests.fakes import FakeEngine

    model = Path("/m/rule.gguf")
    settings = Settings(data_dir=tmp_path, config_dir=tmp_path, log_dir=tmp_path)
    store = Store(settings.db_path)
    engine = FakeEngine()
    engine.load(model, LoadOptions(n_ctx=4096))
    accounting = Accounting(settings, store)
    accounting.attach(RuleCodec(), model)
    session = ChatSession(
        store, engine, settings.with_(system_prompt="Be brief."), store.create_chat()
    )
    session.accounting = accounting
    store.add_message(session.chat.id, "user", "hello")
    measured = session.context.measure(session.history())
    system = measured.usage.budget.system
    assert system == RuleCodec().count("<s>system\nBe brief.</s>\n") > 0
    assert measured.breakdown is not None
    assert measured.breakdown.total == accounting.count(convo("hello")).total
    assert measured.usage.used == measured.breakdown.total - system
    store.close()


def test_estimates_work_offline_and_calibrate() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 10
    assert 90 <= raw_estimate(text) <= 110  # cl100k, from the bundled offline file
    cal = Calibration()
    assert cal.ratio == Calibration.DEFAULT_RATIO
    cal.add(120, 100)
    assert cal.ratio == 1.2
    assert cal.scaled(text) == round(raw_estimate(text) * 1.2)
    assert cal.message(text) == cal.scaled(text) + round(cal.message_overhead)


def test_code_and_prose_are_calibrated_apart() -> None:
    code = "def f(x):\n    return {'a': [x * 2, (x + 1) % 3]}  # ok\n"
    prose = "The meter shows how much of the context budget the chat uses, and warns once."
    assert text_kind(code) == "code" and text_kind(prose) == "prose" and text_kind("") == "prose"
    cal = Calibration()
    cal.add(130, 100, "code")
    assert cal.ratio_for("code") == 1.3 and cal.ratio_for("prose") == 1.3  # prose borrows
    cal.add(105, 100, "prose")
    assert cal.ratio_for("prose") == 1.05 and cal.ratio == 235 / 200
    assert cal.scaled(code) == round(raw_estimate(code) * 1.3)


def test_calibration_waits_to_estimate_until_a_figure_is_read(monkeypatch) -> None:
    """Exact counts alone never load tiktoken (its tables are ~50 MiB of idle memory)."""
    import ollm_tui.core.token_estimate as te

    calls: list[str] = []
    monkeypatch.setattr(te, "raw_estimate", lambda text: calls.append(text) or len(text.split()))
    cal = te.Calibration()
    for i in range(5):
        cal.add_text_later(f"word {i} " * 10, 24)
    assert calls == [] and len(cal.pending) == 5
    assert cal.exact == 120 and cal.estimate == 100  # reading settles every pending text
    assert len(calls) == 5 and cal.pending == []
    for _ in range(te.Calibration.PENDING_MAX):
        cal.add_text_later("more words", 2)
    assert cal.pending == []  # a long backlog settles on its own
