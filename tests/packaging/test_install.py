"""Packaging: the project builds and installs as one import package, `mautic_mcp`, in every way people install it.

The top-level folders `server/`, `tools/`, `membrane/`, `sandbox/` become `mautic_mcp.*` only through the
install (a setuptools package-dir mapping), so these tests build a wheel and an sdist from a copy of the
source tree, install each kind (wheel, sdist, editable default, editable strict) into a fresh venv, and run
the installed commands from a folder full of decoy `server`/`tools`/`sandbox` packages that must never be
the ones imported.

Fresh venvs get their dependencies from this interpreter's site-packages through a `.pth` path line
(tests/packaging/support.py); nothing here needs the network.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

from tests.packaging.support import ROOT, checked, clean_env, fresh_venv, pip_install, project, purelib_of, run

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


def test_wheel_ships_the_sandbox_readme_that_membrane_sandbox_help_points_to(wheel: Path) -> None:
    shipped = zipfile.ZipFile(wheel).read("mautic_mcp/sandbox/README.md").decode()
    assert shipped == (ROOT / "sandbox" / "README.md").read_text(encoding="utf-8")


def test_wheel_metadata_carries_the_version_and_the_registry_marker(wheel: Path) -> None:
    """PyPI's description is the README; the MCP Registry finds `mcp-name: <name>` there to prove ownership."""
    archive = zipfile.ZipFile(wheel)
    (metadata,) = (name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
    parsed = HeaderParser().parsestr(archive.read(metadata).decode())
    assert parsed["Version"] == project()["version"]
    server_name = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))["name"]
    assert f"mcp-name: {server_name}" in parsed.get_payload()


# --- b: every kind of install, in a fresh venv, run from among decoys ---


@pytest.fixture(params=INSTALL_KINDS)
def installed(request: pytest.FixtureRequest, source: Path, tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    kind: str = request.param
    venv, env = fresh_venv(tmp_path)
    target: list[str | Path]
    if kind == "wheel":
        target = [request.getfixturevalue("wheel")]
    elif kind == "sdist":
        target = [request.getfixturevalue("sdist")]
    elif kind == "editable":
        target = ["-e", source]
    else:
        target = ["-e", source, "--config-settings", "editable_mode=strict"]
    pip_install(venv, env, *target)
    return kind, venv, env


def expected_server_init(kind: str, venv: Path, source: Path, server_file: Path) -> None:
    if kind in ("wheel", "sdist"):
        site = purelib_of(venv)
        assert server_file == site / "mautic_mcp" / "server" / "__init__.py"
        assert (site / "mautic_mcp" / "sandbox" / "README.md").is_file(), f"{kind}: the sandbox README is missing"
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


# --- e: what builds leave in the checkout stays out of git ---


def test_build_outputs_in_the_checkout_are_ignored() -> None:
    """`pip install .` and `python -m build` build in the checkout (build/, *.egg-info, dist/), and the strict
    editable install's link tree must stay in build/; `mcpb pack . x.mcpb` writes its bundle there too."""
    outputs = ["build/lib/x.py", "build/__editable__.x/y", "mautic_mcp.egg-info/PKG-INFO", "dist/x.whl", "x.mcpb"]
    done = run(["git", "check-ignore", "--no-index", *outputs], cwd=ROOT)
    assert sorted(done.stdout.split()) == sorted(outputs), done.stdout + done.stderr
