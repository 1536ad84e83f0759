"""Black-box tests of to_thread, from_thread, start_thread_soon and the thread-test helpers.

Threads run in real time, so these tests run on the real clock (``clock=None``)
and order events with ``threading.Event`` and ``wait_all_tasks_blocked``
(a task waiting for its thread counts as blocked), never with sleeps.
Every wait on a thread is bounded by ``TIMEOUT``.
"""

from __future__ import annotations

import contextvars
import gc
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

TIMEOUT = 10.0

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


@pytest.fixture
def rrun(impl) -> Callable[..., Any]:
    """``run`` on the real clock: thread round trips take real time."""

    def _run(async_fn: Callable[..., Any], *args: Any) -> Any:
        return impl.run(async_fn, *args)

    return _run


def wait(event: threading.Event) -> None:
    assert event.wait(TIMEOUT), "timed out waiting for another thread"


# ---------------------------------------------------------------- to_thread.run_sync


def test_run_sync_returns_the_functions_result(rrun, impl) -> None:
    async def main():
        return await impl.to_thread.run_sync(lambda a, b: a + b, 2, 3)

    assert rrun(main) == 5


def test_run_sync_runs_in_another_thread(rrun, impl) -> None:
    async def main():
        return await impl.to_thread.run_sync(threading.get_ident)

    assert rrun(main) != threading.get_ident()


def test_run_sync_propagates_the_functions_exception(rrun, impl) -> None:
    def fail():
        raise KeyError("boom")

    async def main():
        await impl.to_thread.run_sync(fail)

    with pytest.raises(KeyError, match="boom"):
        rrun(main)


def test_run_sync_sets_the_thread_name(rrun, impl) -> None:
    async def main():
        return await impl.to_thread.run_sync(
            lambda: threading.current_thread().name, thread_name="my worker"
        )

    assert rrun(main) == "my worker"


def test_run_sync_default_thread_name_names_function_and_task(rrun, impl) -> None:
    def whoami():
        return threading.current_thread().name

    async def main():
        return await impl.to_thread.run_sync(whoami)

    name = rrun(main)
    assert name.startswith("whoami from ")
    assert "main" in name


def test_run_sync_reuses_an_idle_thread(rrun, impl) -> None:
    async def main():
        first = await impl.to_thread.run_sync(threading.get_ident)
        second = await impl.to_thread.run_sync(threading.get_ident)
        return first, second

    first, second = rrun(main)
    assert first == second


def test_run_sync_with_an_async_function_raises_type_error(rrun, impl) -> None:
    async def async_fn():
        return 1

    async def main():
        await impl.to_thread.run_sync(async_fn)

    with pytest.raises(TypeError, match="asynchronous"):
        rrun(main)


@pytest.mark.tether_only
def test_run_sync_async_function_message_says_to_await_it(rrun, impl) -> None:
    async def async_fn():
        return 1

    async def main():
        await impl.to_thread.run_sync(async_fn)

    with pytest.raises(TypeError, match="await it directly"):
        rrun(main)


def test_run_sync_copies_context_into_the_thread(rrun, impl) -> None:
    def read_and_change():
        seen = var.get()
        var.set("changed in thread")
        return seen

    async def main():
        var.set("from task")
        seen = await impl.to_thread.run_sync(read_and_change)
        return seen, var.get()

    assert rrun(main) == ("from task", "from task")


def test_run_sync_is_a_checkpoint(rrun, impl) -> None:
    async def main():
        with impl.testing.assert_checkpoints():
            await impl.to_thread.run_sync(lambda: None)

    rrun(main)


def test_run_sync_in_cancelled_scope_raises_without_running(rrun, impl) -> None:
    ran = []

    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            await impl.to_thread.run_sync(ran.append, 1)
        return scope.cancelled_caught

    assert rrun(main) is True
    assert ran == []


def test_run_sync_not_abandoned_waits_for_the_thread_when_cancelled(rrun, impl) -> None:
    release = threading.Event()
    events = []

    def blocking():
        wait(release)
        events.append("thread done")
        return "result"

    async def worker(scope_box):
        with impl.CancelScope() as scope:
            scope_box.append(scope)
            result = await impl.to_thread.run_sync(blocking)
            events.append(("returned", result))
            await impl.lowlevel.checkpoint()
            events.append("not reached")
        events.append(("caught", scope.cancelled_caught))

    async def main():
        box = []
        async with impl.open_nursery() as nursery:
            nursery.start_soon(worker, box)
            await impl.testing.wait_all_tasks_blocked()
            box[0].cancel()
            await impl.testing.wait_all_tasks_blocked()
            events.append("cancel requested")
            release.set()

    rrun(main)
    assert events == ["cancel requested", "thread done", ("returned", "result"), ("caught", True)]


def test_run_sync_abandoned_on_cancel_returns_at_once(rrun, impl) -> None:
    release = threading.Event()
    finished = threading.Event()

    def blocking():
        wait(release)
        finished.set()

    async def main():
        async with impl.open_nursery() as nursery:

            async def call():
                await impl.to_thread.run_sync(blocking, abandon_on_cancel=True)

            nursery.start_soon(call)
            await impl.testing.wait_all_tasks_blocked()
            count_while_waiting = impl.testing.active_thread_count()
            nursery.cancel_scope.cancel()
        abandoned_early = not finished.is_set()
        count_after = impl.testing.active_thread_count()
        release.set()
        await impl.to_thread.run_sync(wait, finished)
        return count_while_waiting, abandoned_early, count_after

    assert rrun(main) == (1, True, 0)


def test_abandoned_thread_holds_its_limiter_token_until_it_finishes(rrun, impl) -> None:
    release = threading.Event()

    async def main():
        limiter = impl.CapacityLimiter(1)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(
                lambda: impl.to_thread.run_sync(
                    wait, release, abandon_on_cancel=True, limiter=limiter
                )
            )
            await impl.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        held = limiter.borrowed_tokens
        release.set()
        async with limiter:  # waits for the abandoned thread's token
            pass
        return held, limiter.borrowed_tokens

    assert rrun(main) == (1, 0)


def test_limiter_bounds_concurrent_threads(rrun, impl) -> None:
    release = threading.Event()
    lock = threading.Lock()
    running = [0, 0]  # now, peak

    def job():
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        wait(release)
        with lock:
            running[0] -= 1

    async def main():
        limiter = impl.CapacityLimiter(2)
        async with impl.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(lambda: impl.to_thread.run_sync(job, limiter=limiter))
            await impl.testing.wait_all_tasks_blocked()
            stats = limiter.statistics()
            release.set()
        return stats.borrowed_tokens, stats.tasks_waiting

    assert rrun(main) == (2, 3)
    assert 1 <= running[1] <= 2


def test_default_limiter_has_40_tokens_and_is_per_run(rrun, impl) -> None:
    async def main():
        limiter = impl.to_thread.current_default_thread_limiter()
        assert limiter is impl.to_thread.current_default_thread_limiter()
        assert isinstance(limiter, impl.CapacityLimiter)
        return limiter

    first = rrun(main)
    assert first.total_tokens == 40
    assert rrun(main) is not first


def test_default_limiter_is_used_by_default(rrun, impl) -> None:
    release = threading.Event()

    async def main():
        limiter = impl.to_thread.current_default_thread_limiter()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.to_thread.run_sync, wait, release)
            await impl.testing.wait_all_tasks_blocked()
            borrowed = limiter.borrowed_tokens
            release.set()
        return borrowed, limiter.borrowed_tokens

    assert rrun(main) == (1, 0)


def test_run_sync_accepts_a_duck_typed_limiter(rrun, impl) -> None:
    calls = []

    class Limiter:
        async def acquire_on_behalf_of(self, borrower):
            calls.append("acquire")

        def release_on_behalf_of(self, borrower):
            calls.append("release")

    async def main():
        return await impl.to_thread.run_sync(lambda: 7, limiter=Limiter())

    assert rrun(main) == 7
    assert calls == ["acquire", "release"]


# ---------------------------------------------------------------- from_thread


def test_from_thread_run_runs_in_the_waiting_task(rrun, impl) -> None:
    async def current():
        await impl.sleep(0)
        return impl.lowlevel.current_task()

    async def main():
        task = await impl.to_thread.run_sync(impl.from_thread.run, current)
        return task is impl.lowlevel.current_task()

    assert rrun(main) is True


def test_from_thread_run_sync_runs_in_the_waiting_task(rrun, impl) -> None:
    async def main():
        task = await impl.to_thread.run_sync(
            impl.from_thread.run_sync, impl.lowlevel.current_task
        )
        return task is impl.lowlevel.current_task()

    assert rrun(main) is True


def test_from_thread_run_passes_arguments_and_returns(rrun, impl) -> None:
    async def add(a, b):
        await impl.sleep(0)
        return a + b

    def in_thread():
        return impl.from_thread.run(add, 1, 2), impl.from_thread.run_sync(max, 3, 4)

    async def main():
        return await impl.to_thread.run_sync(in_thread)

    assert rrun(main) == (3, 4)


def test_exceptions_travel_both_ways(rrun, impl) -> None:
    async def fail_async():
        raise ValueError("from async")

    def in_thread():
        try:
            impl.from_thread.run(fail_async)
        except ValueError as error:
            raise KeyError(f"thread saw: {error}") from None

    async def main():
        await impl.to_thread.run_sync(in_thread)

    with pytest.raises(KeyError, match="thread saw: from async"):
        rrun(main)


def test_from_thread_run_sees_the_threads_context(rrun, impl) -> None:
    async def read():
        return var.get()

    def in_thread():
        var.set("set in thread")
        return impl.from_thread.run(read), impl.from_thread.run_sync(var.get)

    async def main():
        var.set("task")
        result = await impl.to_thread.run_sync(in_thread)
        return result, var.get()

    assert rrun(main) == (("set in thread", "set in thread"), "task")


def test_from_thread_run_with_sync_function_raises_type_error(rrun, impl) -> None:
    def in_thread():
        impl.from_thread.run(lambda: 1)

    async def main():
        await impl.to_thread.run_sync(in_thread)

    with pytest.raises(TypeError):
        rrun(main)


def test_from_thread_run_sync_with_async_function_raises_type_error(rrun, impl) -> None:
    async def async_fn():
        return 1

    def in_thread():
        impl.from_thread.run_sync(async_fn)

    async def main():
        await impl.to_thread.run_sync(in_thread)

    with pytest.raises(TypeError, match="asynchronous"):
        rrun(main)


def test_from_thread_run_from_the_loop_thread_raises_runtime_error(rrun, impl) -> None:
    async def noop():
        pass

    async def main():
        token = impl.lowlevel.current_trio_token()
        with pytest.raises(RuntimeError):
            impl.from_thread.run(noop, trio_token=token)
        with pytest.raises(RuntimeError):
            impl.from_thread.run_sync(len, "", trio_token=token)

    rrun(main)


def test_from_thread_in_a_foreign_thread_needs_a_token(impl) -> None:
    errors = []

    def foreign():
        try:
            impl.from_thread.run_sync(len, "")
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=foreign)
    thread.start()
    thread.join(TIMEOUT)
    assert len(errors) == 1
    assert "trio_token" in str(errors[0])


def test_from_thread_with_token_from_a_foreign_thread(rrun, impl) -> None:
    results = []
    done = threading.Event()

    async def async_part(x):
        await impl.sleep(0)
        return ("async", x, impl.lowlevel.current_task().name)

    def foreign(token):
        results.append(impl.from_thread.run(async_part, 1, trio_token=token))
        results.append(impl.from_thread.run_sync(lambda: "sync", trio_token=token))
        done.set()

    async def main():
        token = impl.lowlevel.current_trio_token()
        thread = threading.Thread(target=foreign, args=(token,))
        thread.start()
        while not done.is_set():
            await impl.sleep(0.001)
        thread.join(TIMEOUT)

    rrun(main)
    assert results[0][:2] == ("async", 1)
    assert results[1] == "sync"


def test_from_thread_after_the_run_raises_run_finished_error(rrun, impl) -> None:
    async def main():
        return impl.lowlevel.current_trio_token()

    token = rrun(main)
    errors = []

    def foreign():
        try:
            impl.from_thread.run_sync(len, "", trio_token=token)
        except impl.RunFinishedError as error:
            errors.append(error)

    thread = threading.Thread(target=foreign)
    thread.start()
    thread.join(TIMEOUT)
    assert len(errors) == 1


def test_from_thread_rejects_a_token_of_the_wrong_type(impl) -> None:
    with pytest.raises(RuntimeError):
        impl.from_thread.run_sync(len, "", trio_token=object())


def test_check_cancelled_outside_a_worker_thread_raises_runtime_error(impl) -> None:
    with pytest.raises(RuntimeError):
        impl.from_thread.check_cancelled()


def test_check_cancelled_sees_the_callers_cancellation(rrun, impl) -> None:
    in_thread = threading.Event()
    cancelled = threading.Event()
    seen = []

    def poll():
        impl.from_thread.check_cancelled()  # not cancelled yet: returns
        seen.append("first check passed")
        in_thread.set()
        wait(cancelled)
        try:
            impl.from_thread.check_cancelled()
        except impl.Cancelled:
            seen.append("cancelled")
            raise

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.to_thread.run_sync, poll)
            await impl.to_thread.run_sync(wait, in_thread)
            await impl.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            cancelled.set()

    rrun(main)
    assert seen == ["first check passed", "cancelled"]


def test_from_thread_run_in_a_cancelled_waiting_task_is_cancelled(rrun, impl) -> None:
    cancelled = threading.Event()
    outcome = []

    def in_thread():
        wait(cancelled)
        try:
            impl.from_thread.run(impl.sleep_forever)
        except impl.Cancelled:
            outcome.append("cancelled")
        return "done"

    async def main():
        with impl.CancelScope() as scope:
            async with impl.open_nursery() as nursery:

                async def worker():
                    outcome.append(await impl.to_thread.run_sync(in_thread))

                nursery.start_soon(worker)
                await impl.testing.wait_all_tasks_blocked()
                scope.cancel()
                cancelled.set()

    rrun(main)
    assert outcome == ["cancelled", "done"]


# ---------------------------------------------------------------- start_thread_soon


def test_start_thread_soon_delivers_an_outcome_in_the_worker(impl) -> None:
    delivered = threading.Event()
    got = []

    def deliver(result):
        got.append((result.unwrap(), threading.get_ident()))
        delivered.set()

    impl.lowlevel.start_thread_soon(lambda: 42, deliver)
    wait(delivered)
    assert got[0][0] == 42
    assert got[0][1] != threading.get_ident()


def test_start_thread_soon_delivers_errors_as_outcomes(impl) -> None:
    delivered = threading.Event()
    got = []

    def fail():
        raise ValueError("in worker")

    def deliver(result):
        got.append(result)
        delivered.set()

    impl.lowlevel.start_thread_soon(fail, deliver)
    wait(delivered)
    with pytest.raises(ValueError, match="in worker"):
        got[0].unwrap()


def test_start_thread_soon_names_the_thread(impl) -> None:
    delivered = threading.Event()
    got = []

    def deliver(result):
        got.append(result.unwrap())
        delivered.set()

    impl.lowlevel.start_thread_soon(lambda: threading.current_thread().name, deliver, "named job")
    wait(delivered)
    assert got == ["named job"]


# ---------------------------------------------------------------- thread-test helpers


def test_active_thread_count_counts_running_threads(rrun, impl) -> None:
    release = threading.Event()

    async def main():
        counts = [impl.testing.active_thread_count()]
        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.to_thread.run_sync, wait, release)
            nursery.start_soon(impl.to_thread.run_sync, wait, release)
            await impl.testing.wait_all_tasks_blocked()
            counts.append(impl.testing.active_thread_count())
            release.set()
        counts.append(impl.testing.active_thread_count())
        return counts

    assert rrun(main) == [0, 2, 0]


def test_wait_all_threads_completed_is_a_checkpoint(rrun, impl) -> None:
    async def main():
        with impl.testing.assert_checkpoints():
            await impl.testing.wait_all_threads_completed()

    rrun(main)


# ---------------------------------------------------------------- leaks


def test_many_thread_round_trips_leak_no_threads_or_fds(rrun, impl) -> None:
    async def warm():
        await impl.to_thread.run_sync(lambda: None)

    rrun(warm)  # one cached worker may stay: it is reused below
    gc.collect()
    threads_before = set(threading.enumerate())
    fds_before = set(os.listdir("/proc/self/fd"))

    async def main():
        for _ in range(50):
            await impl.to_thread.run_sync(lambda: None)
        await impl.to_thread.run_sync(impl.from_thread.run_sync, lambda: None)

    rrun(main)
    # Threads of earlier tests may still be winding down: give them a moment.
    deadline = time.monotonic() + 2
    while True:
        gc.collect()
        new_threads = set(threading.enumerate()) - threads_before
        new_fds = set(os.listdir("/proc/self/fd")) - fds_before
        if not (new_threads or new_fds) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert new_threads == set()
    assert threading.active_count() <= len(threads_before)
    assert new_fds == set()


def test_many_from_thread_calls_in_a_row(rrun, impl) -> None:
    # The thread goes on as soon as its call is answered; its report must
    # never find the waiting task still busy with that answer.
    async def noop():
        pass

    def in_thread():
        for _ in range(20):
            impl.from_thread.run(noop)
            impl.from_thread.run_sync(lambda: None)
        return "done"

    async def main():
        return [await impl.to_thread.run_sync(in_thread) for _ in range(20)]

    assert rrun(main) == ["done"] * 20
