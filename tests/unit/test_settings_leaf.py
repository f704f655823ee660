"""Settings sit at the bottom of the layers: importing them (and reading the environment)
pulls in no engine module, so ``engine`` can depend on ``settings`` and never the reverse."""

from __future__ import annotations

import subprocess
import sys


def test_settings_import_no_engine_module(tmp_path) -> None:
    code = (
        "import sys\n"
        "from ollm_tui.settings import Settings\n"
        "import ollm_tui.settings.config_file, ollm_tui.settings.paths, ollm_tui.settings.values\n"
        f"Settings.from_env({{'OLLM_DATA_DIR': {str(tmp_path)!r}, 'OLLM_CONFIG_DIR': "
        f"{str(tmp_path)!r}, 'OLLM_LOG_DIR': {str(tmp_path)!r}}}).server_timeouts()\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('ollm_tui.engine'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"settings pulled in: {out.stdout.strip()}"
