"""Asynchronous file objects: ``open_file``, ``wrap_file`` and ``AsyncIOWrapper``.

Blocking file methods run in a worker thread (``to_thread.run_sync``); plain
attributes are forwarded as they are.

Line iteration (``async for line in f``) does not pay a thread round trip per
line.  For seekable files of the stdlib ``io`` types, a worker thread reads a
block of whole lines at once (``readlines(hint)`` for binary files; ``read``
plus the rest of the last line for text files whose newline mode is known,
else ``readline`` in a loop), and the loop hands them out one by one.  The
lines read ahead are kept on the wrapper, in reverse order.

Invariant: while lines are read ahead, the wrapped file's position is past
them.  Every other method first puts the position back where the consumer
is (``_rewind``, in the same worker thread call): a relative seek for
binary files; for text files a seek to the ``tell()`` cookie taken before
the block plus a read of the characters already consumed.  Files that are
not seekable (pipes, ttys) or of other types are iterated with one
``readline`` per thread round trip, as in trio.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from functools import partial
from typing import Any, Final, Generic, TypeVar, final

from ._abc import AsyncResource
from ._core import RUN, CancelScope, checkpoint, checkpoint_if_cancelled
from ._threads import to_thread_run_sync

FileT = TypeVar("FileT")

_FILE_SYNC_ATTRS: Final = frozenset(
    {
        "closed",
        "encoding",
        "errors",
        "fileno",
        "isatty",
        "newlines",
        "readable",
        "seekable",
        "writable",
        "buffer",
        "raw",
        "line_buffering",
        "closefd",
        "name",
        "mode",
        "getvalue",
        "getbuffer",
    }
)

_FILE_ASYNC_METHODS: Final = frozenset(
    {
        "flush",
        "read",
        "read1",
        "readall",
        "readinto",
        "readline",
        "readlines",
        "seek",
        "tell",
        "truncate",
        "write",
        "writelines",
        "readinto1",
        "peek",
    }
)

# Block sizes for line iteration: start small (the first line comes back
# fast), double up to a cap that bounds the memory of the lines held.
_FIRST_BLOCK: Final = 16 * 1024
_MAX_BLOCK: Final = 256 * 1024

# How a file is iterated, decided on the first block (in the worker thread).
_BY_LINE: Final = 0  # one readline per round trip (trio's way)
_BINARY: Final = 1  # readlines(hint); rewind by a relative seek
_TEXT_SPLIT: Final = 2  # read(n) + readline, split on "\n"; rewind via tell() cookie
_TEXT_LINES: Final = 3  # readline in a loop; rewind via tell() cookie

_BINARY_TYPES: Final = (io.BufferedReader, io.BufferedRandom, io.BytesIO)
_TEXT_TYPES: Final = (io.TextIOWrapper, io.StringIO)


def _iteration_kind(file: object, newline_known: bool, newline: str | None) -> int:
    try:
        if not (file.seekable() and file.readable()):  # type: ignore[attr-defined]
            return _BY_LINE
    except (AttributeError, OSError, ValueError):
        return _BY_LINE
    kind = type(file)
    if kind in _BINARY_TYPES:
        return _BINARY
    if kind is io.TextIOWrapper and newline_known and newline in (None, "\n"):
        # Universal-newline translation leaves only "\n" as a line end;
        # newline="\n" means exactly that too.
        return _TEXT_SPLIT
    if kind in _TEXT_TYPES:
        return _TEXT_LINES
    return _BY_LINE


@final
class AsyncIOWrapper(AsyncResource, Generic[FileT]):
    """An asynchronous file object wrapping a synchronous one.

    Methods that may block (``read``, ``write``, ``readline``, ``seek``,
    ``flush``, ...) become async and run in a worker thread; each is a
    checkpoint.  Plain attributes (``name``, ``mode``, ``closed``,
    ``fileno()``, ...) are forwarded synchronously.  Only what the wrapped
    object has is offered.

    ``async for line in f`` yields lines exactly as ``readline()`` would.
    It reads many lines per worker-thread round trip (for seekable files
    of the ``io`` types), so a schedule point happens at every block read,
    not at every line; each line is still a cancellation point (a
    cancelled task gets Cancelled before its next line).  Mixing iteration
    with ``readline()``, ``seek()``, ``tell()``, ``write()`` or any other
    method stays correct: those first put the file position back after the
    last line handed out.  Use the wrapped file only through the wrapper
    while iterating.
    """

    def __init__(self, file: FileT) -> None:
        self._wrapped = file
        self._newline_known = False
        self._newline: str | None = None
        # The block of lines read ahead by iteration, and the iterator that
        # hands them out (see the module docstring).  A rewind clears the
        # list in place, which also ends any iteration over it.
        self._block: list[Any] = []
        self._lines: Iterator[Any] = iter(self._block)
        self._ahead_cookie: int = 0  # text files: tell() before the block
        self._ahead_total = 0  # text files: characters in the block
        self._kind: int | None = None
        self._block_size = _FIRST_BLOCK

    @property
    def wrapped(self) -> FileT:
        """The wrapped synchronous file object."""
        return self._wrapped

    def __getattr__(self, name: str) -> Any:
        if name in _FILE_SYNC_ATTRS:
            return getattr(self._wrapped, name)
        if name in _FILE_ASYNC_METHODS:
            method = getattr(self._wrapped, name)
            wrapper = self._async_method(name, method)
            setattr(self, name, wrapper)  # cached: later lookups skip __getattr__
            return wrapper
        raise AttributeError(name)

    def _async_method(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self._block:
                return await to_thread_run_sync(self._rewind_then, method, args, kwargs)
            return await to_thread_run_sync(partial(method, *args, **kwargs))

        cls = type(self._wrapped)
        wrapper.__name__ = name
        wrapper.__qualname__ = f"{type(self).__qualname__}.{name}"
        wrapper.__doc__ = (
            f"Like :meth:`~{cls.__module__}.{cls.__qualname__}.{name}`, but async "
            "(runs in a worker thread). Always a checkpoint."
        )
        return wrapper

    def __dir__(self) -> Iterable[str]:
        names = set(super().__dir__())
        names.update(name for name in _FILE_SYNC_ATTRS if hasattr(self._wrapped, name))
        names.update(name for name in _FILE_ASYNC_METHODS if hasattr(self._wrapped, name))
        return names

    # ---- read-ahead bookkeeping (these run in worker threads) ------------------

    def _rewind(self) -> None:
        block = self._block
        left = self._lines.__length_hint__()  # type: ignore[attr-defined]
        if left:
            remaining = sum(map(len, block[len(block) - left :]))
            file: Any = self._wrapped
            if self._kind == _BINARY:
                file.seek(-remaining, os.SEEK_CUR)
            else:
                file.seek(self._ahead_cookie)
                file.read(self._ahead_total - remaining)
        block.clear()

    def _rewind_then(
        self, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self._rewind()
        return method(*args, **kwargs)

    def _read_block(self) -> None:
        file: Any = self._wrapped
        kind = self._kind
        if kind is None:
            kind = self._kind = _iteration_kind(file, self._newline_known, self._newline)
        if kind == _BY_LINE:
            line = file.readline()
            self._set_block([line] if line else [])
            return
        size = self._block_size
        self._block_size = min(size * 2, _MAX_BLOCK)
        if kind == _BINARY:
            data = file.read(size)
            if data and data[-1] != 10:  # b"\n"
                data += file.readline()
            self._set_block(io.BytesIO(data).readlines())
            return
        try:
            self._ahead_cookie = file.tell()
        except OSError:
            # tell() refused (say, the file was iterated with next()): no
            # read-ahead for this block.
            line = file.readline()
            self._set_block([line] if line else [])
            return
        if kind == _TEXT_SPLIT:
            text = file.read(size)
            if text and text[-1] != "\n":
                text += file.readline()
            self._ahead_total = len(text)
            self._set_block(io.StringIO(text, newline="\n").readlines())
            return
        lines = []
        total = 0
        readline = file.readline
        while total < size:
            line = readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
        self._ahead_total = total
        self._set_block(lines)

    def _unread(self, line: Any, lines: Iterator[Any]) -> None:
        # Cancelled after taking ``line``: make it and the rest the block,
        # so the next read starts with it.  A text rewind still works: the
        # lines left cover the same tail of the same block.
        self._set_block([line, *lines])

    def _set_block(self, lines: list[Any]) -> None:
        self._block = lines
        self._lines = iter(lines)

    # ---- iteration ----------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Any]:
        return _without_asyncgen_hooks(self._iterate_lines())

    async def _iterate_lines(self) -> AsyncIterator[Any]:
        yield None  # primed by _without_asyncgen_hooks; never seen by users
        while True:
            lines = self._lines
            # The hot loop: one cancellation check per line, then hand it out.
            runner = RUN.runner
            for line in lines:
                if runner.current._cancel_status.effectively_cancelled:  # type: ignore[union-attr]
                    self._unread(line, lines)
                    await checkpoint()  # raises Cancelled
                    break  # not reached; would go on with the new block
                yield line
            # The block is used up, or was rewound (cleared) by another
            # method: read the next one, unless someone already did.
            if lines is self._lines:
                await to_thread_run_sync(self._read_block)
                if not self._block:
                    return

    async def __anext__(self) -> Any:
        """Return the next line, like ``readline()``; StopAsyncIteration at the end.

        A cancellation point for every line; a schedule point when a block
        of lines is read.
        """
        if self._lines.__length_hint__():  # type: ignore[attr-defined]
            await checkpoint_if_cancelled()
        else:
            await to_thread_run_sync(self._read_block)
        for line in self._lines:
            return line
        raise StopAsyncIteration

    # ---- methods with their own semantics -------------------------------------

    async def detach(self) -> AsyncIOWrapper[Any]:
        """Like ``detach()`` of the wrapped file, but async; the result is wrapped too.

        Always a checkpoint.
        """
        detach = self._wrapped.detach  # type: ignore[attr-defined]
        if self._block:
            raw = await to_thread_run_sync(self._rewind_then, detach, (), {})
        else:
            raw = await to_thread_run_sync(detach)
        return wrap_file(raw)

    async def aclose(self) -> None:
        """Close the wrapped file (in a worker thread). Always a checkpoint.

        The close is shielded from cancellation: the file is closed even if
        the caller is cancelled (which then raises Cancelled afterwards).
        """
        self._block.clear()
        with CancelScope(shield=True):
            await to_thread_run_sync(self._wrapped.close)  # type: ignore[attr-defined]
        await checkpoint_if_cancelled()

    def __repr__(self) -> str:
        return f"<tether async file wrapping {self._wrapped!r}>"


def _without_asyncgen_hooks(agen: AsyncIterator[Any]) -> AsyncIterator[Any]:
    # An async generator is ~2x cheaper per item than an __anext__
    # coroutine, but the run's asyncgen hooks would warn (ResourceWarning)
    # when one is dropped unfinished, as after ``break`` in an ``async
    # for``, which trio's file iteration never does.  So start ours with
    # the hooks unset: it then has no finalizer, and is closed by the
    # garbage collector like a plain generator (it has no cleanup to run).
    hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(None, None)
    try:
        agen.asend(None).send(None)  # type: ignore[attr-defined]
    except StopIteration:
        pass  # stopped at the priming ``yield None``
    finally:
        sys.set_asyncgen_hooks(*hooks)
    return agen


async def open_file(
    file: str | bytes | os.PathLike[str] | os.PathLike[bytes] | int,
    mode: str = "r",
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: Callable[[str, int], int] | None = None,
) -> AsyncIOWrapper[Any]:
    """Open a file like the builtin ``open()``, in a worker thread, and wrap it.

    Always a checkpoint.  Use it as ``async with await open_file(path) as f:``.

    Returns:
        An ``AsyncIOWrapper`` around the file object ``open()`` returns.

    Raises:
        OSError: whatever ``open()`` raises (``FileNotFoundError``, ...), unwrapped.
    """
    raw = await to_thread_run_sync(
        io.open, file, mode, buffering, encoding, errors, newline, closefd, opener
    )
    wrapper: AsyncIOWrapper[Any] = wrap_file(raw)
    if "b" not in mode:
        wrapper._newline_known = True
        wrapper._newline = newline
    return wrapper


def wrap_file(file: FileT) -> AsyncIOWrapper[FileT]:
    """Wrap a synchronous file object in an asynchronous one.

    Args:
        file: a file object (anything with ``close`` and ``read`` or ``write``).

    Returns:
        An ``AsyncIOWrapper`` around ``file``.

    Raises:
        TypeError: ``file`` does not look like a file.
    """

    def has(name: str) -> bool:
        return callable(getattr(file, name, None))

    if not (has("close") and (has("read") or has("write"))):
        raise TypeError(
            f"{file} does not implement required duck-file methods: close and (read or write)"
        )
    return AsyncIOWrapper(file)

