"""Black-box tests of tether.lowlevel.FdStream over pipes."""

from __future__ import annotations

import os

import pytest


def pipe_streams(impl):
    """(read stream, write stream) over a fresh pipe."""
    read_fd, write_fd = os.pipe()
    return impl.lowlevel.FdStream(read_fd), impl.lowlevel.FdStream(write_fd)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_send_all_then_receive_some(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader, writer:
            await writer.send_all(b"hello")
            return await reader.receive_some()

    assert run(main) == b"hello"


def test_receive_some_respects_max_bytes(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader, writer:
            await writer.send_all(b"abcdef")
            return await reader.receive_some(4), await reader.receive_some(4)

    assert run(main) == (b"abcd", b"ef")


def test_receive_some_returns_empty_at_end_of_file(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader:
            await writer.send_all(b"x")
            await writer.aclose()
            return await reader.receive_some(), await reader.receive_some()

    assert run(main) == (b"x", b"")


def test_receive_some_waits_for_data(run, impl) -> None:
    events = []

    async def main():
        reader, writer = pipe_streams(impl)
        async with reader, writer:

            async def receive():
                events.append(await reader.receive_some())

            async with impl.open_nursery() as nursery:
                nursery.start_soon(receive)
                await impl.testing.wait_all_tasks_blocked()
                events.append("sending")
                await writer.send_all(b"late")

    run(main)
    assert events == ["sending", b"late"]


def test_large_send_all_waits_for_the_reader(run, impl) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: far more than a pipe holds

    async def main():
        reader, writer = pipe_streams(impl)
        received = bytearray()
        async with reader, writer:

            async def drain():
                while len(received) < len(payload):
                    received.extend(await reader.receive_some())

            async with impl.open_nursery() as nursery:
                nursery.start_soon(drain)
                await writer.send_all(payload)
        return bytes(received)

    assert run(main) == payload


def test_send_all_accepts_memoryview_and_bytearray(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader, writer:
            await writer.send_all(bytearray(b"ab"))
            await writer.send_all(memoryview(b"cd"))
            return await reader.receive_some()

    assert run(main) == b"abcd"


def test_receive_some_with_bad_max_bytes_raises_value_error(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader, writer:
            with pytest.raises(ValueError):
                await reader.receive_some(0)

    run(main)


def test_methods_are_checkpoints(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader, writer:
            with impl.testing.assert_checkpoints():
                await writer.send_all(b"x")
            with impl.testing.assert_checkpoints():
                await writer.send_all(b"")
            with impl.testing.assert_checkpoints():
                await reader.receive_some()
            with impl.testing.assert_checkpoints():
                await writer.wait_send_all_might_not_block()

    run(main)


def test_send_all_in_cancelled_scope_sends_nothing(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader, writer:
            with impl.CancelScope() as scope:
                scope.cancel()
                await writer.send_all(b"lost")
            await writer.send_all(b"kept")
            return scope.cancelled_caught, await reader.receive_some()

    assert run(main) == (True, b"kept")


def test_use_after_close_raises_closed_resource_error(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        await reader.aclose()
        await writer.aclose()
        with pytest.raises(impl.ClosedResourceError):
            await reader.receive_some()
        with pytest.raises(impl.ClosedResourceError):
            await writer.send_all(b"x")
        with pytest.raises(impl.ClosedResourceError):
            await writer.wait_send_all_might_not_block()

    run(main)


def test_aclose_is_idempotent(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        await writer.aclose()
        await writer.aclose()
        await reader.aclose()

    run(main)


def test_closing_wakes_a_blocked_receiver(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with writer:

            async def receive():
                with pytest.raises(impl.ClosedResourceError):
                    await reader.receive_some()

            async with impl.open_nursery() as nursery:
                nursery.start_soon(receive)
                await impl.testing.wait_all_tasks_blocked()
                await reader.aclose()

    run(main)


def test_concurrent_receives_raise_busy_resource_error(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader, writer:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(reader.receive_some)
                await impl.testing.wait_all_tasks_blocked()
                with pytest.raises(impl.BusyResourceError):
                    await reader.receive_some()
                await writer.send_all(b"x")

    run(main)


def test_concurrent_sends_raise_busy_resource_error(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader, writer:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(writer.send_all, b"x" * (1 << 20))
                await impl.testing.wait_all_tasks_blocked()
                with pytest.raises(impl.BusyResourceError):
                    await writer.send_all(b"y")
                nursery.cancel_scope.cancel()

    run(main)


def test_send_to_a_closed_reader_raises_broken_resource_error(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        await reader.aclose()
        async with writer:
            with pytest.raises(impl.BrokenResourceError):
                await writer.send_all(b"nobody listens")

    run(main)


def test_fd_is_non_blocking_while_open_and_restored_on_close(run, impl) -> None:
    read_fd, write_fd = os.pipe()
    shared = os.dup(write_fd)  # same open file description
    try:

        async def main():
            stream = impl.lowlevel.FdStream(write_fd)
            during = os.get_blocking(shared)
            await stream.aclose()
            return during, os.get_blocking(shared)

        assert run(main) == (False, True)
    finally:
        os.close(shared)
        os.close(read_fd)


def test_fileno_is_the_wrapped_fd(run, impl) -> None:
    async def main():
        read_fd, write_fd = os.pipe()
        reader = impl.lowlevel.FdStream(read_fd)
        writer = impl.lowlevel.FdStream(write_fd)
        async with reader, writer:
            return reader.fileno() == read_fd, writer.fileno() == write_fd

    assert run(main) == (True, True)


def test_closing_leaks_no_fds(run, impl) -> None:
    before = open_fds()

    async def main():
        for _ in range(10):
            reader, writer = pipe_streams(impl)
            await writer.send_all(b"x")
            await reader.receive_some()
            await reader.aclose()
            await writer.aclose()

    run(main)
    assert open_fds() - before == set()


def test_async_iteration_receives_until_end_of_file(run, impl) -> None:
    async def main():
        reader, writer = pipe_streams(impl)
        async with reader:
            await writer.send_all(b"chunk")
            await writer.aclose()
            return [chunk async for chunk in reader]

    assert run(main) == [b"chunk"]


def test_passes_the_one_way_stream_conformance_checks(run, impl) -> None:
    check = getattr(impl.testing, "check_one_way_stream", None)
    if check is None:
        pytest.skip("testing.check_one_way_stream not available yet")

    async def make_pair():
        read_fd, write_fd = os.pipe()
        return impl.lowlevel.FdStream(write_fd), impl.lowlevel.FdStream(read_fd)

    async def main():
        await check(make_pair, None)

    run(main)
