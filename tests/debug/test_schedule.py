"""Seeded schedule shuffling, and what tether's pytest plugin does with tether.debug."""

from __future__ import annotations

import re

import pytest

import tether
import tether.debug
from tether.testing import MockClock

TASKS = 12


def batch_order() -> list[int]:
    """The order in which one batch of runnable tasks ran."""
    order: list[int] = []

    async def record(number: int) -> None:
        order.append(number)

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            for number in range(TASKS):
                nursery.start_soon(record, number)

    tether.run(main, clock=MockClock())
    return order


def test_without_a_seed_tasks_run_in_the_order_they_became_runnable() -> None:
    assert batch_order() == list(range(TASKS))


def test_same_seed_gives_the_same_order_and_another_seed_another() -> None:
    tether.debug.set_schedule_seed(1)
    first = batch_order()
    assert batch_order() == first
    tether.debug.set_schedule_seed(2)
    second = batch_order()
    assert sorted(first) == sorted(second) == list(range(TASKS))
    assert first != second  # 12! orders: two seeds agreeing would be a bug
    tether.debug.set_schedule_seed(None)
    assert batch_order() == list(range(TASKS))


def test_environment_variable_sets_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    tether.debug.set_schedule_seed(5)
    expected = batch_order()
    tether.debug.set_schedule_seed(None)
    monkeypatch.setenv("TETHER_SCHEDULE_SEED", "5")
    assert batch_order() == expected


def test_environment_variable_that_is_no_integer_is_ignored_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TETHER_SCHEDULE_SEED", "soon")
    assert batch_order() == list(range(TASKS))
    assert capsys.readouterr().err == "tether.debug: ignoring TETHER_SCHEDULE_SEED='soon': not an integer\n"


@pytest.mark.parametrize("seed", [1.5, "3", True])
def test_seed_must_be_an_int(seed: object) -> None:
    with pytest.raises(TypeError, match="seed must be an int or None"):
        tether.debug.set_schedule_seed(seed)  # type: ignore[arg-type]


# ---- the pytest plugin ------------------------------------------------------------

ORDER_TEST = """
import pytest
import tether

@pytest.mark.trio
async def test_order():
    order = []

    async def record(number):
        order.append(number)

    async with tether.open_nursery() as nursery:
        for number in range(12):
            nursery.start_soon(record, number)
    print("ORDER", order)
    assert order == sorted(order)
"""


def orders(output: str) -> list[str]:
    return re.findall(r"ORDER (\[.*\])", output)


def test_failing_test_notes_its_seed_and_the_seed_replays_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ORDER_TEST)
    result = pytester.runpytest("-p", "no:trio", "-s", "--tether-seed", "7")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*tether schedule seed: 7 (replay with: pytest --tether-seed 7)*"])
    replay = pytester.runpytest("-p", "no:trio", "-s", "--tether-seed", "7")
    assert orders(replay.stdout.str()) == orders(result.stdout.str())


def test_default_seed_is_random_and_printed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ORDER_TEST)
    result = pytester.runpytest("-p", "no:trio", "-s")
    result.assert_outcomes(failed=1)
    seed = re.search(r"tether schedule seed: (\d+)", result.stdout.str())
    assert seed is not None
    replay = pytester.runpytest("-p", "no:trio", "-s", "--tether-seed", seed.group(1))
    assert orders(replay.stdout.str()) == orders(result.stdout.str())


def test_seed_none_runs_tasks_in_fifo_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ORDER_TEST)
    pytester.runpytest("-p", "no:trio", "--tether-seed", "none").assert_outcomes(passed=1)


def test_shuffle_runs_make_one_copy_of_each_test_per_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.trio
        async def test_async():
            pass

        def test_sync():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:trio", "-v", "--tether-seed", "40", "--tether-shuffle-runs", "3")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*test_async?seed=40? PASSED*",
            "*test_async?seed=41? PASSED*",
            "*test_async?seed=42? PASSED*",
            "*test_sync PASSED*",
        ]
    )


def test_deadlocked_test_fails_with_deadlock_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        import tether

        @pytest.mark.trio
        async def test_stuck():
            await tether.Event().wait()
        """
    )
    result = pytester.runpytest("-p", "no:trio")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*DeadlockError: deadlock: every task is blocked, and nothing can ever wake one of them*"]
    )
    result.stdout.fnmatch_lines(["*task \"test 'test_stuck'\": blocked: Event.wait*"])


def test_bad_seed_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ORDER_TEST)
    result = pytester.runpytest("-p", "no:trio", "--tether-seed", "often")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--tether-seed expects an integer or 'none', not 'often'*"])


def test_deadlock_detection_is_on_in_test_runs_unless_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from tether._core import RUN
        from tether.debug._deadlock import DeadlockDetector

        @pytest.mark.trio
        async def test_detector():
            installed = RUN.runner.instruments.before_io_wait or []
            print("DETECTING", any(isinstance(each, DeadlockDetector) for each in installed))
        """
    )
    on = pytester.runpytest("-p", "no:trio", "-s")
    off = pytester.runpytest("-p", "no:trio", "-s", "--tether-no-deadlock-detection")
    on.stdout.fnmatch_lines(["*DETECTING True*"])
    off.stdout.fnmatch_lines(["*DETECTING False*"])
