"""Instrument bookkeeping: a hook nobody defines is ``None`` (one attribute
read on the hot path), and ``task_scheduled`` works by swapping the run queue
for a list subclass that reports every append."""

from __future__ import annotations

from typing import Any

import pytest

import tether
from tether import _core
from tether._core._instruments import HOOKS, Instruments, _ReportingRunQueue
from tether.testing import wait_all_tasks_blocked


class SchedulingRecorder(_core.Instrument):
    def __init__(self) -> None:
        self.scheduled: list[str] = []

    def task_scheduled(self, task: _core.Task) -> None:
        self.scheduled.append(task.name.rsplit(".", 1)[-1])


class StepCounter(_core.Instrument):
    def __init__(self) -> None:
        self.steps = 0

    def after_task_step(self, task: _core.Task) -> None:
        self.steps += 1


def installed_hooks(instruments: Instruments) -> set[str]:
    return {hook for hook in HOOKS if getattr(instruments, hook) is not None}


def test_no_instruments_means_every_hook_is_none() -> None:
    assert installed_hooks(Instruments([])) == set()


def test_inherited_hooks_are_not_installed() -> None:
    class OnlyBeforeRun(_core.Instrument):
        def before_run(self) -> None:
            pass

    instruments = Instruments([OnlyBeforeRun(), _core.Instrument()])
    assert installed_hooks(instruments) == {"before_run"}
    assert instruments.before_task_step is None


def test_duck_typed_instrument_class_is_accepted() -> None:
    class Duck:
        def task_spawned(self, task: object) -> None:
            pass

    assert installed_hooks(Instruments([Duck()])) == {"task_spawned"}  # type: ignore[list-item]


def test_removing_the_last_user_of_a_hook_resets_it() -> None:
    recorder = SchedulingRecorder()
    instruments = Instruments([recorder])
    assert instruments.task_scheduled == [recorder]
    instruments.remove(recorder)
    assert installed_hooks(instruments) == set()
    with pytest.raises(KeyError):
        instruments.remove(recorder)


def test_runq_is_a_plain_list_without_task_scheduled(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        await _core.checkpoint()
        assert type(runner.runq) is list
        assert runner.instruments.before_task_step is None

    run(main, instruments=[StepCounter()])


def test_task_scheduled_instrument_makes_runq_reporting(run) -> None:
    recorder = SchedulingRecorder()

    async def child() -> None:
        await _core.checkpoint()

    async def main() -> None:
        runner = _core.current_runner()
        assert type(runner.runq) is _ReportingRunQueue
        recorder.scheduled.clear()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)
            await wait_all_tasks_blocked()
            # Still reporting after several batches.
            assert type(runner.runq) is _ReportingRunQueue

    run(main, instruments=[recorder])
    # spawn, then the child's checkpoint, then the parent woken by its exit.
    assert recorder.scheduled[:2] == ["child", "child"]
    assert "main" in recorder.scheduled[2:]


def test_reschedule_is_reported(run) -> None:
    recorder = SchedulingRecorder()

    async def main() -> None:
        task = _core.current_task()
        _core.current_trio_token().run_sync_soon(_core.reschedule, task)
        recorder.scheduled.clear()
        await _core.wait_task_rescheduled(_core.abort_always_succeeds)
        assert recorder.scheduled == ["main"]

    run(main, instruments=[recorder])


def test_instrument_added_mid_run_reports_from_next_batch(run) -> None:
    recorder = SchedulingRecorder()

    async def child() -> None:
        pass

    async def main() -> None:
        runner = _core.current_runner()
        _core.add_instrument(recorder)
        await _core.checkpoint()
        assert type(runner.runq) is _ReportingRunQueue
        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)
        _core.remove_instrument(recorder)
        await _core.checkpoint()
        await _core.checkpoint()
        assert type(runner.runq) is list

    run(main)
    assert "child" in recorder.scheduled


def test_instrument_added_mid_step_sees_that_steps_reschedule(run) -> None:
    recorder = SchedulingRecorder()

    async def main() -> None:
        _core.add_instrument(recorder)
        await _core.checkpoint()
        _core.remove_instrument(recorder)

    run(main)
    assert recorder.scheduled == ["main"]


def test_hooks_defined_as_instance_attributes_are_called(run) -> None:
    spawned: list[str] = []

    class Bare:
        pass

    instrument: Any = Bare()
    instrument.task_spawned = lambda task: spawned.append(task.name.rsplit(".", 1)[-1])

    async def child() -> None:
        pass

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)

    run(main, instruments=[instrument])
    assert "child" in spawned


def test_raising_hook_disables_only_that_instrument(run, caplog) -> None:
    class Broken(_core.Instrument):
        def before_task_step(self, task: _core.Task) -> None:
            raise RuntimeError("broken hook")

    counter = StepCounter()
    broken = Broken()

    async def main() -> None:
        runner = _core.current_runner()
        await _core.checkpoint()
        assert runner.instruments.before_task_step is None
        assert runner.instruments.after_task_step == [counter]

    run(main, instruments=[broken, counter])
    assert counter.steps > 0
    assert "broken hook" in caplog.text or "Broken" in caplog.text
