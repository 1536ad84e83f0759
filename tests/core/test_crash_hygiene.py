"""After an internal crash (``TrioInternalError``) tether leaves nothing
behind: abandoned coroutines are closed on the spot (no "coroutine ignored
GeneratorExit" from the garbage collector later), the run's fds and
per-thread state are released, and the next run works."""

from __future__ import annotations

import gc
import inspect
import os
import signal
import socket
import sys
import threading
import types
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import sniffio

import tether
from tether import _core
from tether._core import _asyncgens
from tether.testing import wait_all_tasks_blocked


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def boom() -> None:
    raise ValueError("boom")


class Leftovers:
    """Unraisable exceptions and warnings that surface while it is active."""

    def __init__(self) -> None:
        self.unraisable: list[str] = []
        self.warnings: list[str] = []


@pytest.fixture
def leftovers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Leftovers]:
    found = Leftovers()
    monkeypatch.setattr(
        sys, "unraisablehook", lambda info: found.unraisable.append(f"{info.exc_value!r} in {info.object!r}")
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield found
        found.warnings.extend(str(warning.message) for warning in caught)


def crash_with_tasks_everywhere(record: list[str], sock: socket.socket) -> None:
    # A run whose tasks are blocked in every kind of wait when a
    # run_sync_soon callback raises.

    async def stubborn() -> None:
        try:
            await tether.sleep_forever()
        finally:
            record.append("stubborn finally")
            await _core.checkpoint()  # awaiting while being closed
            record.append("stubborn resumed")  # pragma: no cover

    async def grandchild() -> None:
        try:
            await tether.sleep(100)
        finally:
            record.append("grandchild finally")

    async def child_with_nursery() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(grandchild)
            await _core.wait_readable(sock)

    async def starting(task_status: Any) -> None:
        try:
            await tether.sleep_forever()  # never calls started()
        finally:
            record.append("starting finally")

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(stubborn)
            nursery.start_soon(child_with_nursery)
            nursery.start_soon(nursery.start, starting)
            await wait_all_tasks_blocked()
            _core.current_trio_token().run_sync_soon(boom)
            await tether.sleep_forever()

    with pytest.raises(tether.TrioInternalError) as caught:
        tether.run(main, clock=tether.testing.MockClock(autojump_threshold=0))
    causes = []
    error: BaseException | None = caught.value
    while error is not None:
        causes.append(type(error).__name__)
        error = error.__cause__
    assert causes[-1] == "ValueError"


def test_raising_callback_gives_internal_error_caused_by_it(pair) -> None:
    record: list[str] = []
    crash_with_tasks_everywhere(record, pair[0])


def test_crash_closes_abandoned_coroutines_at_once(pair, leftovers) -> None:
    record: list[str] = []
    crash_with_tasks_everywhere(record, pair[0])
    # Closed before run() returned, not later by the garbage collector.
    assert sorted(record) == [
        "grandchild finally",
        "starting finally",
        "stubborn finally",
    ]
    gc.collect()
    assert leftovers.unraisable == []
    assert leftovers.warnings == []


def test_crash_leaks_no_fds_or_threads(pair) -> None:
    fds_before = open_fds()
    threads_before = set(threading.enumerate())
    crash_with_tasks_everywhere([], pair[0])
    gc.collect()
    assert open_fds() == fds_before
    assert set(threading.enumerate()) == threads_before


def test_crash_restores_per_thread_state(pair) -> None:
    hooks_before = sys.get_asyncgen_hooks()
    sigint_before = signal.getsignal(signal.SIGINT)
    crash_with_tasks_everywhere([], pair[0])
    assert _core.RUN.runner is None
    assert sys.get_asyncgen_hooks() == hooks_before
    assert signal.getsignal(signal.SIGINT) is sigint_before
    assert sniffio.thread_local.name is None
    assert not _core.in_trio_run()


def test_next_run_after_crash_works(run, pair) -> None:
    crash_with_tasks_everywhere([], pair[0])

    async def main() -> float:
        await tether.sleep(3)
        return _core.current_time()

    assert run(main) == 3


def test_crash_in_callback_while_loop_sleeps(leftovers) -> None:
    # The callback arrives from another thread while the loop sleeps.
    async def main() -> None:
        token = _core.current_trio_token()
        thread = threading.Thread(target=token.run_sync_soon, args=(boom,))
        thread.start()
        try:
            await tether.sleep_forever()
        finally:
            thread.join()

    with pytest.raises(tether.TrioInternalError):
        tether.run(main)
    gc.collect()
    assert leftovers.unraisable == []


def test_crash_with_suspended_async_generator_leaves_nothing_behind(leftovers) -> None:
    record: list[str] = []

    async def numbers() -> Any:
        try:
            yield 1
            yield 2
        finally:
            record.append("generator finally")

    async def holder() -> None:
        iterator = numbers()
        await iterator.__anext__()
        await tether.sleep_forever()

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(holder)
            await wait_all_tasks_blocked()
            _core.current_trio_token().run_sync_soon(boom)
            await tether.sleep_forever()

    with pytest.raises(tether.TrioInternalError):
        tether.run(main, clock=tether.testing.MockClock(autojump_threshold=0))
    gc.collect()
    # Close (and count) closing tasks that were spawned but never ran, so
    # that their "never awaited" warning cannot surface in a later test.
    never_started = close_unstarted(_asyncgens._aclose_quietly.__code__)
    assert never_started == 0
    assert leftovers.unraisable == []
    assert record == ["generator finally"]


def close_unstarted(code: types.CodeType) -> int:
    count = 0
    for candidate in gc.get_objects():
        if (
            isinstance(candidate, types.CoroutineType)
            and candidate.cr_code is code
            and inspect.getcoroutinestate(candidate) == inspect.CORO_CREATED
        ):
            candidate.close()
            count += 1
    return count


def test_callback_raising_at_close_still_releases_the_thread() -> None:
    # Deterministic stand-in for a thread whose callback lands just as the
    # run finishes: after_run queues it, close() runs it.
    class QueuesLateCallback(_core.Instrument):
        token: _core.TrioToken

        def after_run(self) -> None:
            self.token.run_sync_soon(boom)

    late = QueuesLateCallback()

    async def main() -> None:
        late.token = _core.current_trio_token()

    async def again() -> str:
        return "ran"

    try:
        with pytest.raises(tether.TrioInternalError):
            tether.run(main, instruments=[late])
        assert _core.RUN.runner is None
        assert sniffio.thread_local.name is None
        assert tether.run(again) == "ran"
    finally:
        # Undo what a failed __exit__ left behind, for the tests after this one.
        stuck = _core.RUN.runner
        if stuck is not None:
            stuck.io.close()
            _core.RUN.runner = None
            sniffio.thread_local.name = None
