"""Black-box tests of run instrumentation: the Instrument hooks, their order,
add_instrument/remove_instrument, and a failing instrument."""

from __future__ import annotations

import logging

import pytest

# ---------------------------------------------------------------- instruments


def make_recorder(impl, *, with_io: bool = True):
    """An Instrument subclass recording (hook, task-or-timeout) tuples."""

    class Recorder(impl.abc.Instrument):
        def __init__(self) -> None:
            self.events: list[tuple] = []

        def before_run(self) -> None:
            self.events.append(("before_run",))

        def after_run(self) -> None:
            self.events.append(("after_run",))

        def task_spawned(self, task) -> None:
            self.events.append(("task_spawned", task))

        def task_scheduled(self, task) -> None:
            self.events.append(("task_scheduled", task))

        def before_task_step(self, task) -> None:
            self.events.append(("before_task_step", task))

        def after_task_step(self, task) -> None:
            self.events.append(("after_task_step", task))

        def task_exited(self, task) -> None:
            self.events.append(("task_exited", task))

        if with_io:

            def before_io_wait(self, timeout) -> None:
                self.events.append(("before_io_wait", timeout))

            def after_io_wait(self, timeout) -> None:
                self.events.append(("after_io_wait", timeout))

    return Recorder()


def hooks_for(recorder, task) -> list[str]:
    return [event[0] for event in recorder.events if len(event) == 2 and event[1] is task]


def test_instrument_hook_sequence_for_main_task(run, impl) -> None:
    recorder = make_recorder(impl)
    seen = {}

    async def main():
        seen["main"] = impl.lowlevel.current_task()
        await impl.sleep(1)

    run(main, instruments=[recorder])
    assert hooks_for(recorder, seen["main"]) == [
        "task_spawned",
        "task_scheduled",
        "before_task_step",
        "after_task_step",
        "task_scheduled",
        "before_task_step",
        "task_exited",
        "after_task_step",
    ]


def test_instrument_hook_sequence_for_child_task(run, impl) -> None:
    recorder = make_recorder(impl)
    seen = {}

    async def child():
        seen["child"] = impl.lowlevel.current_task()

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    run(main, instruments=[recorder])
    assert hooks_for(recorder, seen["child"]) == [
        "task_spawned",
        "task_scheduled",
        "before_task_step",
        "task_exited",
        "after_task_step",
    ]


def test_instrument_before_run_first_and_after_run_last(run, impl) -> None:
    recorder = make_recorder(impl)

    async def main():
        await impl.sleep(1)

    run(main, instruments=[recorder])
    names = [event[0] for event in recorder.events]
    assert names[0] == "before_run"
    assert names[-1] == "after_run"
    assert names.count("before_run") == 1
    assert names.count("after_run") == 1


def test_instrument_io_wait_hooks_alternate_and_share_timeout(run, impl) -> None:
    recorder = make_recorder(impl)

    async def main():
        await impl.sleep(1)

    run(main, instruments=[recorder])
    io_events = [event for event in recorder.events if event[0].endswith("io_wait")]
    assert io_events
    for before, after in zip(io_events[::2], io_events[1::2], strict=True):
        assert before[0] == "before_io_wait"
        assert after[0] == "after_io_wait"
        assert before[1] == after[1]


def test_instrument_every_task_step_is_bracketed(run, impl) -> None:
    recorder = make_recorder(impl, with_io=False)

    async def child():
        await impl.sleep(2)

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
            await impl.sleep(1)

    run(main, instruments=[recorder])
    running = None
    for event in recorder.events:
        if event[0] == "before_task_step":
            assert running is None
            running = event[1]
        elif event[0] == "after_task_step":
            assert running is event[1]
            running = None
    assert running is None


def test_instrument_with_only_some_hooks_is_accepted(run, impl) -> None:
    class StepCounter(impl.abc.Instrument):
        def __init__(self) -> None:
            self.steps = 0

        def before_task_step(self, task) -> None:
            self.steps += 1

    counter = StepCounter()

    async def main():
        await impl.sleep(1)
        return "ok"

    assert run(main, instruments=[counter]) == "ok"
    assert counter.steps >= 2


def test_add_instrument_during_run_receives_later_hooks(run, impl) -> None:
    recorder = make_recorder(impl, with_io=False)
    seen = {}

    async def main():
        seen["main"] = impl.lowlevel.current_task()
        impl.lowlevel.add_instrument(recorder)
        await impl.sleep(1)

    run(main)
    assert hooks_for(recorder, seen["main"]) == [
        "after_task_step",
        "task_scheduled",
        "before_task_step",
        "task_exited",
        "after_task_step",
    ]
    assert recorder.events[-1] == ("after_run",)
    assert ("before_run",) not in recorder.events


def test_remove_instrument_during_run_stops_hooks(run, impl) -> None:
    recorder = make_recorder(impl, with_io=False)
    seen = {}

    async def main():
        seen["main"] = impl.lowlevel.current_task()
        await impl.sleep(1)
        impl.lowlevel.remove_instrument(recorder)
        await impl.sleep(1)

    run(main, instruments=[recorder])
    assert hooks_for(recorder, seen["main"]) == [
        "task_spawned",
        "task_scheduled",
        "before_task_step",
        "after_task_step",
        "task_scheduled",
        "before_task_step",
    ]
    assert ("after_run",) not in recorder.events


def test_add_instrument_twice_is_a_no_op(run, impl) -> None:
    recorder = make_recorder(impl, with_io=False)

    async def main():
        impl.lowlevel.add_instrument(recorder)
        impl.lowlevel.add_instrument(recorder)
        impl.lowlevel.remove_instrument(recorder)
        with pytest.raises(KeyError):
            impl.lowlevel.remove_instrument(recorder)
        await impl.sleep(1)

    run(main)
    assert [event for event in recorder.events if event[0] == "after_run"] == []


def test_remove_instrument_not_installed_raises_key_error(run, impl) -> None:
    recorder = make_recorder(impl)

    async def main():
        with pytest.raises(KeyError):
            impl.lowlevel.remove_instrument(recorder)

    run(main)


def test_raising_instrument_is_disabled_logged_and_run_continues(run, impl, caplog) -> None:
    class Explodes(impl.abc.Instrument):
        def __init__(self) -> None:
            self.calls = 0

        def before_task_step(self, task) -> None:
            self.calls += 1
            raise ValueError("instrument bug")

    explodes = Explodes()
    healthy = make_recorder(impl, with_io=False)

    async def main():
        await impl.sleep(1)
        return "finished"

    with caplog.at_level(logging.ERROR):
        assert run(main, instruments=[explodes, healthy]) == "finished"
    assert explodes.calls == 1
    assert healthy.events[-1] == ("after_run",)
    records = [record for record in caplog.records if record.exc_info]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info[0] is ValueError
    assert "before_task_step" in records[0].getMessage()
