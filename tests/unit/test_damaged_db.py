"""A damaged chat database: the app offers to set it aside (tested with an injected
answer here, the dialog itself in ``tests/app/test_damaged_db_dialog.py``), ``ollm -p`` and
``ollm export`` never ask, and ``ollm doctor --set-aside-db`` acts only on a yes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ollm_tui.cli import doctor
from ollm_tui.cli.chat import cmd_app, offer_set_aside
from ollm_tui.settings import Settings
from ollm_tui.store.db import DatabaseDamaged, Store
from tests.unit.cli_run import run_ollm

GARBAGE = b"garbage" * 1000


def garbage(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GARBAGE)
    return GARBAGE


def truncated(path: Path) -> bytes:
    """A real database with chats, cut to its first pages (its tables' pages are gone)."""
    store = Store(path)
    for n in range(30):
        chat = store.create_chat(f"chat {n}")
        for i in range(10):
            store.add_message(chat.id, "user", f"message {i} " + "x" * 400)
    store.close()  # the last connection checkpoints the WAL into the file
    data = path.read_bytes()
    assert len(data) > 40_000
    path.write_bytes(data[: 4096 * 3])
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path.read_bytes()


DAMAGE = {"garbage bytes": garbage, "a truncated real database": truncated}


@pytest.fixture(params=list(DAMAGE))
def damaged(request, settings: Settings) -> bytes:
    return DAMAGE[request.param](settings.db_path)


def _damage(settings: Settings) -> DatabaseDamaged:
    with pytest.raises(DatabaseDamaged) as info:
        Store(settings.db_path)
    return info.value


def test_both_kinds_of_damage_are_recognised(settings: Settings, damaged: bytes) -> None:
    exc = _damage(settings)
    assert exc.path == settings.db_path and exc.reason
    assert "ollm doctor --set-aside-db" in str(exc) and str(settings.db_path) in str(exc)
    assert settings.db_path.read_bytes() == damaged  # opening changed nothing


def test_opening_garbage_leaves_a_wal_beside_it(settings: Settings) -> None:
    garbage(settings.db_path)
    Path(f"{settings.db_path}-wal").write_bytes(b"wal")  # SQLite would drop an invalid one
    _damage(settings)
    assert Path(f"{settings.db_path}-wal").read_bytes() == b"wal"


def test_no_changes_nothing(settings: Settings, damaged: bytes) -> None:
    asked: list[tuple[Path, str]] = []
    store, note = offer_set_aside(
        settings, _damage(settings), lambda p, r: asked.append((p, r)) or False
    )
    assert (store, note) == (None, None)
    assert asked and asked[0][0] == settings.db_path and asked[0][1]
    assert settings.db_path.read_bytes() == damaged
    assert [p.name for p in settings.db_path.parent.iterdir()] == ["ollm.db"]


def test_yes_sets_it_aside_under_a_dated_name_and_opens_a_fresh_one(
    settings: Settings, damaged: bytes
) -> None:
    exc = _damage(settings)
    Path(f"{settings.db_path}-wal").write_bytes(b"wal")
    store, note = offer_set_aside(settings, exc, lambda p, r: True)
    assert store is not None and note is not None
    try:
        assert store.list_chats() == []
    finally:
        store.close()
    aside = sorted(p for p in settings.db_path.parent.iterdir() if ".damaged-" in p.name)
    assert [p.name.split(".damaged-")[0] for p in aside] == ["ollm.db", "ollm.db"]
    assert aside[0].read_bytes() == damaged and aside[1].read_bytes() == b"wal"
    assert str(aside[0]) in note


def test_the_app_on_no_exits_1_with_the_refusal(
    settings: Settings, damaged: bytes, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert cmd_app(settings, ask=lambda p, r: False) == 1
    err = capsys.readouterr().err
    assert "is damaged" in err and "nothing was changed" in err
    assert settings.db_path.read_bytes() == damaged


@pytest.mark.parametrize("args", [("export", "c1"), ("-p", "hi", "--chat", "c1")])
def test_scripts_never_ask_and_point_at_the_fix(tmp_path: Path, args: tuple[str, ...]) -> None:
    data = tmp_path / "data"
    garbage(data / "ollm.db")
    result = run_ollm(tmp_path, *args, data=data)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "is damaged" in result.stderr and "ollm doctor --set-aside-db" in result.stderr
    assert (data / "ollm.db").read_bytes() == GARBAGE


def test_doctor_explains_how(tmp_path: Path) -> None:
    data = tmp_path / "data"
    garbage(data / "ollm.db")
    db = json.loads(run_ollm(tmp_path, "doctor", "--json", data=data).stdout)["database"]
    assert db["state"] == "damaged"
    assert "run `ollm` to be offered to set it aside" in db["advice"].lower()
    assert "ollm doctor --set-aside-db" in db["advice"]


def test_doctor_set_aside_without_a_terminal_needs_yes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    garbage(data / "ollm.db")
    result = run_ollm(tmp_path, "doctor", "--set-aside-db", data=data)
    assert result.returncode == 2, result.stderr
    assert "--yes" in result.stderr and "Traceback" not in result.stderr
    assert [p.name for p in data.iterdir()] == ["ollm.db"]
    result = run_ollm(tmp_path, "doctor", "--set-aside-db", "--yes", data=data)
    assert result.returncode == 0, result.stderr
    names = [p.name for p in data.iterdir()]
    assert len(names) == 1 and names[0].startswith("ollm.db.damaged-")
    assert (data / names[0]).read_bytes() == GARBAGE
    assert f"set aside: {data / names[0]}" in result.stdout
    again = run_ollm(tmp_path, "doctor", "--set-aside-db", "--yes", data=data)
    assert again.returncode == 1 and "not damaged" in again.stderr


@pytest.mark.parametrize(("reply", "code"), [("y", 0), ("n", 1), ("", 1)])
def test_doctor_set_aside_asks_on_a_terminal(
    settings: Settings, damaged: bytes, monkeypatch, reply: str, code: int
) -> None:
    monkeypatch.setattr(doctor, "is_terminal", lambda stream: True)
    questions: list[str] = []
    result = doctor.cmd_set_aside_db(
        settings, yes=False, answer=lambda q: questions.append(q) or reply
    )
    assert result == code and "[y/N]" in questions[0]
    left = settings.db_path.exists()
    assert left == (code != 0)
    if left:
        assert settings.db_path.read_bytes() == damaged


def test_yes_only_with_set_aside(tmp_path: Path) -> None:
    result = run_ollm(tmp_path, "doctor", "--yes", data=tmp_path / "data")
    assert result.returncode == 2 and "--set-aside-db" in result.stderr


def test_the_app_on_yes_says_where_it_went_and_opens_on_a_fresh_database(
    settings: Settings, damaged: bytes, monkeypatch, capsys
) -> None:
    import ollm_tui.ui.app as ui_app

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    opened: list[tuple[list, tuple[str, ...]]] = []

    class NotRun:
        return_code = 0

        def run(self) -> None:  # the chat app itself is tested in tests/app
            pass

    def fake_make_app(components, startup):
        opened.append((components.store.list_chats(), startup.warnings))
        return NotRun()

    monkeypatch.setattr(ui_app, "make_app", fake_make_app)
    assert cmd_app(settings, ask=lambda p, r: True) == 0
    err = capsys.readouterr().err
    aside = [p for p in settings.db_path.parent.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert f"set aside as {aside[0]}" in err
    ((chats, warnings),) = opened
    assert chats == []  # a fresh database
    assert any(f"set aside as {aside[0]}" in w for w in warnings)  # the app's toast


def test_a_rename_the_folder_refuses_is_one_clear_line(
    settings: Settings, damaged: bytes, monkeypatch, capsys
) -> None:
    def refuse(self, target):  # injected: as root no mode bit stops a rename
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "rename", refuse)
    monkeypatch.setattr(doctor, "is_terminal", lambda stream: True)
    assert doctor.cmd_set_aside_db(settings, yes=True) == 5
    err = capsys.readouterr().err
    assert f"cannot use the data folder {settings.db_path.parent}: permission denied" in err
    assert settings.db_path.read_bytes() == damaged
