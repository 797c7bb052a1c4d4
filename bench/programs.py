"""Which program of this project a bench runs: the one of the environment the bench runs in."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def program(script: str, module: str) -> list[str]:
    """The console `script` installed beside this Python, or the same program as `python -m module`.

    Beside `sys.executable`, not anywhere on PATH: the program measured is the one of the environment the
    bench runs in, never another install's.
    """
    installed = shutil.which(script, path=str(Path(sys.executable).parent))
    return [installed] if installed else [sys.executable, "-m", module]
