"""Fixtures for the white-box tests of ``tether._core``.

These tests import tether's internals directly and never run on trio.
Time is virtual (``MockClock(autojump_threshold=0)``) unless a test says
otherwise; the few that need a real clock say why.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

import tether
from tether.testing import MockClock


@pytest.fixture
def run() -> Callable[..., Any]:
    """``run(async_fn, *args, **kwargs)``: ``tether.run`` in virtual time by default."""

    def _run(async_fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("clock", MockClock(autojump_threshold=0))
        return tether.run(async_fn, *args, **kwargs)

    return _run


@pytest.fixture
def fifo() -> Iterator[None]:
    """Tasks run in the order they became runnable, even under ``TETHER_SCHEDULE_SEED``.

    For the tests whose subject is that order (which a schedule seed shuffles).
    """
    from tether.debug._settings import seeded

    with seeded(None):
        yield


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected, non-blocking loopback socket pair, closed afterwards."""
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)
    with left, right:
        yield left, right
