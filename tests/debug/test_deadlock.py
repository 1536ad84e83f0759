"""Deadlock detection: it reports every stuck run, and never a run that can still wake up.

The no-false-positive tests each make one wake source the only thing that
can wake the program, and let that wake source fire only after the
detector has looked (``WhenIdle``, an instrument installed after the
detector, acts in the same ``before_io_wait`` call).  ``SeenBy`` records
what the detector found each time: the expected wake source must be named.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

import outcome
import pytest

import tether
import tether.debug
from tether._core import RUN
from tether.abc import Instrument
from tether.debug import DeadlockError
from tether.debug._deadlock import wake_sources
from tether.lowlevel import Abort, current_trio_token, wait_task_rescheduled
from tether.testing import MockClock, wait_all_tasks_blocked


class WhenIdle(Instrument):
    """Calls ``action()`` once, the first time the loop is about to wait with nothing runnable
    (and ``condition()`` holds)."""

    def __init__(self, action: Callable[[], object], condition: Callable[[], bool] = lambda: True) -> None:
        self.action: Callable[[], object] | None = action
        self.condition = condition

    def before_io_wait(self, timeout: float) -> None:
        runner = RUN.runner
        if self.action is not None and runner is not None and not runner.runq and self.condition():
            action, self.action = self.action, None
            action()


class SeenBy(Instrument):
    """Records ``wake_sources()`` each time the loop is about to wait with nothing runnable."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def before_io_wait(self, timeout: float) -> None:
        runner = RUN.runner
        if runner is not None and not runner.runq:
            self.seen.append(wake_sources(runner))


def run_detected(main: Callable[[], Any], *extra: Instrument, clock: MockClock | None = None) -> Any:
    return tether.run(main, instruments=[tether.debug.detect_deadlocks(), *extra], clock=clock)


# ---- deadlocks are reported -------------------------------------------------------


def test_lock_cycle_is_reported_with_the_task_tree() -> None:
    async def main() -> None:
        first, second = tether.Lock(), tether.Lock()

        async def take(one: tether.Lock, other: tether.Lock) -> None:
            async with one:
                await tether.sleep(0)
                async with other:
                    pass

        async with tether.open_nursery() as nursery:
            nursery.start_soon(take, first, second, name="first then second")
            nursery.start_soon(take, second, first, name="second then first")

    with pytest.RaisesGroup(DeadlockError) as caught:
        run_detected(main)
    message = str(caught.value.exceptions[0])
    assert message.startswith("deadlock: every task is blocked, and nothing can ever wake one of them\n")
    assert "task 'first then second': blocked: Lock.acquire" in message
    assert "task 'second then first': blocked: Lock.acquire" in message


def test_event_never_set_is_reported() -> None:
    async def main() -> None:
        await tether.Event().wait()

    with pytest.raises(DeadlockError, match=r"(?s)tether task tree.*blocked: Event\.wait"):
        run_detected(main)


def test_receive_on_a_channel_nobody_sends_to_is_reported() -> None:
    async def main() -> None:
        send_channel, receive_channel = tether.open_memory_channel[int](0)
        async with send_channel, receive_channel:
            await receive_channel.receive()

    with pytest.raises(DeadlockError, match="blocked: receiving from a memory channel"):
        run_detected(main)


def test_deadlock_after_worker_threads_finished_is_reported() -> None:
    # A worker that just reported back must not look like a thread that
    # still holds the run's token (it did, for a moment, before the fix).
    async def main() -> None:
        for _ in range(20):
            await tether.to_thread.run_sync(int)
        await tether.Event().wait()

    for _ in range(10):
        with pytest.raises(DeadlockError):
            run_detected(main)


def test_deadlock_under_an_autojump_clock_is_reported_instead_of_spinning() -> None:
    async def main() -> None:
        await tether.sleep(5)  # a deadline first: the clock jumps over it
        await tether.Event().wait()

    clock = MockClock(autojump_threshold=0)
    with pytest.raises(DeadlockError):
        run_detected(main, clock=clock)
    assert clock.current_time() == 5.0


def test_environment_variable_turns_detection_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_DETECT_DEADLOCKS", "1")

    async def main() -> None:
        await tether.Event().wait()

    with pytest.raises(DeadlockError):
        tether.run(main)


def test_detector_added_during_the_run_works() -> None:
    async def main() -> None:
        tether.lowlevel.add_instrument(tether.debug.detect_deadlocks())
        await tether.Event().wait()

    with pytest.raises(DeadlockError):
        tether.run(main)


def test_deadlock_in_a_guest_run_is_reported_to_the_host() -> None:
    async def stuck() -> None:
        await tether.Event().wait()

    async def host() -> outcome.Outcome[None]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[outcome.Outcome[None]] = loop.create_future()
        tether.lowlevel.start_guest_run(
            stuck,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=done.set_result,
            instruments=[tether.debug.detect_deadlocks()],
        )
        return await done

    result = asyncio.run(host())
    assert isinstance(result, outcome.Error) and isinstance(result.error, DeadlockError)


def test_environment_detection_leaves_a_guest_woken_by_its_host_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: with TETHER_DETECT_DEADLOCKS=1, a guest whose tasks all
    # wait for the host (as anyio's test runner's do) was reported as stuck.
    monkeypatch.setenv("TETHER_DETECT_DEADLOCKS", "1")
    send_channel, receive_channel = tether.open_memory_channel[str](1)

    async def guest() -> str:
        return await receive_channel.receive()  # only the host sends

    async def host() -> outcome.Outcome[str]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[outcome.Outcome[str]] = loop.create_future()
        tether.lowlevel.start_guest_run(
            guest,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=done.set_result,
        )
        for _ in range(20):  # let the guest block and its loop look around
            await asyncio.sleep(0)
        send_channel.send_nowait("from the host")
        return await asyncio.wait_for(done, 10)

    assert asyncio.run(host()).unwrap() == "from the host"


def test_monitor_waiting_for_clients_does_not_hide_a_deadlock(runtime_dir: object) -> None:
    async def main() -> None:
        tether.debug.serve_monitor()
        await tether.Event().wait()

    with pytest.raises(DeadlockError):
        run_detected(main)


def test_wait_that_refuses_the_error_is_reported_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    main_task: list[tether.lowlevel.Task] = []

    async def main() -> str:
        main_task.append(tether.lowlevel.current_task())
        return await wait_task_rescheduled(lambda _: Abort.FAILED)  # type: ignore[no-any-return]

    def wake_main() -> None:
        tether.lowlevel.reschedule(main_task[0], outcome.Value("woken"))

    assert run_detected(main, WhenIdle(wake_main)) == "woken"
    err = capsys.readouterr().err
    assert err.startswith("tether: deadlock detected, but the main task's wait refused the DeadlockError:\n")


# ---- runs that can still wake up are left alone ------------------------------------


def test_no_report_while_a_task_waits_for_io() -> None:
    left, right = socket.socketpair()
    seen = SeenBy()

    async def main() -> bytes:
        await tether.lowlevel.wait_readable(left)
        return left.recv(10)

    with left, right:
        assert run_detected(main, seen, WhenIdle(lambda: right.send(b"x"))) == b"x"
        assert seen.seen[0] == f"a task waits for fd {left.fileno()}"


def test_no_report_while_a_deadline_is_pending() -> None:
    seen = SeenBy()

    async def main() -> float:
        with tether.move_on_after(7):
            await tether.Event().wait()
        return tether.current_time()

    assert run_detected(main, seen, clock=MockClock(autojump_threshold=0)) == 7.0
    assert seen.seen[0] == "a deadline is pending"


def test_no_report_while_a_worker_thread_runs() -> None:
    go = threading.Event()
    seen = SeenBy()

    async def main() -> str:
        await tether.to_thread.run_sync(go.wait)
        return "done"

    assert run_detected(main, seen, WhenIdle(go.set)) == "done"
    assert seen.seen[0] == "a worker thread is running"


def test_no_report_while_an_abandoned_thread_holds_a_limiter_token() -> None:
    go = threading.Event()
    seen = SeenBy()
    waiting_for_limiter: list[bool] = []

    async def main() -> str:
        limiter = tether.CapacityLimiter(1)
        run_abandonable = functools.partial(
            tether.to_thread.run_sync, abandon_on_cancel=True, limiter=limiter
        )
        with tether.CancelScope() as scope:
            async with tether.open_nursery() as nursery:
                nursery.start_soon(run_abandonable, go.wait)
                await wait_all_tasks_blocked()
                scope.cancel()
        waiting_for_limiter.append(True)
        async with limiter:  # released when the abandoned thread reports back
            return "done"

    release = WhenIdle(go.set, condition=lambda: bool(waiting_for_limiter))
    assert run_detected(main, seen, release) == "done"
    assert seen.seen[-1] == "a worker thread is running"


def test_no_report_while_a_thread_may_still_call_run_sync_soon() -> None:
    go = threading.Event()
    seen = SeenBy()

    async def main() -> str:
        event = tether.Event()
        token = current_trio_token()

        def thread_body() -> None:
            go.wait()
            token.run_sync_soon(event.set)

        thread = threading.Thread(target=thread_body)
        thread.start()
        await event.wait()
        thread.join()
        return "done"

    assert run_detected(main, seen, WhenIdle(go.set)) == "done"
    assert seen.seen[0] == "something else holds the run's TrioToken (a thread or a signal receiver)"


def test_no_report_while_a_thread_holds_the_token() -> None:
    go = threading.Event()
    handed: list[tether.lowlevel.TrioToken] = []
    seen = SeenBy()

    async def main() -> str:
        event = tether.Event()

        def thread_body() -> None:
            go.wait()
            tether.from_thread.run_sync(event.set, trio_token=handed.pop())

        thread = threading.Thread(target=thread_body)
        thread.start()
        handed.append(current_trio_token())
        await event.wait()
        thread.join()
        return "done"

    assert run_detected(main, seen, WhenIdle(go.set)) == "done"
    assert seen.seen[0] == "something else holds the run's TrioToken (a thread or a signal receiver)"


def test_no_report_while_a_signal_receiver_is_open() -> None:
    seen = SeenBy()

    async def main() -> int:
        with tether.open_signal_receiver(signal.SIGUSR2) as signals:
            async for signum in signals:
                return signum
        raise AssertionError("unreachable")

    assert run_detected(main, seen, WhenIdle(lambda: signal.raise_signal(signal.SIGUSR2))) == signal.SIGUSR2
    assert seen.seen[0] == "something else holds the run's TrioToken (a thread or a signal receiver)"


def test_no_report_while_a_task_waits_for_all_tasks_blocked() -> None:
    seen = SeenBy()

    async def main() -> str:
        event = tether.Event()

        async def unblock() -> None:
            await wait_all_tasks_blocked()
            event.set()

        async with tether.open_nursery() as nursery:
            nursery.start_soon(unblock)
            await event.wait()
        return "done"

    assert run_detected(main, seen, clock=MockClock(autojump_threshold=0)) == "done"
    assert seen.seen[0] == "a task waits in wait_all_tasks_blocked"


def test_run_that_finishes_is_not_disturbed() -> None:
    async def main() -> int:
        async with tether.open_nursery() as nursery:
            for delay in (1, 2, 3):
                nursery.start_soon(tether.sleep, delay)
        return 42

    assert run_detected(main, clock=MockClock(autojump_threshold=0)) == 42
