"""Black-box tests of re-entering a run (TrioToken.run_sync_soon), run-local
storage (RunVar) and run/task detection (in_trio_run, in_trio_task)."""

from __future__ import annotations

import threading

import pytest


def reachable(exc: BaseException) -> list[BaseException]:
    """Every exception reachable from ``exc`` through groups, causes and contexts."""
    found: list[BaseException] = []
    pending = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        pending += [current.__cause__, current.__context__]
        if isinstance(current, BaseExceptionGroup):
            pending += current.exceptions
    return found


async def park(impl) -> None:
    """Block the current task until something calls ``reschedule`` on it."""
    await impl.lowlevel.wait_task_rescheduled(lambda raise_cancel: impl.lowlevel.Abort.FAILED)


# ---------------------------------------------------------------- TrioToken


def test_current_trio_token_is_stable_within_a_run(run, impl) -> None:
    async def main():
        first = impl.lowlevel.current_trio_token()
        await impl.sleep(1)
        return first is impl.lowlevel.current_trio_token()

    assert run(main) is True


def test_each_run_has_its_own_trio_token(run, impl) -> None:
    async def main():
        return impl.lowlevel.current_trio_token()

    assert run(main) is not run(main)


def test_current_trio_token_outside_run_raises_runtime_error(impl) -> None:
    with pytest.raises(RuntimeError):
        impl.lowlevel.current_trio_token()


def test_trio_token_has_no_public_constructor(impl) -> None:
    with pytest.raises(TypeError):
        impl.lowlevel.TrioToken()


def test_run_sync_soon_from_loop_thread_runs_in_fifo_order(run, impl) -> None:
    calls = []

    async def main():
        token = impl.lowlevel.current_trio_token()
        for n in range(5):
            token.run_sync_soon(calls.append, n)
        await impl.testing.wait_all_tasks_blocked()

    run(main)
    assert calls == [0, 1, 2, 3, 4]


def test_run_sync_soon_passes_positional_args(run, impl) -> None:
    calls = []

    async def main():
        token = impl.lowlevel.current_trio_token()
        token.run_sync_soon(lambda *args: calls.append(args), 1, "two")
        await impl.testing.wait_all_tasks_blocked()

    run(main)
    assert calls == [(1, "two")]


def test_run_sync_soon_from_other_thread_runs_in_loop_thread(run, impl) -> None:
    calls = []

    async def main():
        token = impl.lowlevel.current_trio_token()
        task = impl.lowlevel.current_task()

        def callback(value):
            calls.append((value, threading.current_thread() is threading.main_thread()))
            impl.lowlevel.reschedule(task)

        thread = threading.Thread(target=token.run_sync_soon, args=(callback, "from thread"))
        thread.start()
        await park(impl)
        thread.join()

    run(main)
    assert calls == [("from thread", True)]


def test_run_sync_soon_from_other_thread_keeps_fifo_order(run, impl) -> None:
    calls = []

    async def main():
        token = impl.lowlevel.current_trio_token()
        task = impl.lowlevel.current_task()

        def submit():
            for n in range(5):
                token.run_sync_soon(calls.append, n)
            token.run_sync_soon(impl.lowlevel.reschedule, task)

        thread = threading.Thread(target=submit)
        thread.start()
        await park(impl)
        thread.join()

    run(main)
    assert calls == [0, 1, 2, 3, 4]


def test_run_sync_soon_idempotent_drops_duplicate_pending_calls(run, impl) -> None:
    calls = []

    async def main():
        token = impl.lowlevel.current_trio_token()
        for _ in range(3):
            token.run_sync_soon(calls.append, "same", idempotent=True)
        token.run_sync_soon(calls.append, "other", idempotent=True)
        await impl.testing.wait_all_tasks_blocked()
        token.run_sync_soon(calls.append, "same", idempotent=True)
        await impl.testing.wait_all_tasks_blocked()

    run(main)
    assert calls == ["same", "other", "same"]


def test_run_sync_soon_queued_at_exit_still_runs(run, impl) -> None:
    calls = []

    async def main():
        impl.lowlevel.current_trio_token().run_sync_soon(calls.append, "last")

    run(main)
    assert calls == ["last"]


def test_run_sync_soon_after_run_raises_run_finished_error(run, impl) -> None:
    async def main():
        return impl.lowlevel.current_trio_token()

    token = run(main)
    with pytest.raises(impl.RunFinishedError):
        token.run_sync_soon(lambda: None)


def test_run_sync_soon_callback_error_raises_trio_internal_error(run, impl) -> None:
    def callback():
        raise ValueError("callback failed")

    async def main():
        impl.lowlevel.current_trio_token().run_sync_soon(callback)
        await impl.sleep(10)

    with pytest.raises(impl.TrioInternalError) as info:
        run(main)
    # Where the original error hangs is not specified; it must be reachable.
    assert "ValueError('callback failed')" in map(repr, reachable(info.value))


def test_run_sync_soon_callback_runs_with_ki_protection(run, impl) -> None:
    seen = []

    async def main():
        impl.lowlevel.current_trio_token().run_sync_soon(
            lambda: seen.append(impl.lowlevel.currently_ki_protected())
        )
        await impl.testing.wait_all_tasks_blocked()

    run(main)
    assert seen == [True]


# ---------------------------------------------------------------- RunVar


def test_run_var_get_without_value_raises_lookup_error(run, impl) -> None:
    var = impl.lowlevel.RunVar("var")

    async def main():
        with pytest.raises(LookupError):
            var.get()

    run(main)


def test_run_var_get_default_argument(run, impl) -> None:
    var = impl.lowlevel.RunVar("var")

    async def main():
        return var.get("fallback")

    assert run(main) == "fallback"


def test_run_var_constructor_default(run, impl) -> None:
    var = impl.lowlevel.RunVar("var", default=5)

    async def main():
        return var.get(), var.get(7)

    assert run(main) == (5, 7)


def test_run_var_set_then_get(run, impl) -> None:
    var = impl.lowlevel.RunVar("var")

    async def main():
        var.set("value")
        return var.get()

    assert run(main) == "value"


def test_run_var_reset_restores_previous_value(run, impl) -> None:
    var = impl.lowlevel.RunVar("var")

    async def main():
        first = var.set(1)
        second = var.set(2)
        var.reset(second)
        after_second = var.get()
        var.reset(first)
        return after_second, var.get("unset again")

    assert run(main) == (1, "unset again")


def test_run_var_token_records_previous_value(run, impl) -> None:
    var = impl.lowlevel.RunVar("var")

    async def main():
        var.set("old")
        token = var.set("new")
        before = (token.previous_value, token.redeemed)
        var.reset(token)
        return before, token.redeemed

    assert run(main) == (("old", False), True)


def test_run_var_reset_with_used_token_raises_value_error(run, impl) -> None:
    var = impl.lowlevel.RunVar("var")

    async def main():
        token = var.set(1)
        var.reset(token)
        with pytest.raises(ValueError):
            var.reset(token)

    run(main)


def test_run_var_reset_with_other_vars_token_raises_value_error(run, impl) -> None:
    var = impl.lowlevel.RunVar("var")
    other = impl.lowlevel.RunVar("other")

    async def main():
        token = other.set(1)
        with pytest.raises(ValueError):
            var.reset(token)

    run(main)


def test_run_var_is_shared_by_all_tasks_of_a_run(run, impl) -> None:
    var = impl.lowlevel.RunVar("var")
    seen = []

    async def child():
        seen.append(var.get())
        var.set("set by child")

    async def main():
        var.set("set by parent")
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
        seen.append(var.get())

    run(main)
    assert seen == ["set by parent", "set by child"]


def test_run_var_is_not_shared_between_runs(run, impl) -> None:
    var = impl.lowlevel.RunVar("var")

    async def first():
        var.set("first run")

    async def second():
        return var.get("fresh")

    run(first)
    assert run(second) == "fresh"


def test_run_var_outside_run_raises_runtime_error(impl) -> None:
    var = impl.lowlevel.RunVar("var", default=1)
    with pytest.raises(RuntimeError):
        var.get()
    with pytest.raises(RuntimeError):
        var.set(2)


# ---------------------------------------------------------------- detection


def test_in_trio_run_and_task_outside_run_are_false(impl) -> None:
    assert (impl.lowlevel.in_trio_run(), impl.lowlevel.in_trio_task()) == (False, False)


def test_in_trio_run_and_task_inside_task_are_true(run, impl) -> None:
    async def main():
        return impl.lowlevel.in_trio_run(), impl.lowlevel.in_trio_task()

    assert run(main) == (True, True)


def test_in_trio_run_is_false_in_other_thread_during_run(run, impl) -> None:
    seen = []

    def probe():
        seen.append((impl.lowlevel.in_trio_run(), impl.lowlevel.in_trio_task()))

    async def main():
        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()

    run(main)
    assert seen == [(False, False)]
