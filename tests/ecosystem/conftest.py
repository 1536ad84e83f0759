"""Helpers for the ecosystem tests: run a program in a fresh interpreter.

The same ``run_python`` fixture as tests/compat/conftest.py (pytest keeps
conftest files apart, so it is repeated here rather than imported), with a
shorter subprocess timeout: each test runs two programs, and pytest-timeout
allows 60 seconds for the whole test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

SUBPROCESS_TIMEOUT = 25.0


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``TETHER_AS_TRIO``, plus ``extra``."""
    environment = {key: value for key, value in os.environ.items() if key != "TETHER_AS_TRIO"}
    environment.update(extra or {})
    return environment


RunPython = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_python(tmp_path: Path) -> RunPython:
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
            timeout=SUBPROCESS_TIMEOUT,
            env=clean_environment(env),
            cwd=cwd or tmp_path,
            check=False,
        )

    return run
