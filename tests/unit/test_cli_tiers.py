"""`--tier`, `--memory-budget`, `--context` as an override, and `ollm doctor` (no model runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ollm_tui.cli import main
from ollm_tui.cli.common import EXIT_OK, EXIT_USAGE
from ollm_tui.settings import SettingsError, parse_size


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var, sub in (
        ("OLLM_DATA_DIR", "data"),
        ("OLLM_CONFIG_DIR", "config"),
        ("OLLM_LOG_DIR", "logs"),
    ):
        monkeypatch.setenv(var, str(tmp_path / sub))
    for var in ("OLLM_MODEL", "OLLM_TIER", "OLLM_MEMORY_BUDGET", "OLLM_CONTEXT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def doctor(capsys, *argv: str) -> dict:
    assert main(["doctor", "--json", *argv]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


def by_name(report: dict, fragment: str) -> dict:
    return next(m for m in report["models"] if fragment in m["name"])


def test_doctor_json_on_this_machine(capsys) -> None:
    report = doctor(capsys)
    ram = report["probes"]["ram"]
    assert ram["label"] in ("RAM", "unified") and ram["total_bytes"] > 0 and ram["free_bytes"] > 0
    assert report["probes"]["process_rss_bytes"] > 0
    assert (
        isinstance(report["build"]["gpu_offload"], bool) and "CPU" in report["build"]["system_info"]
    )
    smol, gemma = by_name(report, "SmolLM2"), by_name(report, "gemma-3")
    assert [s["size"] for s in smol["plan"]["sizes"]] == ["2K", "4K", "8K"]
    assert [s["size"] for s in gemma["plan"]["sizes"]] == ["2K", "4K", "8K", "16K", "32K"]
    for model in (smol, gemma):
        reason = model["plan"]["reason"]
        assert "is the largest that fits" in reason and "auto takes one step below" in reason
        assert all(s["n_ctx"] < int(s["size"][:-1]) * 1024 for s in model["plan"]["sizes"])


def test_memory_budget_visibly_lowers_the_pick(capsys) -> None:
    free = by_name(doctor(capsys), "gemma-3")["plan"]
    capped = by_name(doctor(capsys, "--memory-budget", "300MiB"), "gemma-3")["plan"]
    assert free["chosen"] != "2K" and capped["chosen"] == "2K"
    assert (
        capped["reason"].startswith("nothing fits") and "300 MiB memory budget" in capped["reason"]
    )
    assert not any(s["fits"] for s in capped["sizes"])


def test_doctor_text_and_flags_before_the_command(capsys) -> None:
    assert main(["--tier", "2k", "doctor"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Memory" in out and "llama.cpp build" in out
    assert "2K chosen by you (auto would take 4K)" in out


def test_doctor_lists_an_unreadable_model_as_unusable(capsys, isolated: Path) -> None:
    models = isolated / "data" / "models"
    models.mkdir(parents=True)
    (models / "notes.gguf").write_text("not a model")
    report = doctor(capsys)
    bad = by_name(report, "notes")
    assert bad["usable"] is False and "not a GGUF" in bad["error"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--memory-budget", "garbage", "-p", "x"], "--memory-budget"),
        (["--memory-budget", "1KiB", "-p", "x"], "below 16 MiB"),
        (["--tier", "3k", "-p", "x"], "--tier: unknown tier '3k'"),
        (["--tier", "64k", "-p", "x"], "64K is not offered for this model"),
    ],
)
def test_bad_tier_arguments_exit_2(argv, needle, capsys) -> None:
    assert main(argv) == EXIT_USAGE
    assert needle in capsys.readouterr().err


def test_parse_size_units() -> None:
    assert parse_size("300MiB", "x") == 300 * 1024**2
    assert parse_size("1.5G", "x") == int(1.5 * 1024**3)
    assert parse_size("2GB", "x") == 2 * 1000**3
    assert parse_size("64m", "x") == 64 * 1024**2
    for bad in ("", "-5G", "12 parsecs", "1e9"):
        with pytest.raises(SettingsError):
            parse_size(bad, "--memory-budget")


def test_prompt_warns_when_nothing_fits_before_loading(capsys, monkeypatch) -> None:
    # a 20 MiB budget fits nothing: the warning comes before the model loads (which then
    # fails here on purpose, so no model runs in a unit test)
    from ollm_tui.engine.llama import engine as llama

    def refuse(self, path, options, cancel=None):
        from ollm_tui.engine.base import ModelLoadError

        raise ModelLoadError(f"not loading in a unit test (n_ctx {options.n_ctx})")

    monkeypatch.setattr(llama.LlamaEngine, "load", refuse)
    assert main(["--memory-budget", "20MiB", "-p", "hi"]) == 3
    err = capsys.readouterr().err
    assert "warning: nothing fits: even 2K needs" in err and "20 MiB memory budget" in err
    assert "n_ctx 1536" in err


def test_doctor_reports_the_token_cache(capsys, isolated: Path) -> None:
    assert doctor(capsys)["token_cache"] is None  # no database: the doctor does not create one
    assert not (isolated / "data" / "ollm.db").exists()
    from ollm_tui.settings import Settings
    from ollm_tui.store.db import Store
    from ollm_tui.store.token_counts import TokenCountTable

    store = Store(Settings.from_env().db_path)
    TokenCountTable(store).put_many("fp1", {b"d1": 7, b"d2": 5})
    store.close()
    cache = doctor(capsys)["token_cache"]
    assert (cache["entries"], cache["tokenizers"], cache["tokens"]) == (2, 1, 12)
    assert main(["doctor"]) == EXIT_OK
    assert "Token cache: 2 counts for 1 tokenizer(s), 12 tokens" in capsys.readouterr().out
