"""Profile files: parsing, matching, user overrides and broken files."""

from __future__ import annotations

from pathlib import Path

from ollm_tui.core.profiles import load_profiles
from ollm_tui.resources import bundled_dir


def test_bundled_profiles_load_cleanly() -> None:
    profiles = load_profiles([bundled_dir("profiles")])
    assert profiles.errors == []
    assert profiles.match("gemma3", ["gemma-3-270m-q4_k_m.gguf"]).chat_format == "gemma"
    assert profiles.match("llama", ["SmolLM2 135M Instruct"]).name == "SmolLM2"
    assert profiles.match("llama", ["Some Other Llama"]) is None


def test_broken_file_is_reported_and_the_rest_load(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("name = [unclosed")
    (tmp_path / "badfmt.toml").write_text('[match]\narchitecture = ["x"]\n[chat]\nformat = "nope"\n')
    (tmp_path / "good.toml").write_text('name = "Mine"\n[match]\narchitecture = ["qwen2"]\n[chat]\nformat = "chatml"\n')
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
    (tmp_path / "a.toml").write_text('[match]\narchitecture = ["llama"]\n[chat]\nformat = "llama3"\n')
    (tmp_path / "b.toml").write_text(
        '[match]\narchitecture = ["llama"]\nname_contains = ["tiny"]\n[chat]\nformat = "chatml"\n'
    )
    profiles = load_profiles([tmp_path])
    assert profiles.match("llama", ["TinyThing"]).chat_format == "chatml"
    assert profiles.match("llama", ["Big"]).chat_format == "llama3"
