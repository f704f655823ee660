"""Servers in config.toml, their keys and file permissions, model names, and the SSE parser."""

from __future__ import annotations

import os
import stat

import pytest

from ollm_tui.cli.args import build_parser, settings_from_args
from ollm_tui.engine.remote.engine import SSEParser
from ollm_tui.engine.remote.models import is_remote_entry, resolve_model
from ollm_tui.settings import Settings, SettingsError
from ollm_tui.settings.config_file import describe_settings, read_config, set_value
from ollm_tui.settings.servers import (
    ServerConfig,
    model_label,
    parse_remote_path,
    remote_path,
    split_model_ref,
)

SERVERS = """
[[servers]]
name = "gpu-box"
url = "http://gpu-box:8080/v1/"
api_key_env = "GPU_KEY"
models = ["llama3:8b"]
context = 8192

[[servers]]
name = "lab"
url = "https://lab.example.org"
api_key = "sk-very-secret"
"""


def write(path, text, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


def test_servers_are_read_from_the_file(tmp_path):
    path = tmp_path / "config.toml"
    write(path, SERVERS)
    values, problems = read_config(path)
    assert problems == []
    gpu, lab = values["servers"]
    assert gpu == ServerConfig(
        "gpu-box", "http://gpu-box:8080", None, "GPU_KEY", ("llama3:8b",), 8192
    )
    assert lab.api_key == "sk-very-secret" and "sk-very" not in repr(lab)
    assert gpu.key({"GPU_KEY": "k1"}) == "k1" and lab.key({}) == "sk-very-secret"


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('name = "x y"\nurl = "http://a"', "name must be"),
        ('name = "a"\nurl = "ftp://a"', "http:// or https://"),
        ('name = "a"\nurl = "http://a"\nmodels = "m"', "models must be a list"),
        ('name = "a"\nurl = "http://a"\ncolour = 1', "unknown key"),
        ('name = "a"\nurl = "http://a"\ncontext = 12', "context must be"),
    ],
)
def test_a_bad_server_entry_is_named_and_ignored(tmp_path, table, words):
    path = tmp_path / "config.toml"
    write(path, f"[[servers]]\n{table}\n")
    values, problems = read_config(path)
    assert "servers" not in values
    assert len(problems) == 1 and problems[0].key == "servers" and words in problems[0].reason


def test_a_key_in_a_readable_file_is_warned_about(tmp_path):
    path = tmp_path / "config.toml"
    write(path, SERVERS, 0o644)
    _, problems = read_config(path)
    assert any("other users can read" in p.reason and "chmod 600" in p.reason for p in problems)
    write(path, SERVERS, 0o600)
    assert read_config(path)[1] == []


def test_saving_a_file_that_holds_a_key_makes_it_owner_only(tmp_path):
    path = tmp_path / "config.toml"
    write(path, SERVERS, 0o644)
    set_value(path, "theme", "nord")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "sk-very-secret" in path.read_text()  # kept, and now private


def test_saving_keeps_the_mode_of_a_file_without_a_key(tmp_path):
    path = tmp_path / "config.toml"
    write(path, 'theme = "nord"\n', 0o640)
    set_value(path, "temperature", 0.5)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_config_show_never_prints_a_key(tmp_path):
    path = tmp_path / "config.toml"
    write(path, SERVERS)
    values, _ = read_config(path)
    text = describe_settings(Settings(tmp_path, tmp_path, tmp_path, **values))
    assert "sk-very-secret" not in text
    assert '[[servers]]\nname = "gpu-box"' in text and "api_key is set (not shown)" in text


def test_a_password_in_the_url_is_never_shown():
    server = ServerConfig("box", "http://me:pa55word@box:8080")
    assert server.shown_url == "http://box:8080" and "pa55word" not in str(server)
    assert ServerConfig("b", "https://b.example").shown_url == "https://b.example"


def test_server_model_names_and_paths_round_trip():
    servers = (ServerConfig("gpu-box", "http://g"),)
    for model in ("llama3:8b", "/models/x.Q4.gguf", "org/name-1.5", ""):
        path = remote_path("gpu-box", model)
        assert parse_remote_path(path) == ("gpu-box", model)
    assert split_model_ref("llama3:8b@gpu-box", servers) == (servers[0], "llama3:8b")
    assert split_model_ref("@GPU-BOX", servers) == (servers[0], "")
    assert split_model_ref("user@elsewhere", servers) is None
    assert model_label(remote_path("gpu-box", "/models/x.Q4.gguf")) == "x.Q4@gpu-box"


def test_resolving_a_server_model_does_not_contact_it(settings):
    settings = settings.with_(servers=(ServerConfig("box", "http://127.0.0.1:9"),))
    entry = resolve_model(settings, "llama3@box")
    assert is_remote_entry(entry) and entry.name == "llama3@box"
    with pytest.raises(Exception, match="no server is called 'nowhere'"):
        resolve_model(settings, "llama3@nowhere")


def test_server_flag_adds_the_server_and_picks_its_model(monkeypatch, tmp_path):
    monkeypatch.setenv("OLLM_CONFIG_DIR", str(tmp_path))
    args = build_parser().parse_args(
        ["--server", "http://10.0.0.5:8000/v1", "--model", "qwen", "--api-key-env", "K"]
    )
    settings = settings_from_args(args)
    assert settings.servers[0] == ServerConfig(
        "10.0.0.5:8000", "http://10.0.0.5:8000", api_key_env="K"
    )
    assert settings.model == "qwen@10.0.0.5:8000"
    with pytest.raises(SettingsError, match="--server"):
        settings_from_args(build_parser().parse_args(["--server", "gpu-box:8000"]))
    with pytest.raises(SettingsError, match="only works with --server"):
        settings_from_args(build_parser().parse_args(["--api-key-env", "K"]))


def test_sse_parser_joins_events_and_skips_comments():
    parser = SSEParser()
    lines = [
        ": ping",
        "event: message",
        'data: {"a": 1}',
        "",
        "data: {",
        'data: "b": 2}',
        "",
        "data: [DONE]",
    ]
    events = [e for line in lines for e in parser.feed(line)]
    assert events == ['{"a": 1}', '{\n"b": 2}', "[DONE]"]
    assert parser.finish() == []


def test_ollm_models_lists_server_models_and_a_dead_server(monkeypatch, tmp_path, capsys):
    import json

    from ollm_tui.cli import main
    from tests.fake_server import MODEL, FakeServer, free_port

    for var, sub in (("OLLM_DATA_DIR", "d"), ("OLLM_CONFIG_DIR", "c"), ("OLLM_LOG_DIR", "l")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("OLLM_SCAN_EXTERNAL", "0")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.toml").write_text(
        f'[[servers]]\nname = "gone"\nurl = "http://127.0.0.1:{free_port()}"\n', encoding="utf-8"
    )
    with FakeServer() as fake:
        assert main(["--server", fake.url, "models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    host = fake.url.split("//")[1]
    assert (
        rows[f"{MODEL}@{host}"]["usable"] and rows[f"{MODEL}@{host}"]["source"] == f"server {host}"
    )
    assert not rows["@gone"]["usable"] and "connection refused" in rows["@gone"]["error"]
