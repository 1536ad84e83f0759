"""The ecosystem tests use ``run_python`` (tests/conftest.py) with a shorter timeout.

Each test runs two programs, and pytest-timeout allows 60 seconds for the
whole test.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def subprocess_timeout() -> float:
    return 25.0
