"""Async generator hooks: installed for the run, restored afterwards; a
generator garbage-collected during the run is closed by a system task, one
still alive at shutdown is closed before ``run()`` returns, and one whose
finalizer fires after the run is closed on the spot without crashing."""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest

import tether
from tether import _core
from tether.testing import wait_all_tasks_blocked


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    found: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: found.append(repr(info.exc_value)))
    return found


@pytest.fixture
def custom_hooks() -> Iterator[tuple[Any, Any]]:
    def firstiter(agen: Any) -> None:
        pass

    def finalizer(agen: Any) -> None:
        pass

    previous = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)
    try:
        yield firstiter, finalizer
    finally:
        sys.set_asyncgen_hooks(*previous)


def make_generator(record: list[str], *, await_in_finally: bool = False) -> AsyncGenerator[int, None]:
    async def numbers() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            record.append("finally")
            if await_in_finally:
                try:
                    await _core.checkpoint()
                    record.append("awaited")
                except tether.Cancelled:
                    record.append("cancelled in finally")

    return numbers()


def test_hooks_installed_for_the_run_and_restored(run, custom_hooks) -> None:
    async def main() -> Any:
        return sys.get_asyncgen_hooks()

    during = run(main)
    assert during.firstiter is not custom_hooks[0]
    assert getattr(during.firstiter, "__self__", None).__class__.__name__ == "AsyncGenerators"
    assert tuple(sys.get_asyncgen_hooks()) == custom_hooks


def test_hooks_restored_after_crash(custom_hooks) -> None:
    def boom() -> None:
        raise ValueError("boom")

    async def main() -> None:
        _core.current_trio_token().run_sync_soon(boom)
        await tether.sleep_forever()

    with pytest.raises(tether.TrioInternalError):
        tether.run(main, clock=tether.testing.MockClock(autojump_threshold=0))
    assert tuple(sys.get_asyncgen_hooks()) == custom_hooks


def test_generator_alive_at_shutdown_is_closed_inside_run_in_cancelled_scope(run) -> None:
    record: list[str] = []
    kept: list[Any] = []

    async def main() -> None:
        generator = make_generator(record, await_in_finally=True)
        await generator.__anext__()
        kept.append(generator)
        assert generator in _core.current_runner().asyncgens.alive

    run(main)
    assert record == ["finally", "cancelled in finally"]
    assert kept[0].ag_frame is None  # finished


def test_generator_collected_during_run_is_closed_by_a_system_task(run) -> None:
    record: list[str] = []
    closers: list[tuple[str, bool]] = []

    async def main() -> None:
        generator = make_generator(record)
        await generator.__anext__()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del generator
            gc.collect()
        assert [type(w.message) for w in caught] == [ResourceWarning]
        assert record == []  # not closed synchronously from the collector
        await wait_all_tasks_blocked()
        assert record == ["finally"]

    instrument = ClosingTaskWatcher(closers)
    run(main, instruments=[instrument])
    [(name, protected)] = closers
    assert name.startswith("close ") and protected


class ClosingTaskWatcher(_core.Instrument):
    def __init__(self, found: list[tuple[str, bool]]) -> None:
        self.found = found

    def task_spawned(self, task: _core.Task) -> None:
        if task.name.startswith("close "):
            self.found.append((task.name, task._ki_protected))


def test_generator_collected_with_warnings_as_errors_is_still_closed(run, unraisable) -> None:
    record: list[str] = []

    async def main() -> None:
        generator = make_generator(record)
        await generator.__anext__()
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            del generator
            gc.collect()
        await wait_all_tasks_blocked()

    run(main)
    assert record == ["finally"]


def test_finalizer_after_run_closes_generator_synchronously(run, unraisable) -> None:
    record: list[str] = []
    escaped: list[Any] = []

    async def main() -> None:
        generator = make_generator(record)
        await generator.__anext__()
        # Simulate a generator the shutdown sweep did not see.
        _core.current_runner().asyncgens.alive.discard(generator)
        escaped.append(generator)

    run(main)
    assert record == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        escaped.clear()
        gc.collect()
    assert record == ["finally"]
    assert [type(w.message) for w in caught] == [ResourceWarning]
    assert unraisable == []


def test_finalizer_after_run_with_await_in_finally_does_not_crash(run, unraisable) -> None:
    record: list[str] = []
    escaped: list[Any] = []

    async def main() -> None:
        generator = make_generator(record, await_in_finally=True)
        await generator.__anext__()
        _core.current_runner().asyncgens.alive.discard(generator)
        escaped.append(generator)

    run(main)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        escaped.clear()
        gc.collect()
    # No loop to await in: the await is interrupted, nothing escapes.
    assert record == ["finally"]
    assert unraisable == []


def test_finalizer_called_directly_after_run_does_not_raise(run) -> None:
    record: list[str] = []
    runners: list[_core.Runner] = []

    async def main() -> None:
        runners.append(_core.current_runner())

    run(main)

    generator = make_generator(record)
    step = generator.asend(None)
    with pytest.raises(StopIteration):
        step.send(None)  # first value: no run, so no hooks involved
    with pytest.warns(ResourceWarning):
        runners[0].asyncgens._finalizer(generator)
    assert record == ["finally"]
    assert generator.ag_frame is None


def test_generators_of_one_run_do_not_outlive_it_in_the_alive_set(run) -> None:
    runners: list[_core.Runner] = []

    async def main() -> None:
        runners.append(_core.current_runner())
        for _ in range(3):
            generator = make_generator([])
            await generator.__anext__()
            await generator.aclose()

    run(main)
    assert len(runners[0].asyncgens.alive) == 0
