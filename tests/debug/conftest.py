"""Fixtures for the tests of ``tether.debug`` (tether-only features: never run on trio).

Every test leaves the process-wide debug settings as it found them, and
monitor sockets go to a private runtime directory under ``tmp_path``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import tether.debug
from tether.debug import _settings

DEBUG_VARIABLES = (
    "TETHER_MONITOR",
    "TETHER_DETECT_DEADLOCKS",
    "TETHER_TRACE_CANCEL",
    "TETHER_SCHEDULE_SEED",
)


@pytest.fixture(autouse=True)
def clean_debug_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No debug variable from the outer environment; settings reset afterwards."""
    for name in DEBUG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield
    tether.debug.trace_cancellations(False)
    tether.debug.set_schedule_seed(None)
    assert not _settings._fifo


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``$XDG_RUNTIME_DIR`` for the test: monitor sockets go to ``<it>/tether``.

    A short path of its own under /tmp (not ``tmp_path``): a Unix socket's
    path must fit in 108 bytes.
    """
    directory = Path(tempfile.mkdtemp(prefix="tether-debug-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)
