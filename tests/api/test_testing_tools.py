"""Black-box tests for testing.Sequencer and the checkpoint assertions."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

Run = Callable[..., Any]


# ---------------------------------------------------------------------------
# Sequencer


def test_sequencer_runs_blocks_in_position_order_across_tasks(impl: ModuleType, run: Run) -> None:
    record: list[tuple[str, int]] = []

    async def worker(name: str, seq: Any, positions: list[int]) -> None:
        for position in positions:
            async with seq(position):
                record.append((name, position))

    async def main() -> None:
        seq = impl.testing.Sequencer()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(worker, "late", seq, [2, 5])
            nursery.start_soon(worker, "early", seq, [0, 3])
            nursery.start_soon(worker, "middle", seq, [1, 4])

    run(main)
    assert record == [
        ("early", 0),
        ("middle", 1),
        ("late", 2),
        ("early", 3),
        ("middle", 4),
        ("late", 5),
    ]


def test_sequencer_position_zero_starts_immediately(impl: ModuleType, run: Run) -> None:
    async def main() -> float:
        seq = impl.testing.Sequencer()
        async with seq(0):
            return float(impl.current_time())

    assert run(main) == 0.0


def test_sequencer_next_block_waits_for_previous_block_to_finish(
    impl: ModuleType, run: Run
) -> None:
    record: list[tuple[str, float]] = []

    async def first(seq: Any) -> None:
        async with seq(0):
            record.append(("0 starts", impl.current_time()))
            await impl.sleep(3)
            record.append(("0 ends", impl.current_time()))

    async def second(seq: Any) -> None:
        async with seq(1):
            record.append(("1 starts", impl.current_time()))

    async def main() -> None:
        seq = impl.testing.Sequencer()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(second, seq)
            nursery.start_soon(first, seq)

    run(main)
    assert record == [("0 starts", 0.0), ("0 ends", 3.0), ("1 starts", 3.0)]


def test_sequencer_block_ending_with_an_error_still_releases_the_next(
    impl: ModuleType, run: Run
) -> None:
    record: list[str] = []

    async def failing(seq: Any) -> None:
        try:
            async with seq(0):
                raise KeyError("block 0")
        except KeyError:
            record.append("0 failed")

    async def follower(seq: Any) -> None:
        async with seq(1):
            record.append("1 ran")

    async def main() -> None:
        seq = impl.testing.Sequencer()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(follower, seq)
            nursery.start_soon(failing, seq)

    run(main)
    assert record == ["0 failed", "1 ran"]


def test_sequencer_reusing_a_position_raises_runtime_error(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        seq = impl.testing.Sequencer()
        async with seq(0):
            pass
        with pytest.raises(RuntimeError, match="reuse"):
            async with seq(0):
                pass

    run(main)


def test_sequencer_reusing_a_waiting_position_raises_runtime_error(
    impl: ModuleType, run: Run
) -> None:
    errors: list[str] = []

    async def waiter(seq: Any) -> None:
        async with seq(1):
            pass

    async def duplicate(seq: Any) -> None:
        try:
            async with seq(1):
                pass
        except RuntimeError as exc:
            errors.append(str(exc))

    async def main() -> None:
        seq = impl.testing.Sequencer()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter, seq)
            await impl.testing.wait_all_tasks_blocked()
            nursery.start_soon(duplicate, seq)
            await impl.testing.wait_all_tasks_blocked()
            async with seq(0):
                pass

    run(main)
    assert len(errors) == 1
    assert "reuse" in errors[0]


def test_sequencer_cancelled_wait_raises_runtime_error_and_breaks_sequence(
    impl: ModuleType, run: Run
) -> None:
    async def main() -> None:
        seq = impl.testing.Sequencer()
        with pytest.raises(RuntimeError, match="cancelled"):
            with impl.move_on_after(2):
                async with seq(1):
                    pass
        assert impl.current_time() == 2.0
        with pytest.raises(RuntimeError, match="broken"):
            async with seq(0):
                pass

    run(main)


def test_sequencer_break_wakes_other_waiters_with_runtime_error(impl: ModuleType, run: Run) -> None:
    record: list[tuple[int, str, float]] = []

    async def waiter(seq: Any, position: int, timeout: float) -> None:
        with impl.move_on_after(timeout):
            try:
                async with seq(position):
                    record.append((position, "ran", impl.current_time()))
            except RuntimeError as exc:
                record.append((position, str(exc), impl.current_time()))

    async def main() -> None:
        seq = impl.testing.Sequencer()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter, seq, 3, 100)
            await impl.testing.wait_all_tasks_blocked()
            nursery.start_soon(waiter, seq, 2, 1)

    run(main)
    assert [(position, time) for position, _, time in record] == [(2, 1.0), (3, 1.0)]
    assert "cancelled" in record[0][1]
    assert "broken" in record[1][1]


def test_sequencer_created_outside_run_is_usable_in_a_run(impl: ModuleType, run: Run) -> None:
    seq = impl.testing.Sequencer()
    record: list[int] = []

    async def step(position: int) -> None:
        async with seq(position):
            record.append(position)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for position in (2, 1, 0):
                nursery.start_soon(step, position)

    run(main)
    assert record == [0, 1, 2]


# ---------------------------------------------------------------------------
# assert_checkpoints / assert_no_checkpoints


def test_assert_checkpoints_passes_on_a_checkpoint(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        with impl.testing.assert_checkpoints():
            await impl.lowlevel.checkpoint()
        with impl.testing.assert_checkpoints():
            await impl.sleep(0)

    run(main)


def test_assert_checkpoints_fails_without_a_checkpoint(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        with pytest.raises(AssertionError, match="did not yield"):
            with impl.testing.assert_checkpoints():
                pass

    run(main)


def test_assert_checkpoints_needs_a_schedule_point_not_just_a_cancel_point(
    impl: ModuleType, run: Run
) -> None:
    async def main() -> None:
        with pytest.raises(AssertionError, match="did not yield"):
            with impl.testing.assert_checkpoints():
                await impl.lowlevel.checkpoint_if_cancelled()

    run(main)


def test_assert_checkpoints_needs_a_cancel_point_not_just_a_schedule_point(
    impl: ModuleType, run: Run
) -> None:
    async def main() -> None:
        with pytest.raises(AssertionError, match="did not yield"):
            with impl.testing.assert_checkpoints():
                await impl.lowlevel.cancel_shielded_checkpoint()

    run(main)


def test_assert_checkpoints_lets_an_exception_through_unchecked(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        with pytest.raises(KeyError):
            with impl.testing.assert_checkpoints():
                raise KeyError("no checkpoint, but an error")

    run(main)


def test_assert_checkpoints_counts_a_checkpoint_that_raised_cancelled(
    impl: ModuleType, run: Run
) -> None:
    async def main() -> None:
        with impl.CancelScope() as scope:
            scope.cancel()
            with impl.testing.assert_checkpoints():
                await impl.lowlevel.checkpoint()
        assert scope.cancelled_caught is True

    run(main)


def test_assert_no_checkpoints_passes_on_sync_code(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        with impl.testing.assert_no_checkpoints():
            impl.current_time()

    run(main)


def test_assert_no_checkpoints_fails_on_a_checkpoint(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        with pytest.raises(AssertionError, match="yielded"):
            with impl.testing.assert_no_checkpoints():
                await impl.lowlevel.checkpoint()

    run(main)


@pytest.mark.parametrize("half", ["checkpoint_if_cancelled", "cancel_shielded_checkpoint"])
def test_assert_no_checkpoints_fails_on_half_a_checkpoint(
    impl: ModuleType, run: Run, half: str
) -> None:
    async def main() -> None:
        with pytest.raises(AssertionError, match="yielded"):
            with impl.testing.assert_no_checkpoints():
                await getattr(impl.lowlevel, half)()

    run(main)


def test_assert_no_checkpoints_reports_checkpoint_even_when_block_raised(
    impl: ModuleType, run: Run
) -> None:
    async def main() -> None:
        with pytest.raises(AssertionError, match="yielded") as info:
            with impl.testing.assert_no_checkpoints():
                await impl.lowlevel.checkpoint()
                raise KeyError("after the checkpoint")
        assert isinstance(info.value.__context__, KeyError)

    run(main)


def test_assert_no_checkpoints_lets_an_exception_through_without_checkpoint(
    impl: ModuleType, run: Run
) -> None:
    async def main() -> None:
        with pytest.raises(KeyError):
            with impl.testing.assert_no_checkpoints():
                raise KeyError("no checkpoint")

    run(main)


def test_checkpoint_assertions_can_nest(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        with impl.testing.assert_checkpoints():
            with impl.testing.assert_no_checkpoints():
                impl.current_time()
            await impl.lowlevel.checkpoint()

    run(main)
