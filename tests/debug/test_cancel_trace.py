"""Cancellation-origin tracing: each Cancelled notes where its cancellation came from."""

from __future__ import annotations

import math
import traceback

import pytest

import tether
import tether.debug
from tether.debug._waits import show_path
from tether.testing import MockClock

THIS_FILE = show_path(__file__)


async def notes_on_wait(seen: list[str], seconds: float = math.inf) -> None:
    """Sleep (until cancelled, by default); record the notes of the Cancelled."""
    try:
        await tether.sleep(seconds)
    except tether.Cancelled as cancelled:
        seen.extend(getattr(cancelled, "__notes__", []))
        raise


def line_of(text: str) -> int:
    """The line number of this file's only line containing ``text``."""
    with open(__file__) as file:
        found = [number for number, line in enumerate(file, 1) if text in line and "line_of(" not in line]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def tracing() -> None:
    tether.debug.trace_cancellations()


@pytest.mark.usefixtures("tracing")
def test_explicit_cancel_notes_the_cancellers_stack() -> None:
    notes: list[str] = []

    async def main() -> None:
        with tether.CancelScope() as scope:

            async def canceller() -> None:
                scope.cancel("enough")  # the cancel call

            async with tether.open_nursery() as nursery:
                nursery.start_soon(canceller, name="canceller")
                await notes_on_wait(notes)

    tether.run(main)
    assert notes == [
        "Cancelled by CancelScope.cancel() (reason: 'enough') in task 'canceller', "
        "called from (most recent call last):\n"
        f'  File "{__file__}", line {line_of("# the cancel call")}, in canceller\n'
        '    scope.cancel("enough")  # the cancel' + " call"
    ]


@pytest.mark.usefixtures("tracing")
def test_expired_deadline_notes_where_it_was_set() -> None:
    seen: list[str] = []

    async def main() -> None:
        with tether.move_on_after(1):  # the deadline of main
            await notes_on_wait(seen)

    tether.run(main, clock=MockClock(autojump_threshold=0))
    where = f"{THIS_FILE}:{line_of('# the deadline of main')} in main"
    assert seen == [f"Cancelled because the deadline set at {where} expired"]


@pytest.mark.usefixtures("tracing")
def test_fail_after_and_a_deadline_set_later_are_traced_to_the_user_code() -> None:
    seen: list[str] = []

    async def main() -> None:
        with pytest.raises(tether.TooSlowError):
            with tether.fail_after(5):  # fail_after here
                await notes_on_wait(seen)
        with tether.CancelScope() as scope:
            scope.deadline = tether.current_time() + 1  # deadline set here
            await notes_on_wait(seen)

    tether.run(main, clock=MockClock(autojump_threshold=0))
    assert seen == [
        f"Cancelled because the deadline set at {THIS_FILE}:{line_of('# fail_after here')} in main expired",
        f"Cancelled because the deadline set at {THIS_FILE}:{line_of('# deadline set here')} in main expired",
    ]


@pytest.mark.usefixtures("tracing")
def test_deadline_already_passed_on_entry_is_traced_to_the_with_statement() -> None:
    seen: list[str] = []

    async def main() -> None:
        with tether.CancelScope(deadline=tether.current_time() - 1):  # already late
            await notes_on_wait(seen, 0)

    tether.run(main, clock=MockClock())
    where = f"{THIS_FILE}:{line_of('# already late')} in main"
    assert seen == [f"Cancelled because the deadline set at {where} expired"]


@pytest.mark.usefixtures("tracing")
def test_sibling_error_notes_the_task_and_its_exception() -> None:
    async def failing() -> None:
        await tether.sleep(1)
        raise ValueError("boom")  # the sibling raises

    seen: list[str] = []

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(failing, name="x")
            await notes_on_wait(seen)

    with pytest.RaisesGroup(ValueError):
        tether.run(main, clock=MockClock(autojump_threshold=0))
    assert seen == [
        f"Cancelled because sibling task 'x' raised ValueError: boom at "
        f"{THIS_FILE}:{line_of('# the sibling raises')} in failing"
    ]


@pytest.mark.usefixtures("tracing")
def test_error_in_the_nursery_body_notes_it() -> None:
    seen: list[str] = []

    async def main() -> None:
        tether.lowlevel.current_task().name = "main"
        async with tether.open_nursery() as nursery:
            nursery.start_soon(notes_on_wait, seen)
            await tether.sleep(1)
            raise KeyError("k")

    with pytest.RaisesGroup(KeyError):
        tether.run(main, clock=MockClock(autojump_threshold=0))
    assert seen == [
        f"Cancelled because the body of a nursery in task 'main' raised KeyError: 'k' at {THIS_FILE}:"
        f"{line_of('raise KeyError')} in main"
    ]


@pytest.mark.usefixtures("tracing")
def test_note_shows_in_the_traceback() -> None:
    formatted: list[str] = []

    async def main() -> None:
        with tether.CancelScope() as scope:
            scope.cancel()
            try:
                await tether.sleep(0)
            except tether.Cancelled as cancelled:
                formatted.append("".join(traceback.format_exception(cancelled)))
                raise

    tether.run(main)
    assert "Cancelled by CancelScope.cancel() in task" in formatted[0]


def test_tracing_is_off_by_default() -> None:
    notes: list[str] = []

    async def main() -> None:
        with tether.CancelScope() as scope:
            scope.cancel()
            await notes_on_wait(notes)

    tether.run(main)
    assert notes == []
    assert tether._core.DEBUG_HOOKS.cancel_tracer is None


def test_environment_variable_turns_tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_TRACE_CANCEL", "1")
    seen: list[str] = []

    async def main() -> None:
        with tether.CancelScope() as scope:
            scope.cancel()
            await notes_on_wait(seen, 0)

    tether.run(main)
    assert len(seen) == 1 and seen[0].startswith("Cancelled by CancelScope.cancel()")


def test_cancellation_from_before_tracing_began_says_so() -> None:
    seen: list[str] = []

    async def main() -> None:
        with tether.CancelScope() as scope:
            scope.cancel()
            tether.debug.trace_cancellations()
            await notes_on_wait(seen, 0)

    tether.run(main)
    assert seen == ["Cancelled (explicit); where is not known: tracing was off at the time"]
