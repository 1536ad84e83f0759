"""Black-box tests of KeyboardInterrupt protection: the decorators on each
kind of function, the defaults for tasks, and delivery of a real SIGINT."""

from __future__ import annotations

import signal

import pytest

# ---------------------------------------------------------------- decorators


def test_main_task_is_not_ki_protected(run, impl) -> None:
    async def main():
        return impl.lowlevel.currently_ki_protected()

    assert run(main) is False


def test_enable_ki_protection_on_sync_function(run, impl) -> None:
    @impl.lowlevel.enable_ki_protection
    def protected():
        return impl.lowlevel.currently_ki_protected()

    async def main():
        return protected(), impl.lowlevel.currently_ki_protected()

    assert run(main) == (True, False)


def test_disable_ki_protection_inside_protected_function(run, impl) -> None:
    @impl.lowlevel.disable_ki_protection
    def unprotected():
        return impl.lowlevel.currently_ki_protected()

    @impl.lowlevel.enable_ki_protection
    def protected():
        return impl.lowlevel.currently_ki_protected(), unprotected()

    async def main():
        return protected()

    assert run(main) == (True, False)


def test_enable_ki_protection_on_async_function_survives_checkpoints(run, impl) -> None:
    @impl.lowlevel.enable_ki_protection
    async def protected():
        before = impl.lowlevel.currently_ki_protected()
        await impl.sleep(1)
        return before, impl.lowlevel.currently_ki_protected()

    async def main():
        return await protected(), impl.lowlevel.currently_ki_protected()

    assert run(main) == ((True, True), False)


def test_disable_ki_protection_on_async_function(run, impl) -> None:
    @impl.lowlevel.disable_ki_protection
    async def unprotected():
        await impl.lowlevel.checkpoint()
        return impl.lowlevel.currently_ki_protected()

    @impl.lowlevel.enable_ki_protection
    async def protected():
        return await unprotected()

    async def main():
        return await protected()

    assert run(main) is False


def test_enable_ki_protection_on_generator(run, impl) -> None:
    @impl.lowlevel.enable_ki_protection
    def generator():
        yield impl.lowlevel.currently_ki_protected()
        yield impl.lowlevel.currently_ki_protected()

    async def main():
        return list(generator())

    assert run(main) == [True, True]


def test_enable_ki_protection_on_async_generator(run, impl) -> None:
    @impl.lowlevel.enable_ki_protection
    async def agen():
        yield impl.lowlevel.currently_ki_protected()
        await impl.lowlevel.checkpoint()
        yield impl.lowlevel.currently_ki_protected()

    async def main():
        return [value async for value in agen()]

    assert run(main) == [True, True]


def test_ki_protection_decorators_pass_arguments_and_results(run, impl) -> None:
    @impl.lowlevel.enable_ki_protection
    def add(a, b=2):
        return a + b

    @impl.lowlevel.disable_ki_protection
    async def mul(a, *, b):
        return a * b

    async def main():
        return add(1), add(1, b=5), await mul(3, b=4)

    assert run(main) == (3, 6, 12)
    assert (add.__name__, mul.__name__) == ("add", "mul")


def test_child_task_does_not_inherit_spawner_protection(run, impl) -> None:
    seen = []

    async def child():
        seen.append(impl.lowlevel.currently_ki_protected())

    @impl.lowlevel.enable_ki_protection
    async def protected_spawner():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    async def main():
        await protected_spawner()

    run(main)
    assert seen == [False]


def test_system_task_is_ki_protected_by_default(run, impl) -> None:
    seen = []

    async def system():
        seen.append(impl.lowlevel.currently_ki_protected())

    async def main():
        impl.lowlevel.spawn_system_task(system)
        await impl.testing.wait_all_tasks_blocked()

    run(main)
    assert seen == [True]


def test_system_task_can_disable_ki_protection(run, impl) -> None:
    seen = []

    @impl.lowlevel.disable_ki_protection
    async def system():
        seen.append(impl.lowlevel.currently_ki_protected())

    async def main():
        impl.lowlevel.spawn_system_task(system)
        await impl.testing.wait_all_tasks_blocked()

    run(main)
    assert seen == [False]


# ---------------------------------------------------------------- SIGINT delivery


def test_sigint_in_unprotected_code_raises_keyboard_interrupt_at_once(run, impl) -> None:
    events = []

    async def main():
        events.append("before")
        signal.raise_signal(signal.SIGINT)
        events.append("not reached")

    with pytest.raises(KeyboardInterrupt):
        run(main)
    assert events == ["before"]


def test_sigint_in_protected_code_is_delivered_at_next_checkpoint(run, impl) -> None:
    events = []

    @impl.lowlevel.enable_ki_protection
    def protected():
        signal.raise_signal(signal.SIGINT)
        events.append("protected code finished")

    async def main():
        protected()
        events.append("main continues")
        await impl.sleep(1)
        events.append("not reached")

    with pytest.raises(KeyboardInterrupt):
        run(main)
    assert events == ["protected code finished", "main continues"]


def test_restricted_sigint_is_delivered_at_next_checkpoint(run, impl) -> None:
    events = []

    async def main():
        signal.raise_signal(signal.SIGINT)
        events.append("continues until checkpoint")
        await impl.lowlevel.checkpoint()
        events.append("not reached")

    with pytest.raises(KeyboardInterrupt):
        run(main, restrict_keyboard_interrupt_to_checkpoints=True)
    assert events == ["continues until checkpoint"]


def test_sigint_while_main_waits_in_nursery_exit_cancels_the_children(run, impl) -> None:
    reasons = []

    @impl.lowlevel.enable_ki_protection
    async def interrupts_then_waits():
        signal.raise_signal(signal.SIGINT)
        try:
            await impl.sleep_forever()
        except impl.Cancelled as cancelled:
            reasons.append(str(cancelled).split(" from task ")[0])
            raise

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(interrupts_then_waits)

    with pytest.raises(BaseExceptionGroup) as info:
        run(main)
    assert [type(exc) for exc in info.value.exceptions] == [KeyboardInterrupt]
    assert reasons == ["cancelled due to KeyboardInterrupt"]


def test_sigint_handler_is_restored_after_run(run, impl) -> None:
    before = signal.getsignal(signal.SIGINT)

    async def main():
        await impl.sleep(1)

    run(main)
    assert signal.getsignal(signal.SIGINT) is before
