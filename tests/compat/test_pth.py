"""``tether-as-trio.pth``: with ``TETHER_AS_TRIO=1``, tether installs itself at interpreter start."""

from __future__ import annotations

import importlib.metadata
import site
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

RunPython = Callable[..., subprocess.CompletedProcess[str]]  # the run_python fixture (conftest.py)

REPO = Path(__file__).resolve().parents[2]
PTH_NAME = "tether-as-trio.pth"
WHO_IS_TRIO = "import sys, trio; print(trio.__name__, 'tether' in sys.modules)"
WHAT_IS_LOADED = "import sys; print('tether' in sys.modules, 'trio' in sys.modules)"


def test_pth_file_is_installed_at_the_root_of_site_packages() -> None:
    files = importlib.metadata.files("tether") or []
    [pth] = [file for file in files if file.name == PTH_NAME]
    assert pth.parent == Path()  # not inside a package directory
    location = Path(str(pth.locate())).resolve()
    site_dirs = {Path(entry).resolve() for entry in [*site.getsitepackages(), site.getusersitepackages()]}
    assert location.parent in site_dirs
    assert location.is_file()


def test_with_tether_as_trio_set_import_trio_gives_tether(run_python: RunPython) -> None:
    result = run_python("-c", WHO_IS_TRIO, env={"TETHER_AS_TRIO": "1"})
    assert (result.returncode, result.stdout) == (0, "tether True\n"), result.stderr


def test_without_the_variable_nothing_is_imported_at_start(run_python: RunPython) -> None:
    result = run_python("-c", WHAT_IS_LOADED)
    assert (result.returncode, result.stdout) == (0, "False False\n"), result.stderr


def test_other_values_of_the_variable_do_nothing(run_python: RunPython) -> None:
    for value in ("0", "", "yes"):
        result = run_python("-c", WHAT_IS_LOADED, env={"TETHER_AS_TRIO": value})
        assert (result.returncode, result.stdout) == (0, "False False\n"), (value, result.stderr)


def test_without_the_variable_import_trio_gives_real_trio(run_python: RunPython) -> None:
    result = run_python("-c", WHO_IS_TRIO)
    assert (result.returncode, result.stdout) == (0, "trio False\n"), result.stderr


def test_a_regular_build_puts_the_pth_at_the_wheel_root(tmp_path: Path) -> None:
    # A wheel is made of build_lib: what lands at its root lands at the root of site-packages.
    build_lib = tmp_path / "build-lib"
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build_lib)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (build_lib / "tether" / "__init__.py").is_file()
    line = (build_lib / PTH_NAME).read_text()
    assert line.startswith("import os;")
    assert '"TETHER_AS_TRIO") == "1"' in line
    assert line.count("\n") == 1
