"""Permission denied on the data folder, for real: ``ollm -p hi --chat c1`` run as an
unprivileged user (``setpriv``, uid/gid 65534) on a data folder owned by root with mode
700 ends in one ``ollm:`` line naming the folder, exit code 5, and no traceback."""

from __future__ import annotations

from pathlib import Path

from tests.fake_server import FakeServer
from tests.unit.nobody import as_nobody


def test_a_data_folder_this_user_may_not_write(nobody_base: Path) -> None:
    data = nobody_base / "data"
    data.mkdir(mode=0o700)  # root's
    with FakeServer() as server:
        result = as_nobody(
            nobody_base, "-p", "hi", "--chat", "c1", "--server", server.url, data=data
        )
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("ollm: ")]
    assert len(lines) == 1, result.stderr
    assert str(data) in lines[0] and "permission denied" in lines[0]
    assert "make it writable for this user" in lines[0]
    assert list(data.iterdir()) == []
