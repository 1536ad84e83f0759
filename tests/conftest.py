"""Helpers shared by the test directories: run Python in a fresh interpreter.

Everything that replaces ``trio`` in ``sys.modules`` runs in a subprocess, so
nothing leaks into the other tests of this process.  (pytester is enabled for
the whole suite with ``-p pytester`` in pyproject.toml: pytest refuses
``pytest_plugins`` in a conftest below the top level.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``TETHER_AS_TRIO``, plus ``extra``."""
    environment = {key: value for key, value in os.environ.items() if key != "TETHER_AS_TRIO"}
    environment.update(extra or {})
    return environment


RunPython = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def subprocess_timeout() -> float:
    """Seconds one ``run_python`` call may take (a directory's conftest may lower it)."""
    return 60.0


@pytest.fixture
def run_python(tmp_path: Path, subprocess_timeout: float) -> RunPython:
    """``run_python(*args, env=None, cwd=tmp_path)``: ``python *args`` in a fresh interpreter.

    Returns the finished process, with ``stdout`` and ``stderr`` as text.
    """

    def run(
        *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            timeout=subprocess_timeout,
            env=clean_environment(env),
            cwd=cwd or tmp_path,
            check=False,
        )

    return run
