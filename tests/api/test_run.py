"""Black-box tests of ``run()``: arguments, results, clocks, exception-group
strictness, foreign awaitables, async generator cleanup, sniffio and what a
run leaves behind. Instruments live in test_run_instruments.py."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
import warnings

import pytest
import sniffio

STRICT_FALSE_WARNING = "ignore:.*strict_exception_groups=False.*"


# ---------------------------------------------------------------- run basics


def test_run_returns_async_fn_return_value(run) -> None:
    async def main():
        return {"answer": 42}

    assert run(main) == {"answer": 42}


def test_run_passes_positional_args(run) -> None:
    async def main(*args):
        return args

    assert run(main, 1, "two", None) == (1, "two", None)


def test_run_propagates_exception_unchanged(run) -> None:
    error = ValueError("boom")

    async def main():
        raise error

    with pytest.raises(ValueError) as info:
        run(main)
    assert info.value is error


def test_run_propagates_keyboard_interrupt_from_main_task(run) -> None:
    async def main():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(main)


def test_run_coroutine_object_raises_type_error(impl) -> None:
    async def main():
        return 1

    coro = main()
    with pytest.raises(TypeError, match="coroutine object"):
        impl.run(coro)
    # run() must close what it refused, or a "never awaited" warning fires.
    assert coro.cr_frame is None


def test_run_sync_function_raises_type_error(impl) -> None:
    def not_async():
        return 1

    with pytest.raises(TypeError, match="appears to be synchronous"):
        impl.run(not_async)


def test_nested_run_in_same_thread_raises_runtime_error(run, impl) -> None:
    async def inner():
        return 1

    async def main():
        with pytest.raises(RuntimeError):
            impl.run(inner)
        return "outer survived"

    assert run(main) == "outer survived"


def test_current_time_outside_run_raises_runtime_error(impl) -> None:
    with pytest.raises(RuntimeError):
        impl.current_time()


def test_run_after_a_failed_run_works(run) -> None:
    async def fails():
        raise KeyError("first")

    async def works():
        return "second"

    with pytest.raises(KeyError):
        run(fails)
    assert run(works) == "second"


# ---------------------------------------------------------------- clocks


def test_run_uses_given_clock(impl) -> None:
    clock = impl.testing.MockClock()
    clock.jump(100)

    async def main():
        return impl.lowlevel.current_clock() is clock, impl.current_time()

    assert impl.run(main, clock=clock) == (True, 100.0)


def test_mock_clock_time_starts_at_zero(run, impl) -> None:
    async def main():
        return impl.current_time()

    assert run(main) == 0.0


def test_default_clock_time_does_not_go_backwards(impl) -> None:
    async def main():
        first = impl.current_time()
        await impl.lowlevel.checkpoint()
        second = impl.current_time()
        return first, second

    first, second = impl.run(main)
    assert isinstance(first, float)
    assert second >= first


# ---------------------------------------------------------------- strictness


def test_run_strict_exception_groups_default_wraps_single_error(run, impl) -> None:
    async def child():
        raise ValueError("only one")

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert [repr(exc) for exc in info.value.exceptions] == ["ValueError('only one')"]


@pytest.mark.filterwarnings(STRICT_FALSE_WARNING)
def test_run_strict_exception_groups_false_does_not_wrap_single_error(run, impl) -> None:
    async def child():
        raise ValueError("only one")

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    with pytest.raises(ValueError, match="only one"):
        run(main, strict_exception_groups=False)


@pytest.mark.filterwarnings(STRICT_FALSE_WARNING)
def test_run_strict_exception_groups_false_still_groups_two_errors(run, impl) -> None:
    async def fail(exc):
        raise exc

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(fail, ValueError(1))
            nursery.start_soon(fail, KeyError(2))

    with pytest.raises(ExceptionGroup) as info:
        run(main, strict_exception_groups=False)
    assert sorted(map(repr, info.value.exceptions)) == ["KeyError(2)", "ValueError(1)"]


def test_run_strict_exception_groups_false_is_deprecated(run, impl) -> None:
    async def main():
        return "fine"

    with pytest.warns(impl.TrioDeprecationWarning, match="strict_exception_groups=False"):
        assert run(main, strict_exception_groups=False) == "fine"


def test_keyboard_interrupt_in_child_is_wrapped_in_base_exception_group(run, impl) -> None:
    async def child():
        raise KeyboardInterrupt

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    with pytest.raises(BaseExceptionGroup) as info:
        run(main)
    assert not isinstance(info.value, ExceptionGroup)
    assert [type(exc) for exc in info.value.exceptions] == [KeyboardInterrupt]


# ---------------------------------------------------------------- foreign awaitables


def test_awaiting_asyncio_sleep_raises_runtime_error(run) -> None:
    async def main():
        await asyncio.sleep(1)

    with pytest.raises(RuntimeError, match="no running event loop"):
        run(main)


def test_awaiting_asyncio_future_raises_type_error_inside_task(run, impl) -> None:
    async def main():
        loop = asyncio.new_event_loop()
        try:
            future = loop.create_future()
            with pytest.raises(TypeError):
                await future
        finally:
            loop.close()
        # The task survives the refused yield and keeps running normally.
        await impl.sleep(1)
        return impl.current_time()

    assert run(main) == 1.0


def test_yielding_unknown_object_raises_type_error(run) -> None:
    class ForeignTrap:
        def __await__(self):
            return (yield "not a trio trap")

    async def main():
        await ForeignTrap()

    with pytest.raises(TypeError):
        run(main)


# ---------------------------------------------------------------- async generators


def test_abandoned_async_generator_is_finalized_before_run_returns(run, impl) -> None:
    events = []
    kept = []

    async def numbers():
        try:
            yield 1
            yield 2
        finally:
            events.append(("finally", impl.lowlevel.in_trio_task()))

    async def main():
        generator = numbers()
        kept.append(generator)  # stays alive: finalized at the end of the run
        events.append(await generator.__anext__())
        events.append("main done")

    run(main)
    events.append("run returned")
    assert events == [1, "main done", ("finally", True), "run returned"]


def test_await_in_async_generator_finalizer_at_shutdown_is_cancelled(run, impl) -> None:
    events = []
    kept = []

    async def numbers():
        try:
            yield 1
        finally:
            try:
                await impl.lowlevel.checkpoint()
            except impl.Cancelled:
                events.append("await cancelled")
                raise

    async def main():
        generator = numbers()
        kept.append(generator)
        await generator.__anext__()

    run(main)
    assert events == ["await cancelled"]


def test_garbage_collected_async_generator_is_finalized_in_run(run, impl) -> None:
    events = []

    async def numbers():
        try:
            yield 1
            yield 2
        finally:
            events.append(("finally", impl.lowlevel.in_trio_task()))

    async def main():
        async for value in numbers():
            events.append(value)
            break
        gc.collect()
        await impl.sleep(1)
        events.append("main done")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        run(main)
    assert events == [1, ("finally", True), "main done"]


def test_garbage_collected_async_generator_warns_resource_warning(run) -> None:
    async def numbers():
        yield 1
        yield 2

    async def main():
        async for _ in numbers():
            break
        gc.collect()

    with pytest.warns(ResourceWarning, match="numbers"):
        run(main)


def test_exhausted_async_generator_needs_no_finalizer(run, impl) -> None:
    async def numbers():
        for value in range(3):
            await impl.lowlevel.checkpoint()
            yield value

    async def main():
        return [value async for value in numbers()]

    assert run(main) == [0, 1, 2]


# ---------------------------------------------------------------- sniffio


def test_sniffio_reports_trio_in_main_task(run) -> None:
    async def main():
        return sniffio.current_async_library()

    assert run(main) == "trio"


def test_sniffio_reports_trio_in_child_task(run, impl) -> None:
    found = []

    async def child():
        found.append(sniffio.current_async_library())

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    run(main)
    assert found == ["trio"]


def test_sniffio_outside_run_finds_no_library(run) -> None:
    async def main():
        return None

    run(main)
    with pytest.raises(sniffio.AsyncLibraryNotFoundError):
        sniffio.current_async_library()


# ---------------------------------------------------------------- leaks


def resources() -> tuple[set[threading.Thread], set[str]]:
    """The live threads and open fds of this process."""
    return set(threading.enumerate()), set(os.listdir("/proc/self/fd"))


def assert_nothing_new(before: tuple[set[threading.Thread], set[str]]) -> None:
    threads_before, fds_before = before
    threads_after, fds_after = resources()
    assert threads_after - threads_before == set()
    assert threading.active_count() <= len(threads_before)
    assert fds_after - fds_before == set()


@pytest.fixture
def warm(run, impl) -> None:
    """One throwaway run, so one-time lazy setup is not counted as a leak."""

    async def main():
        await impl.sleep(0)

    run(main)
    gc.collect()


def test_run_with_io_and_thread_wakeup_leaks_no_threads_or_fds(run, impl, warm) -> None:
    before = resources()

    async def main():
        left, right = socket.socketpair()
        with left, right:
            token = impl.lowlevel.current_trio_token()
            task = impl.lowlevel.current_task()
            thread = threading.Thread(
                target=token.run_sync_soon, args=(impl.lowlevel.reschedule, task)
            )
            thread.start()
            await impl.lowlevel.wait_task_rescheduled(
                lambda raise_cancel: impl.lowlevel.Abort.FAILED
            )
            thread.join()
            right.send(b"x")
            await impl.lowlevel.wait_readable(left)
            return left.recv(1)

    assert run(main) == b"x"
    assert_nothing_new(before)


def test_run_that_raises_leaks_no_threads_or_fds(run, impl, warm) -> None:
    before = resources()

    async def child(sock):
        await impl.lowlevel.wait_readable(sock)

    async def main():
        left, right = socket.socketpair()
        with left, right:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(child, left)
                await impl.testing.wait_all_tasks_blocked()
                raise OSError("exit with an error")

    with pytest.raises(ExceptionGroup):
        run(main)
    assert_nothing_new(before)
