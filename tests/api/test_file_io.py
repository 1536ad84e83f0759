"""Black-box tests of open_file, wrap_file and the asynchronous file object.

Line iteration is compared with the stdlib's own iteration of the same file,
for every newline mode, across block boundaries, and mixed with other
methods.  Files live in ``tmp_path``; every test closes what it opens.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import pytest

# Mixed line endings, an empty line, a long line and no final newline.
MIXED_TEXT = "alpha\r\nbeta\rgamma\n\nlong " + "x" * 70_000 + "\r\ndelta\n\u00e9t\u00e9\rend"
NEWLINES = [None, "", "\n", "\r", "\r\n"]


@pytest.fixture
def rrun(impl) -> Callable[..., Any]:
    """``run`` on the real clock: file methods run in worker threads."""

    def _run(async_fn: Callable[..., Any], *args: Any) -> Any:
        return impl.run(async_fn, *args)

    return _run


def big_text(lines: int = 20_000) -> str:
    # Varying line lengths so blocks end mid-line, ~600 kB in all.
    return "".join(f"{i}:" + "y" * (i % 57) + "\n" for i in range(lines))


def write_bytes(tmp_path, data: bytes, name: str = "data") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# ---------------------------------------------------------------- open_file / wrap_file


def test_open_file_writes_and_reads_back(rrun, impl, tmp_path) -> None:
    path = str(tmp_path / "f.txt")

    async def main():
        async with await impl.open_file(path, "w") as f:
            assert await f.write("hello\n") == 6
        async with await impl.open_file(path) as f:
            return await f.read()

    assert rrun(main) == "hello\n"


def test_open_file_missing_path_raises_file_not_found(rrun, impl, tmp_path) -> None:
    async def main():
        await impl.open_file(str(tmp_path / "missing"))

    with pytest.raises(FileNotFoundError):
        rrun(main)


def test_open_file_is_a_checkpoint(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, b"x")

    async def main():
        with impl.testing.assert_checkpoints():
            f = await impl.open_file(path)
        await f.aclose()

    rrun(main)


def test_wrap_file_rejects_a_non_file(impl) -> None:
    with pytest.raises(TypeError, match="duck-file"):
        impl.wrap_file(object())


def test_wrap_file_accepts_a_write_only_duck_file(impl) -> None:
    class Sink:
        def write(self, data):
            return len(data)

        def close(self):
            pass

    assert impl.wrap_file(Sink()).wrapped.__class__ is Sink


def test_wrapped_is_the_original_file(impl) -> None:
    raw = io.StringIO("x")
    assert impl.wrap_file(raw).wrapped is raw


def test_sync_attributes_are_forwarded(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, b"abc")

    async def main():
        async with await impl.open_file(path, "rb") as f:
            assert f.name == path
            assert f.mode == "rb"
            assert f.closed is False
            assert f.readable() is True
            assert f.writable() is False
            assert isinstance(f.fileno(), int)
        assert f.closed is True

    rrun(main)


def test_only_methods_of_the_wrapped_file_are_offered(impl) -> None:
    wrapped = impl.wrap_file(io.StringIO("x"))
    assert hasattr(wrapped, "read")
    assert not hasattr(wrapped, "read1")  # StringIO has no read1
    assert not hasattr(wrapped, "raw")
    with pytest.raises(AttributeError):
        wrapped.no_such_thing
    assert "read" in dir(wrapped)
    assert "read1" not in dir(wrapped)


def test_async_methods_run_and_are_checkpoints(rrun, impl) -> None:
    async def main():
        f = impl.wrap_file(io.BytesIO(b"0123456789"))
        with impl.testing.assert_checkpoints():
            assert await f.read(3) == b"012"
        with impl.testing.assert_checkpoints():
            assert await f.tell() == 3
        assert await f.seek(8) == 8
        assert await f.read() == b"89"

    rrun(main)


def test_async_methods_raise_the_files_errors(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, b"abc")

    async def main():
        async with await impl.open_file(path, "rb") as f:
            await f.write(b"no")

    with pytest.raises(io.UnsupportedOperation):
        rrun(main)


def test_detach_returns_a_wrapped_buffer(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, b"line1\nline2\n")

    async def main():
        f = await impl.open_file(path)
        buffer = await f.detach()
        try:
            assert buffer.wrapped.__class__ is io.BufferedReader
            return await buffer.read()
        finally:
            await buffer.aclose()

    assert rrun(main) == b"line1\nline2\n"


def test_aclose_closes_even_when_cancelled(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, b"abc")

    async def main():
        f = await impl.open_file(path)
        with impl.CancelScope() as scope:
            scope.cancel()
            await f.aclose()
        return scope.cancelled_caught, f.closed

    assert rrun(main) == (True, True)


def test_open_and_close_leak_no_fds(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, b"a\nb\n")

    async def main():
        for _ in range(20):
            async with await impl.open_file(path) as f:
                async for _line in f:
                    break

    rrun(main)
    before = set(os.listdir("/proc/self/fd"))
    rrun(main)
    assert set(os.listdir("/proc/self/fd")) - before == set()


# ---------------------------------------------------------------- line iteration


@pytest.mark.parametrize("newline", NEWLINES)
def test_text_iteration_matches_the_stdlib(rrun, impl, tmp_path, newline) -> None:
    path = write_bytes(tmp_path, MIXED_TEXT.encode("utf-8"))
    with open(path, encoding="utf-8", newline=newline) as sync_file:
        expected = list(sync_file)

    async def main():
        async with await impl.open_file(path, encoding="utf-8", newline=newline) as f:
            return [line async for line in f]

    assert rrun(main) == expected


def test_binary_iteration_matches_the_stdlib(rrun, impl, tmp_path) -> None:
    data = MIXED_TEXT.encode("utf-8") + big_text().encode()
    path = write_bytes(tmp_path, data)
    with open(path, "rb") as sync_file:
        expected = list(sync_file)

    async def main():
        async with await impl.open_file(path, "rb") as f:
            return [line async for line in f]

    assert rrun(main) == expected


def test_iteration_of_a_large_text_file_across_blocks(rrun, impl, tmp_path) -> None:
    text = big_text()
    path = write_bytes(tmp_path, text.encode())

    async def main():
        async with await impl.open_file(path) as f:
            return [line async for line in f]

    assert rrun(main) == text.splitlines(keepends=True)


@pytest.mark.parametrize("newline", NEWLINES)
def test_iteration_of_a_wrapped_text_file(rrun, impl, tmp_path, newline) -> None:
    path = write_bytes(tmp_path, (MIXED_TEXT + big_text(3000)).encode("utf-8"))
    with open(path, encoding="utf-8", newline=newline) as sync_file:
        expected = list(sync_file)

    async def main():
        with open(path, encoding="utf-8", newline=newline) as raw:
            return [line async for line in impl.wrap_file(raw)]

    assert rrun(main) == expected


def test_iteration_of_in_memory_files(rrun, impl) -> None:
    async def main():
        text = [line async for line in impl.wrap_file(io.StringIO("a\nb\r\nc"))]
        data = [line async for line in impl.wrap_file(io.BytesIO(b"a\nb\r\nc"))]
        return text, data

    assert rrun(main) == (["a\n", "b\r\n", "c"], [b"a\n", b"b\r\n", b"c"])


def test_iteration_of_a_pipe(rrun, impl) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"one\ntwo\nthree")
    os.close(write_fd)

    async def main():
        with os.fdopen(read_fd, "rb") as raw:
            return [line async for line in impl.wrap_file(raw)]

    assert rrun(main) == [b"one\n", b"two\n", b"three"]


def test_anext_returns_lines_then_stops(rrun, impl) -> None:
    async def main():
        f = impl.wrap_file(io.StringIO("a\nb\n"))
        first = await f.__anext__()
        second = await f.__anext__()
        with pytest.raises(StopAsyncIteration):
            await f.__anext__()
        return first, second

    assert rrun(main) == ("a\n", "b\n")


def test_iteration_after_the_end_sees_appended_lines(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, b"first\n")

    async def main():
        async with await impl.open_file(path, "r+") as f:
            before = [line async for line in f]
            await f.write("second\n")
            await f.seek(len("first\n"))
            after = [line async for line in f]
        return before, after

    assert rrun(main) == (["first\n"], ["second\n"])


# ---------------------------------------------------------------- mixing iteration with methods


@pytest.mark.parametrize("mode", ["r", "rb"])
def test_readline_after_breaking_out_of_iteration(rrun, impl, tmp_path, mode) -> None:
    text = big_text()
    path = write_bytes(tmp_path, text.encode())
    lines = text.splitlines(keepends=True)

    async def main():
        async with await impl.open_file(path, mode) as f:
            got = []
            async for line in f:
                got.append(line)
                if len(got) == 3:
                    break
            got.append(await f.readline())
            async for line in f:
                got.append(line)
                if len(got) == 6:
                    break
            got.append(await f.read(5))
            got.extend([line async for line in f])
        return got

    got = rrun(main)
    if mode == "rb":
        lines = [line.encode() for line in lines]
    assert got[:6] == lines[:6]
    rest = lines[6:]
    assert got[6] + got[7] == rest[0]  # read(5), then the rest of that line
    assert got[8:] == rest[1:]


@pytest.mark.parametrize("mode", ["r", "rb"])
def test_tell_and_seek_after_partial_iteration(rrun, impl, tmp_path, mode) -> None:
    text = "é" + big_text()  # a non-ASCII start makes text cookies non-trivial
    path = write_bytes(tmp_path, text.encode("utf-8"))
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as sync_file:
        for _ in range(10):
            sync_file.readline()
        expected_tell = sync_file.tell()
        expected_next = sync_file.readline()

    async def main():
        kwargs = {} if "b" in mode else {"encoding": "utf-8"}
        async with await impl.open_file(path, mode, **kwargs) as f:
            count = 0
            async for _line in f:
                count += 1
                if count == 10:
                    break
            position = await f.tell()
            await f.seek(0)
            await f.seek(position)
            async for line in f:
                return position, line
        return None

    assert rrun(main) == (expected_tell, expected_next)


def test_write_after_partial_iteration_writes_at_the_logical_position(
    rrun, impl, tmp_path
) -> None:
    text = big_text(2000)
    path = write_bytes(tmp_path, text.encode())

    async def main():
        async with await impl.open_file(path, "r+b") as f:
            async for _line in f:
                break
            await f.write(b"XX")

    rrun(main)
    with open(path, "rb") as f:
        first, second = f.readline(), f.readline()
    original = text.encode().splitlines(keepends=True)
    assert first == original[0]
    assert second == b"XX" + original[1][2:]


def test_two_iterations_share_the_file_position(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, b"a\nb\nc\nd\n")

    async def main():
        async with await impl.open_file(path) as f:
            got = []
            async for line in f:
                got.append(line)
                break
            async for line in f:
                got.append(line)
            return got

    assert rrun(main) == ["a\n", "b\n", "c\n", "d\n"]


# ---------------------------------------------------------------- cancellation and fairness


def test_iteration_is_a_cancellation_point_for_every_line(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, big_text(100).encode())

    async def main():
        async with await impl.open_file(path) as f:
            got = []
            with impl.CancelScope() as scope:
                async for line in f:
                    got.append(line)
                    scope.cancel()
            after = await f.readline()
        return got, scope.cancelled_caught, after

    got, caught, after = rrun(main)
    assert got == ["0:\n"]
    assert caught is True
    assert after == "1:y\n"  # the line that was not handed out is not lost


def test_iteration_lets_other_tasks_run(rrun, impl, tmp_path) -> None:
    path = write_bytes(tmp_path, big_text().encode())
    ticks = []

    async def ticker(stop):
        while not stop:
            ticks.append(1)
            await impl.sleep(0)

    async def main():
        stop: list[bool] = []
        async with impl.open_nursery() as nursery:
            nursery.start_soon(ticker, stop)
            async with await impl.open_file(path) as f:
                async for _line in f:
                    pass
            stop.append(True)

    rrun(main)
    assert len(ticks) > 1
