"""Sequencer: make blocks of code in different tasks run in an explicit order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import final

from .._core import Cancelled
from .._sync import Event


@final
class Sequencer:
    """Runs numbered blocks of code, spread over several tasks, strictly in order.

    Each task wraps a block in ``async with sequencer(position):``. The block at
    position 0 starts at once; the block at position ``n`` starts only after the
    block at ``n - 1`` has finished, whichever task runs it. This makes a test's
    interleaving explicit without sleeping::

        async def producer(seq):
            async with seq(0):
                ...  # runs first
            async with seq(2):
                ...  # runs third

        async def consumer(seq):
            async with seq(1):
                ...  # runs second

    Each position may be used once. If a task is cancelled while waiting for its
    turn, the sequence is broken: that wait and every other wait, now or later,
    raises :exc:`RuntimeError` instead of running its block.
    """

    def __init__(self) -> None:
        # Invariant: the event for position n is set once block n - 1 has ended
        # (or the sequence broke); events are created lazily by either side.
        self._turn_started: dict[int, Event] = {}
        self._claimed_positions: set[int] = set()
        self._is_broken = False

    def _turn(self, position: int) -> Event:
        event = self._turn_started.get(position)
        if event is None:
            event = self._turn_started[position] = Event()
        return event

    def _break(self) -> None:
        # Wake every waiter so that each one notices the break and fails,
        # instead of hanging on a turn that will never come.
        self._is_broken = True
        for event in self._turn_started.values():
            event.set()

    @asynccontextmanager
    async def __call__(self, position: int) -> AsyncIterator[None]:
        """Wait for the turn of ``position``, run the block, then pass the turn on.

        Waiting for a position other than 0 is a checkpoint; position 0 never waits.

        Args:
          position: This block's place in the sequence, counting from 0.

        Raises:
          RuntimeError: if ``position`` was already used, if the sequence is
            broken, or if this wait was cancelled (which breaks the sequence).
        """
        if position in self._claimed_positions:
            raise RuntimeError(f"Attempted to reuse sequence point {position}")
        if self._is_broken:
            raise RuntimeError("sequence broken!")
        self._claimed_positions.add(position)
        if position != 0:
            try:
                await self._turn(position).wait()
            except Cancelled:
                self._break()
                raise RuntimeError("Sequencer wait cancelled -- sequence broken") from None
            if self._is_broken:
                raise RuntimeError("sequence broken!")
        try:
            yield
        finally:
            self._turn(position + 1).set()
