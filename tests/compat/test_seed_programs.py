"""The seed's programs (examples/seeds/) print the same under ``python -m tether`` as under trio.

Each runs twice in fresh interpreters: ``python -m tether prog.py`` and
``python prog.py`` (real trio).  trio randomizes the order of tasks woken
together, so where several tasks print at the same moment the lines are
compared as sets.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import tether

RunPython = Callable[..., subprocess.CompletedProcess[str]]  # the run_python fixture (conftest.py)

SEEDS = Path(__file__).resolve().parents[2] / "examples" / "seeds"


def run_both(run_python: RunPython, name: str) -> tuple[str, str]:
    on_tether = run_python("-m", "tether", str(SEEDS / name))
    on_trio = run_python(str(SEEDS / name))
    assert on_trio.returncode == 0, on_trio.stderr
    assert on_tether.returncode == 0, on_tether.stderr
    return on_tether.stdout, on_trio.stdout


def test_tcp_client(run_python: RunPython) -> None:
    on_tether, on_trio = run_both(run_python, "tcp_client.py")
    assert on_tether == on_trio == "Server Reply: Pong for: Ping from Trio client\n"


def test_log_file(run_python: RunPython, tmp_path: Path) -> None:
    (tmp_path / "system.log").write_text("boot ok\n\n   \nservice up\n")
    on_tether, on_trio = run_both(run_python, "log_file.py")
    assert on_tether == on_trio == "Log Entry: boot ok\nLog Entry: service up\n"


@pytest.mark.xfail(
    not hasattr(tether, "SSLStream"),
    reason="httpcore's trio backend checks isinstance(stream, trio.SSLStream) even for plain HTTP",
    strict=True,
)
def test_http_fetch(run_python: RunPython) -> None:
    on_tether, on_trio = run_both(run_python, "http_fetch.py")
    assert sorted(on_tether.splitlines()) == sorted(on_trio.splitlines())
    assert len(on_tether.splitlines()) == 2


@pytest.mark.slow
def test_structured(run_python: RunPython) -> None:
    on_tether, on_trio = run_both(run_python, "structured.py")
    assert on_tether == on_trio
    assert on_tether.splitlines()[-1] == "Primary operation finished"


@pytest.mark.slow
def test_semaphore(run_python: RunPython) -> None:
    on_tether, on_trio = run_both(run_python, "semaphore.py")
    assert sorted(on_tether.splitlines()) == sorted(on_trio.splitlines())
    holding = 0
    for line in on_tether.splitlines():
        holding += 1 if line.endswith("acquired lock") else -1
        assert 0 <= holding <= 3
