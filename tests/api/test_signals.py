"""Black-box tests of open_signal_receiver (SIGUSR1/SIGUSR2 sent to ourselves)."""

from __future__ import annotations

import signal
import threading

import pytest

USR1 = signal.SIGUSR1
USR2 = signal.SIGUSR2


async def let_signals_arrive(impl) -> None:
    # A raised signal reaches the loop as a callback; two schedule points
    # are plenty for it to run.
    for _ in range(3):
        await impl.lowlevel.checkpoint()


@pytest.fixture
def restore_usr_handlers():
    saved = {signum: signal.getsignal(signum) for signum in (USR1, USR2)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_receives_a_signal(run, impl) -> None:
    async def main():
        with impl.open_signal_receiver(USR1) as receiver:
            signal.raise_signal(USR1)
            async for signum in receiver:
                return signum
        return None

    assert run(main) == USR1


def test_a_waiting_task_is_woken_by_a_signal(run, impl) -> None:
    async def main():
        received = []
        with impl.open_signal_receiver(USR1, USR2) as receiver:

            async def listen():
                received.append(await receiver.__anext__())

            async with impl.open_nursery() as nursery:
                nursery.start_soon(listen)
                await impl.testing.wait_all_tasks_blocked()
                signal.raise_signal(USR2)
        return received

    assert run(main) == [USR2]


def test_repeated_signals_are_coalesced_and_kept_in_arrival_order(run, impl) -> None:
    async def main():
        with impl.open_signal_receiver(USR1, USR2) as receiver:
            signal.raise_signal(USR2)
            await let_signals_arrive(impl)
            signal.raise_signal(USR1)
            await let_signals_arrive(impl)
            signal.raise_signal(USR2)
            signal.raise_signal(USR1)
            await let_signals_arrive(impl)
            got = [await receiver.__anext__(), await receiver.__anext__()]
            with impl.move_on_after(1) as scope:
                got.append(await receiver.__anext__())
            return got, scope.cancelled_caught

    assert run(main) == ([USR2, USR1], True)


def test_receiving_is_a_checkpoint(run, impl) -> None:
    async def main():
        with impl.open_signal_receiver(USR1) as receiver:
            signal.raise_signal(USR1)
            await let_signals_arrive(impl)
            with impl.testing.assert_checkpoints():
                assert await receiver.__anext__() == USR1

    run(main)


def test_original_handlers_are_restored_on_exit(run, impl, restore_usr_handlers) -> None:
    def mine(signum, frame):
        pass

    signal.signal(USR1, mine)

    async def main():
        with impl.open_signal_receiver(USR1, USR2):
            assert signal.getsignal(USR1) is not mine
        return signal.getsignal(USR1), signal.getsignal(USR2)

    before_usr2 = signal.getsignal(USR2)
    assert run(main) == (mine, before_usr2)


def test_unreceived_signals_go_to_the_original_handler_on_exit(
    run, impl, restore_usr_handlers
) -> None:
    seen = []
    signal.signal(USR1, lambda signum, frame: seen.append(signum))

    async def main():
        with impl.open_signal_receiver(USR1):
            signal.raise_signal(USR1)
            await let_signals_arrive(impl)
            assert seen == []
        return list(seen)

    assert run(main) == [USR1]


def test_receiver_after_exit_raises_runtime_error(run, impl) -> None:
    async def main():
        with impl.open_signal_receiver(USR1) as receiver:
            pass
        with pytest.raises(RuntimeError):
            await receiver.__anext__()

    run(main)


def test_concurrent_iteration_raises_busy_resource_error(run, impl) -> None:
    async def main():
        with impl.open_signal_receiver(USR1) as receiver:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(receiver.__anext__)
                await impl.testing.wait_all_tasks_blocked()
                with pytest.raises(impl.BusyResourceError):
                    await receiver.__anext__()
                signal.raise_signal(USR1)

    run(main)


def test_no_signals_raises_type_error(run, impl) -> None:
    async def main():
        with impl.open_signal_receiver():
            pass

    with pytest.raises(TypeError):
        run(main)


def test_outside_the_main_thread_raises_runtime_error(impl) -> None:
    errors = []

    async def main():
        with impl.open_signal_receiver(USR1):
            pass

    def in_thread():
        try:
            impl.run(main)
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(10)
    assert len(errors) == 1
    assert "main thread" in str(errors[0])


def test_outside_a_run_raises_runtime_error(impl) -> None:
    with pytest.raises(RuntimeError), impl.open_signal_receiver(USR1):
        pass
