"""Profile files: parsing, matching, user overrides and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.core.profiles import load_profiles, parse_profile
from ollm_tui.settings.resources import bundled_dir


def test_bundled_profiles_load_cleanly() -> None:
    profiles = load_profiles([bundled_dir("profiles")])
    assert profiles.errors == []
    assert profiles.match("gemma3", ["gemma-3-270m-q4_k_m.gguf"]).chat_format == "gemma"
    assert profiles.match("llama", ["SmolLM2 135M Instruct"]).name == "SmolLM2"
    assert profiles.match("llama", ["Some Other Llama"]) is None


def test_broken_file_is_reported_and_the_rest_load(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("name = [unclosed")
    (tmp_path / "badfmt.toml").write_text(
        '[match]\narchitecture = ["x"]\n[chat]\nformat = "nope"\n'
    )
    (tmp_path / "good.toml").write_text(
        'name = "Mine"\n[match]\narchitecture = ["qwen2"]\n[chat]\nformat = "chatml"\n'
    )
    profiles = load_profiles([tmp_path])
    assert len(profiles.errors) == 2
    assert any("bad.toml" in e and "TOML" in e for e in profiles.errors)
    assert any("badfmt.toml" in e and "'nope'" in e for e in profiles.errors)
    assert profiles.match("qwen2", []).name == "Mine"


def test_user_file_overrides_shipped_file_of_same_name(tmp_path: Path) -> None:
    (tmp_path / "gemma-3.toml").write_text(
        'name = "My Gemma"\n[match]\narchitecture = ["gemma3"]\n[chat]\nformat = "plain"\n'
    )
    profiles = load_profiles([bundled_dir("profiles"), tmp_path])
    assert profiles.match("gemma3", []).chat_format == "plain"


def test_name_match_beats_architecture_only(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        '[match]\narchitecture = ["llama"]\n[chat]\nformat = "llama3"\n'
    )
    (tmp_path / "b.toml").write_text(
        '[match]\narchitecture = ["llama"]\nname_contains = ["tiny"]\n[chat]\nformat = "chatml"\n'
    )
    profiles = load_profiles([tmp_path])
    assert profiles.match("llama", ["TinyThing"]).chat_format == "chatml"
    assert profiles.match("llama", ["Big"]).chat_format == "llama3"


def test_shipped_profiles_match_the_common_families() -> None:
    from ollm_tui.settings.resources import bundled_dir

    profiles = load_profiles([bundled_dir("profiles")])
    assert profiles.errors == []
    cases = {
        ("llama", "Meta-Llama-3.1-8B-Instruct"): "Llama 3.x",
        ("qwen2", "Qwen2.5-7B-Instruct"): "Qwen2.5",
        ("qwen2", "Qwen2.5-Coder-7B-Instruct"): "Qwen2.5-Coder",
        ("gemma3", "gemma-3-4b-it"): "Gemma 3",
        ("llama", "Mistral-7B-Instruct-v0.3"): "Mistral",
        ("phi3", "Phi-4-mini-instruct"): "Phi-3/4",
        ("llama", "deepseek-coder-6.7b-instruct"): "DeepSeek-Coder",
        ("llama", "SmolLM2-135M-Instruct"): "SmolLM2",
    }
    for (arch, name), expected in cases.items():
        found = profiles.match(arch, [name])
        assert found is not None and found.name == expected, (arch, name)
        assert found.context_fraction == 0.85
    assert profiles.match("llama", ["Meta-Llama-3.1-8B-Instruct"]).tools  # type: ignore[union-attr]
    assert profiles.match("qwen2", ["some-other-qwen"]) is None


def test_context_table_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[match]\narchitecture = ["x"]\n[context]\neffective = 0.8\nlimits = { "4K" = 3000 }\n'
    )
    profile = parse_profile(good)
    assert profile.context_fraction == 0.8 and profile.context_limits == ((4096, 3000),)
    for body, error in (
        ("effective = 2", "context.effective"),
        ('limits = { "4K" = 9000 }', "context.limits.4K"),
        ('limits = { "big" = 100 }', "not a size"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(f'[match]\narchitecture = ["x"]\n[context]\n{body}\n')
        with pytest.raises(ValueError, match=error):
            parse_profile(bad)


def test_unknown_model_gets_a_computed_profile_saved_once(settings, gemma_gguf: Path) -> None:
    from ollm_tui.core.gguf_info import read_gguf_info
    from ollm_tui.core.hardware import fixed_probe
    from ollm_tui.engine.planning import place

    info = read_gguf_info(gemma_gguf)
    empty = load_profiles([])
    place(settings, info, fixed_probe().snapshot(), empty, save_profile=True)
    saved = settings.user_profiles_dir / "auto-gemma-3-270m-q4_k_m.toml"
    assert saved.is_file()
    profile = parse_profile(saved)
    assert profile.architectures == ("gemma3",) and profile.chat_format == "chatml"
    assert dict(profile.context_limits)[4096] == 3328
    reloaded = load_profiles([settings.user_profiles_dir])
    assert reloaded.match("gemma3", [info.name or "", info.path.name]) is not None
    saved.write_text(saved.read_text() + "# edited\n")
    place(settings, info, fixed_probe().snapshot(), load_profiles([]), save_profile=True)
    assert saved.read_text().endswith("# edited\n")  # never overwritten
