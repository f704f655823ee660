"""Unusable config and log folders from the command line.

- The config folder or ``config.toml`` cannot be read at all (a file in the folder's place,
  permission denied, a folder named ``config.toml``): one ``ollm:`` line naming the path and
  what to do, exit code 5; ollm does not run without the user's settings.
- A config folder that does not exist and cannot be created: nothing needs it until a
  setting is saved, so ollm runs (saving then says why it failed).
- Bad *values* in ``config.toml`` stay warnings.
- An unusable log folder: one warning line naming it; ollm still runs (logging is off).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from ollm_tui.settings.logs import LOGGER_NAME, setup_logging
from tests.fake_server import FakeServer
from tests.unit.cli_run import run_ollm
from tests.unit.nobody import as_nobody


def one_line(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("ollm: ")]
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args", [("models",), ("export", "c1"), ("-p", "hi"), ("config", "show")])
def test_a_file_in_place_of_the_config_folder(tmp_path: Path, args: tuple[str, ...]) -> None:
    config = tmp_path / "config"
    config.write_text("a file")
    result = run_ollm(tmp_path, *args, config=config)
    assert result.returncode == 5, result.stderr
    one_line(result, f"cannot use the config folder {config}", "it is a file", "OLLM_CONFIG_DIR")


def test_a_file_above_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file")
    result = run_ollm(tmp_path, "models", config=tmp_path / "blocker" / "config")
    assert result.returncode == 5, result.stderr
    one_line(result, f"cannot use the config folder {tmp_path / 'blocker'}", "it is a file")


def test_a_folder_named_config_toml(tmp_path: Path) -> None:
    (tmp_path / "config" / "config.toml").mkdir(parents=True)
    result = run_ollm(tmp_path, "models", config=tmp_path / "config")
    assert result.returncode == 5, result.stderr
    one_line(result, f"the settings file {tmp_path / 'config' / 'config.toml'}", "a folder")


def test_bad_values_stay_warnings(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text("n_threads = 0\n")
    result = run_ollm(tmp_path, "models", "--json", config=config)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "n_threads" in result.stderr


def test_an_unreadable_config_toml(nobody_base: Path) -> None:
    config = nobody_base / "config"
    config.mkdir()
    (config / "config.toml").write_text("theme = 'textual-dark'\n")
    (config / "config.toml").chmod(0o600)  # root's: that user may not read it
    own = nobody_base / "own"
    result = as_nobody(nobody_base, "models", data=own / "data", config=config)
    assert result.returncode == 5, result.stderr
    one_line(result, f"the settings file {config / 'config.toml'}", "permission denied")


def test_a_config_folder_that_cannot_be_created_does_not_stop_ollm(nobody_base: Path) -> None:
    locked = nobody_base / "locked"
    locked.mkdir(mode=0o755)  # root's: that user may enter, not create in it
    own = nobody_base / "own"
    with FakeServer() as server:
        result = as_nobody(
            nobody_base,
            "-p",
            "hi",
            "--server",
            server.url,
            data=own / "data",
            config=locked / "config",
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hello there")


def test_an_unusable_log_folder_is_one_warning(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("a file")
    with FakeServer() as server:
        result = run_ollm(tmp_path, "-p", "hi", "--server", server.url, config=tmp_path / "config")
    assert result.returncode == 0, result.stderr
    line = one_line(result, f"cannot use the log folder {tmp_path / 'logs'}", "OLLM_LOG_DIR")
    assert line.startswith("ollm: warning:") and "logging is off" in line
    assert result.stdout.startswith("Hello there")


def test_setup_logging_reports_the_folder(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("a file")
    logger = logging.getLogger(LOGGER_NAME)
    before = list(logger.handlers)
    try:
        problem = setup_logging(tmp_path / "logs" / "ollm.log")
        assert problem is not None and str(tmp_path / "logs") in problem
        assert setup_logging(tmp_path / "ok" / "ollm.log") is None
    finally:
        for handler in logger.handlers[len(before) :]:
            logger.removeHandler(handler)
            handler.close()


def test_the_app_shows_an_unusable_log_folder_as_a_note(settings, monkeypatch, capsys) -> None:
    import ollm_tui.ui.app as ui_app
    from ollm_tui.cli.chat import cmd_app

    settings.log_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.log_dir.write_text("a file")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    seen: list[tuple[str, ...]] = []

    class NotRun:
        return_code = 0

        def run(self) -> None:  # the toasts themselves are tested in tests/app
            pass

    def fake_make_app(components, startup):
        seen.append(startup.warnings)
        return NotRun()

    monkeypatch.setattr(ui_app, "make_app", fake_make_app)
    logger = logging.getLogger(LOGGER_NAME)
    before = list(logger.handlers)
    try:
        assert cmd_app(settings) == 0
    finally:
        for handler in logger.handlers[len(before) :]:
            logger.removeHandler(handler)
            handler.close()
    (warnings,) = seen
    assert any(f"annot use the log folder {settings.log_dir}" in w for w in warnings)
