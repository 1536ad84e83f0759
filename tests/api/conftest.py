"""The one fixture through which black-box tests reach the implementation.

``TETHER_TEST_IMPL=trio`` runs every test in this folder on real trio: a test
that fails there is a wrong test, or a deliberate difference marked
``trio_differs`` and documented in docs/differences.md.
"""

from __future__ import annotations

import importlib
import os
import types
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

IMPL_NAME = os.environ.get("TETHER_TEST_IMPL", "tether")
if IMPL_NAME not in ("tether", "trio"):
    raise RuntimeError(f"TETHER_TEST_IMPL must be 'tether' or 'trio', not {IMPL_NAME!r}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IMPL_NAME != "trio":
        return
    skip = pytest.mark.skip(reason="tether-specific (TETHER_TEST_IMPL=trio)")
    for item in items:
        if "tether_only" in item.keywords or "trio_differs" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def impl() -> types.ModuleType:
    """The implementation under test: ``tether``, or ``trio`` itself."""
    module = importlib.import_module(IMPL_NAME)
    # Submodules that tests reach as attributes (impl.lowlevel, impl.testing, ...).
    for name in ("lowlevel", "testing", "abc", "socket", "to_thread", "from_thread"):
        try:
            importlib.import_module(f"{IMPL_NAME}.{name}")
        except ImportError:
            pass
    return module


@pytest.fixture
def run(impl: types.ModuleType) -> Callable[..., Any]:
    """``run(async_fn, *args, **kwargs)`` on the implementation, in virtual time.

    Uses ``MockClock(autojump_threshold=0)`` unless a ``clock`` is given, so
    sleeps take no real time and ``current_time()`` values are exact.
    """

    def _run(async_fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("clock", impl.testing.MockClock(autojump_threshold=0))
        return impl.run(async_fn, *args, **kwargs)

    return _run
