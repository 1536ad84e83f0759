"""``open_signal_receiver``: Unix signals as an async iterator.

A Python signal handler runs in the main thread between two bytecodes,
possibly in the middle of the loop's own code, so ours does the least it
can: it notes the signal number in a set (coalescing repeats) and hands
the rest to the loop with ``TrioToken.run_sync_soon``, which takes no lock
on that path.  The loop then queues the number on the receiver and wakes
the task iterating it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Generator, Iterable
from contextlib import contextmanager
from types import FrameType
from typing import Any, final

from ._core import (
    BusyResourceError,
    ParkingLot,
    TrioToken,
    checkpoint,
    current_trio_token,
)

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


@final
class SignalReceiver:
    """The async iterator ``open_signal_receiver`` yields: signal numbers, as they arrive.

    Coalesced: a signal that arrives again before it was received is
    reported once.  Different signals come out in the order they arrived.
    """

    __slots__ = ("_closed", "_lot", "_pending", "_queued", "_receiving", "_token")

    def __init__(self, token: TrioToken) -> None:
        self._token = token
        # Signal numbers waiting to be received, in arrival order (a dict as ordered set).
        self._pending: dict[int, None] = {}
        # Signal numbers the handler already sent to the loop; touched by the
        # handler, so only with single atomic set operations.
        self._queued: set[int] = set()
        self._lot = ParkingLot()
        self._closed = False
        self._receiving = False

    # In the signal handler (main thread, between any two bytecodes).
    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum not in self._queued:
            self._queued.add(signum)
            self._token.run_sync_soon(self._add, signum)

    # In the loop.
    def _add(self, signum: int) -> None:
        self._queued.discard(signum)
        if self._closed:
            # Arrived just as the block exited: the original handler has it.
            signal.raise_signal(signum)
        else:
            self._pending[signum] = None
            self._lot.unpark()

    def _redeliver_pending(self) -> None:
        # After the original handlers are back: they get what we did not use.
        self._closed = True
        while self._pending:
            signum = next(iter(self._pending))
            del self._pending[signum]
            try:
                signal.raise_signal(signum)
            except BaseException:
                self._redeliver_pending()  # the rest still go out
                raise

    def __aiter__(self) -> SignalReceiver:
        return self

    async def __anext__(self) -> int:
        """Wait for the next signal and return its number. Always a checkpoint.

        Raises:
            RuntimeError: the ``open_signal_receiver`` block has exited.
            BusyResourceError: another task is iterating this receiver.
        """
        if self._closed:
            raise RuntimeError("open_signal_receiver block already exited")
        if self._receiving:
            raise BusyResourceError("another task is already iterating this signal receiver")
        self._receiving = True
        try:
            if self._pending:
                await checkpoint()
            else:
                await self._lot.park()
            if not self._pending:  # the block exited while we waited
                raise RuntimeError("open_signal_receiver block already exited")
            signum = next(iter(self._pending))
            del self._pending[signum]
            return signum
        finally:
            self._receiving = False


@contextmanager
def _handlers_installed(
    signals: Iterable[int], handler: Callable[[int, FrameType | None], None]
) -> Generator[None, None, None]:
    originals: dict[int, _Handler] = {}
    try:
        for signum in signals:
            originals[signum] = signal.signal(signum, handler)
        yield
    finally:
        for signum, original in originals.items():
            signal.signal(signum, original)


@contextmanager
def open_signal_receiver(*signals: signal.Signals | int) -> Generator[SignalReceiver, None, None]:
    """Catch signals while the block runs; yields an async iterator of their numbers.

    ::

        with tether.open_signal_receiver(signal.SIGHUP) as signals:
            async for signum in signals:
                reload_configuration()

    The original handlers are restored on exit, and signals that arrived
    but were not received are then delivered to them (so none is lost to
    the race of arriving just before the exit).

    Args:
        *signals: the signals to catch (``signal.SIGHUP``, ...).

    Raises:
        TypeError: no signals were given.
        RuntimeError: not in the main thread (Python delivers signals to
            handlers only there), or not inside a tether run.
    """
    if not signals:
        raise TypeError(
            "No signals were provided; pass at least one, as in "
            "open_signal_receiver(signal.SIGHUP)"
        )
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            "Sorry, open_signal_receiver is only possible when running in Python "
            "interpreter's main thread"
        )
    receiver = SignalReceiver(current_trio_token())
    try:
        with _handlers_installed(signals, receiver._handle):
            yield receiver
    finally:
        receiver._redeliver_pending()
