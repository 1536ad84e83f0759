"""KeyboardInterrupt: where a SIGINT lands decides whether it is raised at
once or deferred to the main task's next checkpoint (``Runner.ki_pending``),
and ``_ki.frame_is_protected`` is the rule that decides.

Every run here is wrapped so that a KeyboardInterrupt can never escape the
test (pytest would take it as a request to stop the whole session).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import outcome
import pytest

import tether
from tether import _core
from tether._core import _ki
from tether.testing import wait_all_tasks_blocked

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread()
    or signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs the main thread with Python's default SIGINT handler",
)


def capture_run(run: Callable[..., Any], main: Callable[..., Any], **kwargs: Any) -> outcome.Outcome[Any]:
    return outcome.capture(run, main, **kwargs)


# ---------------------------------------------------------------- delivery


def test_sigint_in_unprotected_code_raises_at_the_call(run) -> None:
    async def main() -> list[str]:
        seen = []
        try:
            signal.raise_signal(signal.SIGINT)
            seen.append("not interrupted")
        except KeyboardInterrupt:
            seen.append("interrupted at the call")
        seen.append(f"pending={_core.current_runner().ki_pending}")
        return seen

    assert capture_run(run, main).unwrap() == ["interrupted at the call", "pending=False"]


def test_sigint_in_protected_function_is_deferred_to_next_checkpoint(run) -> None:
    seen: list[str] = []

    @_core.enable_ki_protection
    def protected() -> None:
        signal.raise_signal(signal.SIGINT)
        seen.append("protected code finished")

    async def main() -> None:
        runner = _core.current_runner()
        protected()
        seen.append(f"pending={runner.ki_pending}")
        try:
            await _core.checkpoint()
        except KeyboardInterrupt:
            seen.append("KeyboardInterrupt at checkpoint")
        seen.append(f"pending={runner.ki_pending}")

    capture_run(run, main).unwrap()
    assert seen == [
        "protected code finished",
        "pending=True",
        "KeyboardInterrupt at checkpoint",
        "pending=False",
    ]


def test_pending_ki_is_raised_by_checkpoint_if_cancelled(run) -> None:
    @_core.enable_ki_protection
    def protected() -> None:
        signal.raise_signal(signal.SIGINT)

    async def main() -> str:
        protected()
        try:
            await _core.checkpoint_if_cancelled()
        except KeyboardInterrupt:
            return "raised"
        return "not raised"

    assert capture_run(run, main).unwrap() == "raised"


def test_pending_ki_is_not_raised_at_shielded_checkpoint(run) -> None:
    @_core.enable_ki_protection
    def protected() -> None:
        signal.raise_signal(signal.SIGINT)

    async def main() -> list[str]:
        seen = []
        protected()
        await _core.cancel_shielded_checkpoint()
        seen.append("after shielded checkpoint")
        try:
            await _core.checkpoint()
        except KeyboardInterrupt:
            seen.append("KeyboardInterrupt")
        return seen

    assert capture_run(run, main).unwrap() == ["after shielded checkpoint", "KeyboardInterrupt"]


def test_sigint_from_child_aborts_main_task_sleep(run) -> None:
    @_core.enable_ki_protection
    async def child() -> None:
        signal.raise_signal(signal.SIGINT)

    async def main() -> tuple[str, float, int]:
        runner = _core.current_runner()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)
            try:
                await tether.sleep(10)
                result = "slept"
            except KeyboardInterrupt:
                result = "interrupted"
            assert _core.current_task()._timer is None
        live = [entry for entry in runner.deadlines if entry[2] is not None]
        return result, _core.current_time(), len(live)

    assert capture_run(run, main).unwrap() == ("interrupted", 0.0, 0)


def test_sigint_aborts_custom_wait_through_its_abort_function(run) -> None:
    aborts: list[str] = []

    @_core.enable_ki_protection
    async def child() -> None:
        signal.raise_signal(signal.SIGINT)

    def abort(raise_cancel: _core.RaiseCancelT) -> _core.Abort:
        try:
            raise_cancel()
        except BaseException as error:
            aborts.append(type(error).__name__)
        return _core.Abort.SUCCEEDED

    async def main() -> str:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)
            try:
                await _core.wait_task_rescheduled(abort)
            except KeyboardInterrupt:
                return "interrupted"
        return "woken"

    assert capture_run(run, main).unwrap() == "interrupted"
    assert aborts == ["KeyboardInterrupt"]


def test_sigint_in_child_task_unprotected_raises_in_that_child(run) -> None:
    async def child() -> None:
        signal.raise_signal(signal.SIGINT)

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)

    result = capture_run(run, main)
    assert isinstance(result, outcome.Error)
    assert isinstance(result.error, BaseExceptionGroup)
    assert [type(e) for e in result.error.exceptions] == [KeyboardInterrupt]


def test_pending_ki_at_end_of_run_is_raised_by_run(run) -> None:
    @_core.enable_ki_protection
    def protected() -> None:
        signal.raise_signal(signal.SIGINT)

    async def main() -> str:
        protected()
        return "returned"

    result = capture_run(run, main)
    assert isinstance(result, outcome.Error)
    assert type(result.error) is KeyboardInterrupt


def test_pending_ki_at_end_of_failed_run_keeps_the_error_as_context(run) -> None:
    @_core.enable_ki_protection
    def protected() -> None:
        signal.raise_signal(signal.SIGINT)

    async def main() -> None:
        protected()
        raise ValueError("main failed")

    result = capture_run(run, main)
    assert isinstance(result, outcome.Error)
    assert type(result.error) is KeyboardInterrupt
    assert isinstance(result.error.__context__, ValueError)


def test_sigint_in_run_sync_soon_callback_is_deferred(run) -> None:
    seen: list[str] = []

    def callback() -> None:
        signal.raise_signal(signal.SIGINT)
        seen.append("callback finished")

    async def main() -> None:
        _core.current_trio_token().run_sync_soon(callback)
        try:
            await tether.sleep(1)
        except KeyboardInterrupt:
            seen.append("main interrupted")

    capture_run(run, main).unwrap()
    assert seen == ["callback finished", "main interrupted"]


def test_restrict_to_checkpoints_defers_sigint_in_unprotected_code(run) -> None:
    async def main() -> list[str]:
        runner = _core.current_runner()
        assert runner.restrict_ki_to_checkpoints
        seen = []
        signal.raise_signal(signal.SIGINT)
        seen.append(f"not raised, pending={runner.ki_pending}")
        try:
            await _core.checkpoint()
        except KeyboardInterrupt:
            seen.append("raised at checkpoint")
        return seen

    result = capture_run(run, main, restrict_keyboard_interrupt_to_checkpoints=True)
    assert result.unwrap() == ["not raised, pending=True", "raised at checkpoint"]


def test_pending_ki_with_failing_abort_is_attempted_once(run) -> None:
    aborts: list[int] = []

    async def main() -> list[str]:
        me = _core.current_task()
        seen = []

        @_core.enable_ki_protection
        async def child() -> None:
            await wait_all_tasks_blocked()
            signal.raise_signal(signal.SIGINT)
            for _ in range(10):
                await _core.checkpoint()
            _core.reschedule(me)

        def abort(raise_cancel: _core.RaiseCancelT) -> _core.Abort:
            aborts.append(1)
            return _core.Abort.FAILED

        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)
            try:
                await _core.wait_task_rescheduled(abort)
                seen.append("woken normally")
                await _core.checkpoint()
            except KeyboardInterrupt:
                seen.append("KeyboardInterrupt at next checkpoint")
        return seen

    assert capture_run(run, main).unwrap() == ["woken normally", "KeyboardInterrupt at next checkpoint"]
    assert len(aborts) == 1


def test_refused_ki_lets_the_clock_autojump(run) -> None:
    # While the main task's wait refuses the interrupt, the loop must still
    # sleep (here: autojump to the child's deadline) instead of spinning.
    async def main() -> list[object]:
        me = _core.current_task()
        seen: list[object] = []

        @_core.enable_ki_protection
        async def child() -> None:
            await wait_all_tasks_blocked()
            signal.raise_signal(signal.SIGINT)
            await tether.sleep(7)
            _core.reschedule(me)

        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)
            await _core.wait_task_rescheduled(lambda raise_cancel: _core.Abort.FAILED)
            seen.append(_core.current_time())
            try:
                await _core.checkpoint()
            except KeyboardInterrupt:
                seen.append("KeyboardInterrupt")
        return seen

    assert capture_run(run, main).unwrap() == [7.0, "KeyboardInterrupt"]


def test_pending_ki_is_offered_again_when_main_blocks_again(run) -> None:
    seen: list[object] = []

    async def main() -> None:
        me = _core.current_task()
        state = {"refuse": True, "blocked": False}

        def abort(raise_cancel: _core.RaiseCancelT) -> _core.Abort:
            if state["refuse"]:
                return _core.Abort.FAILED
            return _core.Abort.SUCCEEDED

        @_core.enable_ki_protection
        async def child() -> None:
            await wait_all_tasks_blocked()
            signal.raise_signal(signal.SIGINT)
            await _core.checkpoint()
            _core.reschedule(me)  # ends the first, refusing wait
            await tether.sleep(10)
            if state["blocked"]:
                _core.reschedule(me)  # fallback, so that the test ends

        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)
            await _core.wait_task_rescheduled(abort)
            state["refuse"], state["blocked"] = False, True
            try:
                await _core.wait_task_rescheduled(abort)
                seen.append("woken by the fallback")
            except KeyboardInterrupt:
                seen.append("KeyboardInterrupt")
            state["blocked"] = False
            seen.append(_core.current_time())

    capture_run(run, main)
    assert seen == ["KeyboardInterrupt", 0.0]


def test_ki_delivered_into_nursery_wait_is_not_raised_again(run) -> None:
    @_core.enable_ki_protection
    async def child() -> None:
        signal.raise_signal(signal.SIGINT)
        await tether.sleep(5)

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)

    result = capture_run(run, main)
    assert isinstance(result, outcome.Error)
    error = result.error
    assert isinstance(error, BaseExceptionGroup), repr(error)
    assert [type(e) for e in error.exceptions] == [KeyboardInterrupt]


# ---------------------------------------------------------------- the handler


def test_sigint_handler_installed_during_run_and_restored(run) -> None:
    async def main() -> Any:
        return signal.getsignal(signal.SIGINT)

    during = capture_run(run, main).unwrap()
    assert during is not signal.default_int_handler
    assert callable(during)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_handler_restored_after_crash(run) -> None:
    def boom() -> None:
        raise ValueError("boom")

    async def main() -> None:
        _core.current_trio_token().run_sync_soon(boom)
        await tether.sleep_forever()

    result = capture_run(run, main)
    assert isinstance(result, outcome.Error)
    assert isinstance(result.error, tether.TrioInternalError)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_handler_not_installed_outside_main_thread(run) -> None:
    seen: list[object] = []

    async def main() -> None:
        seen.append(signal.getsignal(signal.SIGINT))

    def in_thread() -> None:
        seen.append(capture_run(run, main))

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    handler, result = seen
    assert handler is signal.default_int_handler
    assert isinstance(result, outcome.Value)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_custom_sigint_handler_is_left_alone(run) -> None:
    calls: list[int] = []

    def custom(signum: int, frame: types.FrameType | None) -> None:
        calls.append(signum)

    async def main() -> Any:
        signal.raise_signal(signal.SIGINT)
        return signal.getsignal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, custom)
    try:
        during = capture_run(run, main).unwrap()
        assert signal.getsignal(signal.SIGINT) is custom
    finally:
        signal.signal(signal.SIGINT, previous)
    assert during is custom
    assert calls == [signal.SIGINT]


# ---------------------------------------------------------------- frame_is_protected


def test_no_frame_is_unprotected() -> None:
    assert _ki.frame_is_protected(None, None) is False


def test_plain_code_outside_a_run_is_unprotected() -> None:
    assert _ki.frame_is_protected(sys._getframe(), None) is False
    assert _core.currently_ki_protected() is False


def test_explicit_marks_decide_and_innermost_wins() -> None:
    @_core.disable_ki_protection
    def unprotected() -> bool:
        return _ki.frame_is_protected(sys._getframe(), None)

    def unmarked() -> bool:
        return _ki.frame_is_protected(sys._getframe(), None)

    @_core.enable_ki_protection
    def protected() -> tuple[bool, bool, bool]:
        return _ki.frame_is_protected(sys._getframe(), None), unmarked(), unprotected()

    assert protected() == (True, True, False)


def test_marks_are_kept_per_code_object() -> None:
    def factory() -> Callable[[], bool]:
        def inner() -> bool:
            return _ki.frame_is_protected(sys._getframe(), None)

        return inner

    first, second = factory(), factory()
    assert first.__code__ is second.__code__
    _core.enable_ki_protection(first)
    try:
        # Closures of one 'def' share their code object, hence the mark.
        assert (first(), second()) == (True, True)
    finally:
        del _ki._CODE_PROTECTION[first.__code__]


def _compile_in(directory: str, source: str, name: str) -> Any:
    namespace: dict[str, Any] = {}
    code = compile(source, os.path.join(directory, "_generated_for_test.py"), "exec")
    exec(code, namespace)
    return namespace[name]


def test_tether_own_files_are_protected() -> None:
    core_dir = os.path.dirname(_ki.__file__)
    frame_getter = _compile_in(core_dir, "import sys\ndef here():\n    return sys._getframe()\n", "here")
    assert _ki.frame_is_protected(frame_getter(), None) is True


def test_sibling_directory_with_tether_prefix_is_not_ours() -> None:
    package_dir = _ki._PACKAGE_DIR.rstrip(os.sep)
    sibling = package_dir + "_extras"
    frame_getter = _compile_in(sibling, "import sys\ndef here():\n    return sys._getframe()\n", "here")
    assert _ki.frame_is_protected(frame_getter(), None) is False


def test_explicit_mark_wins_over_tether_file() -> None:
    core_dir = os.path.dirname(_ki.__file__)
    frame_getter = _compile_in(core_dir, "import sys\ndef here():\n    return sys._getframe()\n", "here")
    _core.disable_ki_protection(frame_getter)
    try:
        assert _ki.frame_is_protected(frame_getter(), None) is False
    finally:
        del _ki._CODE_PROTECTION[frame_getter.__code__]


def test_task_boundary_uses_the_current_tasks_flag(run) -> None:
    async def main() -> list[bool]:
        task = _core.current_task()
        seen = [_core.currently_ki_protected()]
        task._ki_protected = True
        try:
            seen.append(_core.currently_ki_protected())
        finally:
            task._ki_protected = False
        seen.append(_core.currently_ki_protected())
        return seen

    assert capture_run(run, main).unwrap() == [False, True, False]


def test_task_boundary_without_a_current_task_is_protected(run) -> None:
    async def main() -> bool:
        # The walk reaches Runner.run_loop; with no runner to ask, the
        # boundary itself counts as protected.
        return _ki.frame_is_protected(sys._getframe(), None)

    assert capture_run(run, main).unwrap() is True


def test_system_task_is_protected_at_the_boundary(run) -> None:
    seen: list[bool] = []

    async def system() -> None:
        seen.append(_core.current_task()._ki_protected)
        seen.append(_core.currently_ki_protected())

    async def main() -> None:
        _core.spawn_system_task(system)
        await wait_all_tasks_blocked()

    capture_run(run, main).unwrap()
    assert seen == [True, True]


def test_run_sync_soon_callback_runs_protected(run) -> None:
    seen: list[bool] = []

    async def main() -> None:
        _core.current_trio_token().run_sync_soon(lambda: seen.append(_core.currently_ki_protected()))
        await tether.sleep(1)

    capture_run(run, main).unwrap()
    assert seen == [True]


def test_run_loop_is_a_task_boundary() -> None:
    assert _core.Runner.run_loop.__code__ in _ki.TASK_BOUNDARY_CODES


def test_a_signal_landing_in_the_loop_itself_is_deferred(run) -> None:
    # Regression: the loop frame decided by the *current* task's flag even
    # when it was the innermost frame (the signal arrived between two task
    # steps, in the loop's own code), so Ctrl-C could tear the loop.
    async def main() -> tuple[bool, bool]:
        loop_frame = sys._getframe().f_back
        assert loop_frame is not None and loop_frame.f_code is _core.Runner.run_loop.__code__
        runner = _core.current_runner()
        return (
            _ki.frame_is_protected(loop_frame, runner),
            _ki.frame_is_protected(sys._getframe(), runner),
        )

    assert capture_run(run, main).unwrap() == (True, False)


def test_mark_rejects_objects_without_code() -> None:
    with pytest.raises(TypeError, match="expected a function"):
        _core.enable_ki_protection(object())  # type: ignore[type-var]

