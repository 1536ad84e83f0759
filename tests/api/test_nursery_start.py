"""Black-box tests of ``Nursery.start()`` and ``task_status.started()``, and of
how ``name=`` and function names become task names."""

from __future__ import annotations

import functools

import pytest

# ---------------------------------------------------------------- start()


def test_start_returns_value_passed_to_started(run, impl) -> None:
    async def server(task_status=impl.TASK_STATUS_IGNORED):
        await impl.sleep(1)
        task_status.started(("ready", impl.current_time()))
        await impl.sleep(1)

    async def main():
        async with impl.open_nursery() as nursery:
            value = await nursery.start(server)
            return value, impl.current_time()

    assert run(main) == (("ready", 1.0), 1.0)


def test_start_returns_none_when_started_has_no_value(run, impl) -> None:
    async def server(task_status=impl.TASK_STATUS_IGNORED):
        task_status.started()

    async def main():
        async with impl.open_nursery() as nursery:
            return await nursery.start(server)

    assert run(main) is None


def test_start_passes_positional_args(run, impl) -> None:
    async def server(a, b, *, task_status=impl.TASK_STATUS_IGNORED):
        task_status.started(a + b)

    async def main():
        async with impl.open_nursery() as nursery:
            return await nursery.start(server, 2, 3)

    assert run(main) == 5


def test_start_child_moves_into_nursery_after_started(run, impl) -> None:
    observed = []

    async def main():
        async def server(task_status=impl.TASK_STATUS_IGNORED):
            me = impl.lowlevel.current_task()
            observed.append(
                (
                    "before",
                    nursery.child_tasks,
                    me.parent_nursery is nursery,
                    me.eventual_parent_nursery is nursery,
                )
            )
            task_status.started()
            observed.append(
                (
                    "after",
                    nursery.child_tasks == {me},
                    me.parent_nursery is nursery,
                    me.eventual_parent_nursery,
                )
            )

        async with impl.open_nursery() as nursery:
            await nursery.start(server)

    run(main)
    assert observed == [
        ("before", frozenset(), False, True),
        ("after", True, True, None),
    ]


def test_start_can_target_an_outer_nursery(run, impl) -> None:
    owners = []

    async def main():
        async def server(task_status=impl.TASK_STATUS_IGNORED):
            task_status.started()
            owners.append(impl.lowlevel.current_task().parent_nursery is outer)
            await impl.sleep(5)

        async with impl.open_nursery() as outer:
            async with impl.open_nursery():
                await outer.start(server)
            owners.append(("inner closed", impl.current_time()))
        owners.append(("outer closed", impl.current_time()))

    run(main)
    assert owners == [True, ("inner closed", 0.0), ("outer closed", 5.0)]


def test_started_twice_raises_runtime_error(run, impl) -> None:
    errors = []

    async def server(task_status=impl.TASK_STATUS_IGNORED):
        task_status.started(1)
        try:
            task_status.started(2)
        except RuntimeError as exc:
            errors.append(type(exc))

    async def main():
        async with impl.open_nursery() as nursery:
            return await nursery.start(server)

    assert run(main) == 1
    assert errors == [RuntimeError]


def test_child_returning_without_started_raises_runtime_error_from_start(run, impl) -> None:
    async def lazy(task_status=impl.TASK_STATUS_IGNORED):
        await impl.sleep(1)

    async def main():
        async with impl.open_nursery() as nursery:
            with pytest.raises(RuntimeError, match=r"without calling task_status\.started"):
                await nursery.start(lazy)
            return impl.current_time()

    assert run(main) == 1.0


def test_error_before_started_propagates_from_start(run, impl) -> None:
    error = ValueError("startup failed")

    async def broken(task_status=impl.TASK_STATUS_IGNORED):
        await impl.sleep(1)
        raise error

    async def main():
        async with impl.open_nursery() as nursery:
            with pytest.raises(ValueError) as info:
                await nursery.start(broken)
            assert info.value is error
            return impl.current_time(), nursery.child_tasks

    assert run(main) == (1.0, frozenset())


def test_error_after_started_goes_to_target_nursery(run, impl) -> None:
    async def server(task_status=impl.TASK_STATUS_IGNORED):
        task_status.started()
        await impl.sleep(1)
        raise ValueError("later")

    async def main():
        async with impl.open_nursery() as nursery:
            await nursery.start(server)
            await impl.sleep(5)

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert [repr(exc) for exc in info.value.exceptions] == ["ValueError('later')"]


def test_start_without_task_status_parameter_raises_type_error(run, impl) -> None:
    async def plain():
        return None

    async def main():
        async with impl.open_nursery() as nursery:
            with pytest.raises(TypeError):
                await nursery.start(plain)

    run(main)


def test_cancelling_start_caller_cancels_child_before_started(run, impl) -> None:
    events = []

    async def slow_server(task_status=impl.TASK_STATUS_IGNORED):
        try:
            await impl.sleep(5)
        except impl.Cancelled:
            events.append(("child cancelled", impl.current_time()))
            raise
        task_status.started()

    async def main():
        async with impl.open_nursery() as nursery:
            with impl.move_on_after(1) as scope:
                await nursery.start(slow_server)
            events.append(("start cancelled", scope.cancelled_caught, nursery.child_tasks))

    run(main)
    assert events == [("child cancelled", 1.0), ("start cancelled", True, frozenset())]


def test_task_status_ignored_started_does_nothing(run, impl) -> None:
    async def server(task_status=impl.TASK_STATUS_IGNORED):
        task_status.started("ignored")
        task_status.started("ignored again")
        return "ran to completion"

    async def main():
        return await server()

    assert run(main) == "ran to completion"


# ---------------------------------------------------------------- names


def test_start_soon_name_sets_task_name(run, impl) -> None:
    names = []

    async def child():
        names.append(impl.lowlevel.current_task().name)

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child, name="custom name")

    run(main)
    assert names == ["custom name"]


def test_start_soon_non_string_name_is_converted_to_string(run, impl) -> None:
    names = []

    async def child():
        names.append(impl.lowlevel.current_task().name)

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child, name=1234)

    run(main)
    assert names == ["1234"]


def test_default_task_name_is_qualified_function_name(run, impl) -> None:
    names = []

    async def child():
        names.append(impl.lowlevel.current_task().name)

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    run(main)
    assert names == [f"{child.__module__}.{child.__qualname__}"]


def test_default_task_name_sees_through_partial(run, impl) -> None:
    names = []

    async def child(tag):
        names.append((tag, impl.lowlevel.current_task().name))

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(functools.partial(child, "p"))

    run(main)
    assert names == [("p", f"{child.__module__}.{child.__qualname__}")]


def test_start_name_sets_task_name(run, impl) -> None:
    async def server(task_status=impl.TASK_STATUS_IGNORED):
        task_status.started(impl.lowlevel.current_task().name)

    async def main():
        async with impl.open_nursery() as nursery:
            return await nursery.start(server, name="named server")

    assert run(main) == "named server"
