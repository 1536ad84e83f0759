"""The run loop under load: I/O and thread callbacks are not starved by tasks
that are always runnable, and the wake-up pipe is written only while the
loop sleeps (the ``EntryQueue.sleeping`` protocol)."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

import tether
from tether import _core
from tether._core import _entry_queue
from tether._core._run import _STEPS_BETWEEN_IO_POLLS
from tether.testing import wait_all_tasks_blocked

# A spinning task gives up after this many iterations, so that a starvation
# bug fails the test instead of hanging it.
_SPIN_CAP = 200_000
# Real-time guard for the tests that wait for another thread (never used to
# order anything: the spinning stops as soon as the awaited event happens).
_THREAD_GUARD_SECONDS = 20.0


class _CountingOs:
    """Stands in for ``os`` inside ``_entry_queue``: records every write."""

    def __init__(self) -> None:
        self.writes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        self.writes.append(fd)
        return os.write(fd, data)


@pytest.fixture
def counting_os(monkeypatch: pytest.MonkeyPatch) -> _CountingOs:
    fake = _CountingOs()
    monkeypatch.setattr(_entry_queue, "os", fake)
    return fake


def _count_io_waits(
    runner: _core.Runner, timeouts: list[float], on_sleep: threading.Event | None = None
) -> None:
    # Wrap the backend's wait (looked up per call by Runner.wait_for_io).
    original = runner.io.wait

    def wait(timeout: float) -> list[tuple[int, int]]:
        timeouts.append(timeout)
        if timeout > 0 and on_sleep is not None:
            on_sleep.set()
        return original(timeout)

    runner.io.wait = wait  # type: ignore[method-assign]


def test_readable_socket_wakes_waiter_within_io_poll_interval(run, pair) -> None:
    left, right = pair
    spins = [0]
    woken_at: list[int] = []
    sent_at: list[int] = []

    async def reader() -> None:
        await _core.wait_readable(left)
        woken_at.append(spins[0])

    async def spinner() -> None:
        while not woken_at and spins[0] < _SPIN_CAP:
            spins[0] += 1
            await _core.checkpoint()

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            nursery.start_soon(spinner)
            nursery.start_soon(spinner)
            await _core.checkpoint()
            await _core.checkpoint()
            assert spins[0] > 0  # the spinners are running
            sent_at.append(spins[0])
            right.send(b"x")

    run(main)
    assert woken_at, "the reader never woke while other tasks were busy"
    # Two spinners plus the reader share the loop: at most one poll
    # interval of steps passes before the poll, plus one batch after it.
    assert woken_at[0] - sent_at[0] <= _STEPS_BETWEEN_IO_POLLS + 3


def test_busy_tasks_poll_io_once_per_interval_not_per_step(run) -> None:
    iterations = 40 * _STEPS_BETWEEN_IO_POLLS
    timeouts: list[float] = []

    async def spinner() -> None:
        for _ in range(iterations):
            await _core.checkpoint()

    async def main() -> None:
        _count_io_waits(_core.current_runner(), timeouts)
        async with tether.open_nursery() as nursery:
            nursery.start_soon(spinner)
            nursery.start_soon(spinner)

    run(main)
    steps = 2 * iterations
    # Never fewer polls than the bound allows (fairness), never one per
    # step (the ping-pong fast path).
    assert steps // _STEPS_BETWEEN_IO_POLLS - 2 <= len(timeouts) <= steps // _STEPS_BETWEEN_IO_POLLS + 10


def test_thread_callback_runs_while_tasks_are_busy_without_waking_pipe(counting_os) -> None:
    ran: list[str] = []
    spinning = threading.Event()
    spins = [0]

    async def spinner(give_up: float) -> None:
        spinning.set()
        while not ran and time.monotonic() < give_up:
            spins[0] += 1
            await _core.checkpoint()

    async def main() -> None:
        token = _core.current_trio_token()

        def in_thread() -> None:
            if spinning.wait(_THREAD_GUARD_SECONDS):
                token.run_sync_soon(ran.append, "callback")

        thread = threading.Thread(target=in_thread)
        thread.start()
        give_up = time.monotonic() + _THREAD_GUARD_SECONDS
        try:
            async with tether.open_nursery() as nursery:
                nursery.start_soon(spinner, give_up)
                nursery.start_soon(spinner, give_up)
        finally:
            thread.join()

    # The real clock: with nothing runnable the loop would really sleep, so
    # a write would show up if the protocol were wrong.
    tether.run(main)
    assert ran == ["callback"]
    assert spins[0] > 0
    # The loop never slept: the thread saw sleeping == False and did not write.
    assert counting_os.writes == []


def test_thread_callback_writes_wakeup_pipe_once_when_loop_sleeps(counting_os) -> None:
    sleeping = threading.Event()
    timeouts: list[float] = []
    record: list[object] = []

    async def main() -> None:
        runner = _core.current_runner()
        token = _core.current_trio_token()
        task = _core.current_task()
        _count_io_waits(runner, timeouts, on_sleep=sleeping)

        def wake_main() -> None:
            record.append(runner.entry_queue.sleeping)
            _core.reschedule(task)

        def in_thread() -> None:
            if sleeping.wait(_THREAD_GUARD_SECONDS):
                record.append(runner.entry_queue.sleeping)
                token.run_sync_soon(wake_main)

        thread = threading.Thread(target=in_thread)
        thread.start()
        try:
            await _core.wait_task_rescheduled(_core.abort_always_succeeds)
        finally:
            thread.join()
        # The loop drained the pipe after waking.
        with pytest.raises(BlockingIOError):
            os.read(runner.entry_queue.wakeup_read_fd, 1)

    tether.run(main)
    # The thread saw the loop asleep; the callback ran after it woke.
    assert record == [True, False]
    assert counting_os.writes != [] and len(counting_os.writes) == 1
    assert any(timeout > 0 for timeout in timeouts)


def test_thread_callback_wakes_loop_sleeping_until_far_deadline(counting_os) -> None:
    sleeping = threading.Event()

    async def main() -> float:
        token = _core.current_trio_token()
        _count_io_waits(_core.current_runner(), [], on_sleep=sleeping)
        with _core.CancelScope() as scope:

            def in_thread() -> None:
                if sleeping.wait(_THREAD_GUARD_SECONDS):
                    token.run_sync_soon(scope.cancel)

            thread = threading.Thread(target=in_thread)
            thread.start()
            start = _core.current_time()
            try:
                await tether.sleep(1000)
            finally:
                thread.join()
        assert scope.cancelled_caught
        return _core.current_time() - start

    elapsed = tether.run(main)
    assert elapsed < 100  # woken by the pipe, long before the deadline
    assert len(counting_os.writes) == 1


def test_entry_queue_sleeping_flag_is_false_while_tasks_run(run) -> None:
    async def main() -> None:
        queue = _core.current_runner().entry_queue
        assert queue.sleeping is False
        await tether.sleep(5)
        assert queue.sleeping is False

    run(main)


def test_run_sync_soon_callback_queued_by_itself_waits_for_next_iteration(run) -> None:
    # run_callbacks runs only what was queued when it started: a callback
    # that re-queues itself cannot keep the tasks from running.
    steps: list[str] = []

    async def main() -> None:
        token = _core.current_trio_token()
        rounds = [0]

        def again() -> None:
            rounds[0] += 1
            steps.append(f"callback {rounds[0]}")
            if rounds[0] < 3:
                token.run_sync_soon(again)

        token.run_sync_soon(again)
        for n in range(3):
            await _core.checkpoint()
            steps.append(f"task {n}")

    run(main)
    assert steps == ["callback 1", "task 0", "callback 2", "task 1", "callback 3", "task 2"]


def test_sigint_while_loop_sleeps_in_io_wait_reaches_main_task() -> None:
    # The signal lands in the loop's own (protected) frame while it sleeps:
    # the handler defers it, writes the wake-up pipe, and the loop aborts the
    # main task's wait with KeyboardInterrupt.
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("needs the main thread")
    sleeping = threading.Event()
    seen: list[str] = []

    async def main() -> None:
        _count_io_waits(_core.current_runner(), [], on_sleep=sleeping)
        main_thread = threading.main_thread().ident
        assert main_thread is not None

        def in_thread() -> None:
            if sleeping.wait(_THREAD_GUARD_SECONDS):
                signal.pthread_kill(main_thread, signal.SIGINT)

        thread = threading.Thread(target=in_thread)
        thread.start()
        try:
            await tether.sleep_forever()
        except KeyboardInterrupt:
            seen.append("KeyboardInterrupt in main task")
        finally:
            thread.join()

    tether.run(main)
    assert seen == ["KeyboardInterrupt in main task"]


def test_socket_waiter_is_woken_while_loop_idles_on_real_clock(pair) -> None:
    left, right = pair
    sleeping = threading.Event()

    async def main() -> bytes:
        _count_io_waits(_core.current_runner(), [], on_sleep=sleeping)

        def in_thread() -> None:
            if sleeping.wait(_THREAD_GUARD_SECONDS):
                right.send(b"ping")

        thread = threading.Thread(target=in_thread)
        thread.start()
        try:
            await _core.wait_readable(left)
        finally:
            thread.join()
        return left.recv(10)

    assert tether.run(main) == b"ping"


def test_io_poll_happens_between_batches_when_deadline_pending(run, pair) -> None:
    # A pending deadline also makes the batch loop go back to the deadlines after
    # every batch; I/O readiness is still picked up within the poll bound.
    left, right = pair
    woken: list[int] = []
    spins = [0]

    async def reader() -> None:
        await _core.wait_readable(left)
        woken.append(spins[0])

    async def spinner() -> None:
        while not woken and spins[0] < _SPIN_CAP:
            spins[0] += 1
            await _core.checkpoint()

    async def main() -> None:
        with tether.move_on_after(1000):
            async with tether.open_nursery() as nursery:
                nursery.start_soon(reader)
                await wait_all_tasks_blocked()
                nursery.start_soon(spinner)
                await _core.checkpoint()
                right.send(b"x")
                start = spins[0]
        assert woken and woken[0] - start <= _STEPS_BETWEEN_IO_POLLS + 3

    run(main)

