"""Packaging: the project builds and installs as one import package, `mautic_mcp`, in every way people install it.

The top-level folders `server/`, `tools/`, `membrane/`, `sandbox/` become `mautic_mcp.*` only through the
install (a setuptools package-dir mapping), so these tests build a wheel and an sdist from a copy of the
source tree, install each kind (wheel, sdist, editable default, editable strict) into a fresh venv, and run
the installed commands from a folder full of decoy `server`/`tools`/`sandbox` packages that must never be
the ones imported.

Fresh venvs get their dependencies from this interpreter's site-packages through a `.pth` path line. A path
line does not process the `.pth` files of the folder it names, so this venv's own editable install of the
project is not visible there (checked before each install): whatever imports, comes from the install under
test. Nothing here needs the network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("server", "tools", "membrane", "sandbox")
DECOYS = ("server", "tools", "sandbox")
DECOY_CODE = 'import sys\nprint("DECOY", __name__)\nsys.exit(3)\n'
# Build outputs, caches and the dev venv stay behind: building in the copy never touches this checkout's
# build/, which a strict editable install of the dev venv links from.
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)
IMPORT_ALL = (
    "import mautic_mcp.server, mautic_mcp.tools, mautic_mcp.membrane, mautic_mcp.sandbox; "
    "print(mautic_mcp.server.__file__)"
)
INSTALL_KINDS = ("wheel", "sdist", "editable", "editable-strict")


def run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
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
        if not name.startswith(("PYTHON", "MEMBRANE_", "MAUTIC_MCP_", "PIP_")) and name != "VIRTUAL_ENV"
    }
    env.update(HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_NO_INDEX="1", **extra)
    return env


def purelib_of(venv: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    return Path(checked(run([venv / "bin" / "python", "-c", code])).stdout.strip())


def make_decoys(folder: Path) -> Path:
    for name in DECOYS:
        package = folder / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(DECOY_CODE)
        (package / "__main__.py").write_text(DECOY_CODE)
    return folder


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("source") / "mautic-mcp"
    shutil.copytree(ROOT, copy, ignore=NOT_COPIED, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    checked(
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "-q",
                "-w",
                out,
                source,
            ]
        )
    )
    (built,) = out.glob("mautic_mcp-*.whl")
    return built


@pytest.fixture(scope="module")
def sdist(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    checked(run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", out, source]))
    (built,) = out.glob("mautic_mcp-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where installed commands run: a folder whose `server`, `tools`, `sandbox` packages only say DECOY."""
    return make_decoys(tmp_path_factory.mktemp("decoys"))


# --- a: the wheel's contents ---


def test_wheel_holds_one_namespace_package_with_typed_layers_and_both_commands(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    (dist_info,) = (entry for entry in top if entry.endswith(".dist-info"))
    assert re.fullmatch(r"mautic_mcp-[^/]+\.dist-info", dist_info)
    assert top == {"mautic_mcp", dist_info}, f"unexpected top-level entries: {sorted(top - {dist_info})}"
    assert "mautic_mcp/__init__.py" not in names, "mautic_mcp must stay an implicit namespace package"
    for layer in LAYERS:
        assert f"mautic_mcp/{layer}/__init__.py" in names
        assert f"mautic_mcp/{layer}/py.typed" in names
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert re.search(r"^mautic-mcp\s*=\s*mautic_mcp\.server\.cli:main$", entry_points, re.M), entry_points
    assert re.search(r"^membrane-sandbox\s*=\s*mautic_mcp\.sandbox\.cli:main$", entry_points, re.M), entry_points


# --- b: every kind of install, in a fresh venv, run from among decoys ---


@pytest.fixture(params=INSTALL_KINDS)
def installed(request: pytest.FixtureRequest, source: Path, tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    kind: str = request.param
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

    target: list[str | Path]
    if kind == "wheel":
        target = [request.getfixturevalue("wheel")]
    elif kind == "sdist":
        target = [request.getfixturevalue("sdist")]
    elif kind == "editable":
        target = ["-e", source]
    else:
        target = ["-e", source, "--config-settings", "editable_mode=strict"]
    # --ignore-installed: the dev venv's own mautic-mcp metadata is on the path and must not count.
    checked(run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-I", *target], env=env))
    return kind, venv, env


def expected_server_init(kind: str, venv: Path, source: Path, server_file: Path) -> None:
    if kind in ("wheel", "sdist"):
        site = purelib_of(venv)
        assert server_file == site / "mautic_mcp" / "server" / "__init__.py"
    elif kind == "editable":
        assert server_file == source / "server" / "__init__.py"
    else:
        relative = server_file.relative_to(source / "build")
        assert re.fullmatch(r"__editable__[^/]*/mautic_mcp/server/__init__\.py", relative.as_posix()), relative
        assert server_file.resolve() == (source / "server" / "__init__.py").resolve()


def test_installed_commands_run_from_the_install_not_the_working_directory(
    installed: tuple[str, Path, dict[str, str]], source: Path, work_dir: Path, tmp_path: Path
) -> None:
    kind, venv, env = installed
    sandbox_log = tmp_path / "sandbox-invocations.jsonl"
    env = {**env, "MEMBRANE_SANDBOX_DB": str(tmp_path / "sandbox.db"), "MEMBRANE_SANDBOX_LOG": str(sandbox_log)}
    bin_dir = venv / "bin"

    version = run([bin_dir / "mautic-mcp", "--version"], cwd=work_dir, env=env)
    tools = run([bin_dir / "mautic-mcp", "tools", "--sandbox"], cwd=work_dir, env=env)
    imported = run([bin_dir / "python", "-c", IMPORT_ALL], cwd=work_dir, env=env)
    for done in (version, tools, imported):
        assert "DECOY" not in done.stdout + done.stderr, f"{kind}: a decoy package ran: {done.args}"
        checked(done)

    assert re.fullmatch(r"mautic-mcp \d+\.\d+\.\d+\S*\n", version.stdout), version.stdout
    assert "list_contacts" in tools.stdout and "proxy_request" in tools.stdout, tools.stdout + tools.stderr
    assert sandbox_log.exists() and '"action"' in sandbox_log.read_text(), (
        "the tools did not come from membrane-sandbox"
    )
    expected_server_init(kind, venv, source, Path(imported.stdout.strip()))


# --- c: the dev venv's `mautic-mcp demo`, among decoys ---


def test_demo_runs_the_installed_server_not_a_server_folder_in_the_working_directory(
    work_dir: Path, tmp_path: Path
) -> None:
    beside = Path(sys.executable).with_name("mautic-mcp")
    command = str(beside) if beside.is_file() else shutil.which("mautic-mcp")
    assert command, "mautic-mcp is not installed in this environment"
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home, MEMBRANE_SANDBOX_DB=str(tmp_path / "sandbox.db"))
    done = run([command, "demo"], cwd=work_dir, env=env)
    output = done.stdout + done.stderr
    assert "DECOY" not in output and "Traceback" not in output, output
    checked(done)
    count = re.search(r"^(\d+) tools: ", done.stdout, re.M)
    assert count and int(count.group(1)) > 1, done.stdout


# --- d: nothing runs the folders by their bare names ---

BARE_MODULE_RUN = re.compile(
    r"-m\s+(?:server|sandbox|tools)\b"  # python -m <folder>, in prose, shell or strings
    r"|[\"']-m[\"']\s*,\s*[\"'](?:server|sandbox|tools)\b"  # ... and as argv items
)


def test_no_tracked_file_runs_a_folder_by_its_bare_module_name() -> None:
    listed = checked(run(["git", "ls-files", "-z", "*.py", "*.mjs", "*.md", ".ci/run"], cwd=ROOT)).stdout
    files = [name for name in listed.split("\0") if name and "node_modules/" not in name]
    assert any(name.startswith("server/") for name in files) and ".ci/run" in files
    hits = [
        f"{name}:{number}: {line.strip()}"
        for name in files
        if (ROOT / name).is_file()
        for number, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
        if BARE_MODULE_RUN.search(line)
    ]
    assert not hits, "run these as mautic_mcp.<layer> (or the installed command):\n" + "\n".join(hits)
