"""Fresh venvs that install the project offline, and the processes run in them.

A fresh venv is made without pip (so it has none of its own old setuptools either) and gets its
dependencies, pip and the build backend from this interpreter's site-packages through a `.pth` path
line. A path line does not process the `.pth` files of the folder it names, so this venv's own editable
install of the project is not visible there (checked before each install): whatever imports, comes from
the install under test. Nothing here needs the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(
    argv: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def checked(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment minus anything that would pick the import path or the sandbox's state for us."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "MEMBRANE_", "MAUTIC_MCP_", "PIP_", "XDG_")) and name != "VIRTUAL_ENV"
    }
    env.update(HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_NO_INDEX="1", **extra)
    return env


def purelib_of(venv: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    return Path(checked(run([venv / "bin" / "python", "-c", code])).stdout.strip())


def fresh_venv(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A venv that does not import mautic_mcp yet, and the environment to run its commands in."""
    venv = tmp_path / "venv"
    checked(run([sys.executable, "-m", "venv", "--without-pip", venv]))
    python = venv / "bin" / "python"
    (purelib_of(venv) / "dev_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    before = run([python, "-c", "import mautic_mcp.server"], cwd=tmp_path, env=env)
    assert before.returncode != 0 and "ModuleNotFoundError" in before.stderr, (
        "the fresh venv already imports mautic_mcp before the install under test: " + before.stdout + before.stderr
    )
    assert run([python, "-c", "import mcp, pip, setuptools"], env=env).returncode == 0
    return venv, env


def pip_install(venv: Path, env: dict[str, str], *target: str | Path) -> None:
    """Install offline: no dependencies (they come through the path line), the dev venv's build backend."""
    # --ignore-installed: the dev venv's own mautic-mcp metadata is on the path and must not count.
    python = venv / "bin" / "python"
    checked(run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-I", *target], env=env))


def project() -> dict:
    """pyproject.toml's [project] table."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
