"""``testing.trio_test``, checked on tether and on trio itself."""

from __future__ import annotations

import importlib
import types

import pytest


@pytest.fixture(params=["tether", "trio"])
def impl(request: pytest.FixtureRequest) -> types.ModuleType:
    module = importlib.import_module(request.param)
    importlib.import_module(f"{request.param}.testing")
    importlib.import_module(f"{request.param}.lowlevel")
    return module


def test_decorated_function_runs_in_a_new_run_and_returns_its_result(impl: types.ModuleType) -> None:
    @impl.testing.trio_test
    async def add(a: int, b: int = 0) -> int:
        assert impl.lowlevel.in_trio_run()
        await impl.sleep(0)
        return a + b

    assert add(2, b=3) == 5
    assert add.__name__ == "add"


def test_clock_keyword_argument_becomes_the_runs_clock(impl: types.ModuleType) -> None:
    @impl.testing.trio_test
    async def sleeps(clock: object) -> tuple[bool, float]:
        await impl.sleep(7)
        return impl.lowlevel.current_clock() is clock, impl.current_time()

    assert sleeps(clock=impl.testing.MockClock(autojump_threshold=0)) == (True, 7.0)


def test_instrument_keyword_arguments_are_installed(impl: types.ModuleType) -> None:
    class RunWatcher(impl.abc.Instrument):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            self.events: list[str] = []

        def before_run(self) -> None:
            self.events.append("before_run")

        def after_run(self) -> None:
            self.events.append("after_run")

    @impl.testing.trio_test
    async def noop(watcher: object, other: object) -> None:
        await impl.sleep(0)

    first, second = RunWatcher(), RunWatcher()
    noop(watcher=first, other=second)
    assert first.events == second.events == ["before_run", "after_run"]


def test_two_clocks_are_a_value_error(impl: types.ModuleType) -> None:
    @impl.testing.trio_test
    async def noop(one: object, two: object) -> None:
        pass

    with pytest.raises(ValueError, match="too many clocks"):
        noop(one=impl.testing.MockClock(), two=impl.testing.MockClock())


def test_clocks_among_positional_arguments_are_not_used(impl: types.ModuleType) -> None:
    @impl.testing.trio_test
    async def which_clock(clock: object) -> bool:
        return impl.lowlevel.current_clock() is clock

    assert which_clock(impl.testing.MockClock()) is False
