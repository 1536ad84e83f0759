"""``tether.Path``: pathlib paths whose disk-touching methods are async.

A ``Path`` is a ``pathlib.PurePath`` (so every pure method and operator works
as usual and returns tether paths); each method of ``pathlib.Path`` that
touches the disk is an async method that runs the stdlib one in a worker
thread, on the matching concrete ``pathlib`` path.
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Self, TypeVar, final

from ._file_io import AsyncIOWrapper, open_file
from ._threads import to_thread_run_sync

T = TypeVar("T")


class Path(pathlib.PurePath):
    """An async ``pathlib.Path``: blocking methods run in a worker thread.

    ``Path(...)`` makes a ``PosixPath`` or a ``WindowsPath``, as pathlib
    does.  Pure methods (``name``, ``parent``, ``/``, ``with_suffix``, ...)
    are synchronous and return tether paths; methods that touch the disk
    (``exists``, ``stat``, ``read_text``, ``iterdir``, ``open``, ...) are
    async, and each is a checkpoint.  Those that list paths (``iterdir``,
    ``glob``, ``rglob``) collect them in the thread and return an iterator
    of tether paths: ``for child in await path.iterdir(): ...``.
    """

    __slots__ = ()

    _sync_class: ClassVar[type[pathlib.Path]]

    def __new__(cls, *args: str | os.PathLike[str]) -> Self:
        if cls is Path:
            cls = WindowsPath if os.name == "nt" else PosixPath  # type: ignore[assignment]
        return super().__new__(cls, *args)

    def _sync(self) -> pathlib.Path:
        return self._sync_class(self)

    async def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        path = self._sync()
        return await to_thread_run_sync(lambda: method(path, *args, **kwargs))

    async def _call_for_path(self, method: Callable[..., pathlib.Path], *args: Any) -> Self:
        return type(self)(await self._call(method, *args))

    async def _call_for_paths(
        self, method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Iterator[Self]:
        path = self._sync()
        found = await to_thread_run_sync(lambda: list(method(path, *args, **kwargs)))
        return iter([type(self)(child) for child in found])

    def __repr__(self) -> str:
        return f"tether.Path({str(self)!r})"

    def as_uri(self) -> str:
        """Return the path as a ``file:`` URI (synchronous: touches no disk)."""
        return self._sync().as_uri()

    # ---- class methods ------------------------------------------------------

    @classmethod
    async def cwd(cls) -> Self:
        """The current working directory, as a tether path. Always a checkpoint."""
        return cls(await to_thread_run_sync(pathlib.Path.cwd))

    @classmethod
    async def home(cls) -> Self:
        """The user's home directory, as a tether path. Always a checkpoint."""
        return cls(await to_thread_run_sync(pathlib.Path.home))

    # ---- opening, reading and writing -----------------------------------------

    async def open(
        self,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> AsyncIOWrapper[Any]:
        """Open the file like ``pathlib.Path.open``; return an async file object.

        Always a checkpoint.
        """
        return await open_file(self, mode, buffering, encoding, errors, newline)

    async def read_bytes(self) -> bytes:
        """Like ``pathlib.Path.read_bytes``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.read_bytes)

    async def read_text(self, encoding: str | None = None, errors: str | None = None) -> str:
        """Like ``pathlib.Path.read_text``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.read_text, encoding, errors)

    async def write_bytes(self, data: bytes) -> int:
        """Like ``pathlib.Path.write_bytes``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.write_bytes, data)

    async def write_text(
        self,
        data: str,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> int:
        """Like ``pathlib.Path.write_text``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.write_text, data, encoding, errors, newline)

    # ---- queries ----------------------------------------------------------------

    async def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        """Like ``pathlib.Path.stat``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.stat, follow_symlinks=follow_symlinks)

    async def lstat(self) -> os.stat_result:
        """Like ``pathlib.Path.lstat``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.lstat)

    async def exists(self) -> bool:
        """Like ``pathlib.Path.exists``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.exists)

    async def is_dir(self) -> bool:
        """Like ``pathlib.Path.is_dir``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.is_dir)

    async def is_file(self) -> bool:
        """Like ``pathlib.Path.is_file``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.is_file)

    async def is_symlink(self) -> bool:
        """Like ``pathlib.Path.is_symlink``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.is_symlink)

    async def is_socket(self) -> bool:
        """Like ``pathlib.Path.is_socket``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.is_socket)

    async def is_fifo(self) -> bool:
        """Like ``pathlib.Path.is_fifo``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.is_fifo)

    async def is_block_device(self) -> bool:
        """Like ``pathlib.Path.is_block_device``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.is_block_device)

    async def is_char_device(self) -> bool:
        """Like ``pathlib.Path.is_char_device``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.is_char_device)

    async def is_mount(self) -> bool:
        """Like ``pathlib.Path.is_mount``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.is_mount)

    async def owner(self) -> str:
        """Like ``pathlib.Path.owner``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.owner)

    async def group(self) -> str:
        """Like ``pathlib.Path.group``, in a worker thread. Always a checkpoint."""
        return await self._call(pathlib.Path.group)

    async def samefile(self, other_path: str | os.PathLike[str]) -> bool:
        """Like ``pathlib.Path.samefile``, in a worker thread. Always a checkpoint."""
        if isinstance(other_path, Path):
            other_path = os.fspath(other_path)  # its stat() is async: pathlib can't use it
        return await self._call(pathlib.Path.samefile, other_path)

    # ---- methods that return paths --------------------------------------------------

    async def absolute(self) -> Self:
        """Like ``pathlib.Path.absolute``, in a worker thread. Always a checkpoint."""
        return await self._call_for_path(pathlib.Path.absolute)

    async def expanduser(self) -> Self:
        """Like ``pathlib.Path.expanduser``, in a worker thread. Always a checkpoint."""
        return await self._call_for_path(pathlib.Path.expanduser)

    async def resolve(self, strict: bool = False) -> Self:
        """Like ``pathlib.Path.resolve``, in a worker thread. Always a checkpoint."""
        return await self._call_for_path(pathlib.Path.resolve, strict)

    async def readlink(self) -> Self:
        """Like ``pathlib.Path.readlink``, in a worker thread. Always a checkpoint."""
        return await self._call_for_path(pathlib.Path.readlink)

    async def rename(self, target: str | os.PathLike[str]) -> Self:
        """Like ``pathlib.Path.rename`` (returns the new path). Always a checkpoint."""
        return await self._call_for_path(pathlib.Path.rename, target)

    async def replace(self, target: str | os.PathLike[str]) -> Self:
        """Like ``pathlib.Path.replace`` (returns the new path). Always a checkpoint."""
        return await self._call_for_path(pathlib.Path.replace, target)

    async def iterdir(self) -> Iterator[Self]:
        """Like ``pathlib.Path.iterdir``: an iterator of the children, listed in a thread.

        Always a checkpoint.  Use it as ``for child in await path.iterdir():``.
        """
        return await self._call_for_paths(pathlib.Path.iterdir)

    async def glob(self, pattern: str) -> Iterator[Self]:
        """Like ``pathlib.Path.glob``: an iterator of the matches, found in a thread.

        Always a checkpoint.
        """
        return await self._call_for_paths(pathlib.Path.glob, pattern)

    async def rglob(self, pattern: str) -> Iterator[Self]:
        """Like ``pathlib.Path.rglob``: an iterator of the matches, found in a thread.

        Always a checkpoint.
        """
        return await self._call_for_paths(pathlib.Path.rglob, pattern)

    # ---- changing the file system ---------------------------------------------------

    async def chmod(self, mode: int, *, follow_symlinks: bool = True) -> None:
        """Like ``pathlib.Path.chmod``, in a worker thread. Always a checkpoint."""
        await self._call(pathlib.Path.chmod, mode, follow_symlinks=follow_symlinks)

    async def lchmod(self, mode: int) -> None:
        """Like ``pathlib.Path.lchmod``, in a worker thread. Always a checkpoint."""
        await self._call(pathlib.Path.lchmod, mode)

    async def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        """Like ``pathlib.Path.mkdir``, in a worker thread. Always a checkpoint."""
        await self._call(pathlib.Path.mkdir, mode, parents, exist_ok)

    async def rmdir(self) -> None:
        """Like ``pathlib.Path.rmdir``, in a worker thread. Always a checkpoint."""
        await self._call(pathlib.Path.rmdir)

    async def touch(self, mode: int = 0o666, exist_ok: bool = True) -> None:
        """Like ``pathlib.Path.touch``, in a worker thread. Always a checkpoint."""
        await self._call(pathlib.Path.touch, mode, exist_ok)

    async def unlink(self, missing_ok: bool = False) -> None:
        """Like ``pathlib.Path.unlink``, in a worker thread. Always a checkpoint."""
        await self._call(pathlib.Path.unlink, missing_ok)

    async def symlink_to(
        self, target: str | os.PathLike[str], target_is_directory: bool = False
    ) -> None:
        """Like ``pathlib.Path.symlink_to``, in a worker thread. Always a checkpoint."""
        await self._call(pathlib.Path.symlink_to, target, target_is_directory)

    async def hardlink_to(self, target: str | os.PathLike[str]) -> None:
        """Like ``pathlib.Path.hardlink_to``, in a worker thread. Always a checkpoint."""
        await self._call(pathlib.Path.hardlink_to, target)

    if sys.version_info < (3, 12):

        async def link_to(self, target: str | os.PathLike[str]) -> None:
            """Like ``pathlib.Path.link_to`` (Python < 3.12), in a worker thread.

            Always a checkpoint.
            """
            await self._call(pathlib.Path.link_to, target)

    if sys.version_info >= (3, 12):

        async def is_junction(self) -> bool:
            """Like ``pathlib.Path.is_junction``, in a worker thread. Always a checkpoint."""
            return await self._call(pathlib.Path.is_junction)


@final
class PosixPath(Path, pathlib.PurePosixPath):
    """An async ``pathlib.PosixPath``; see ``tether.Path``."""

    __slots__ = ()

    _sync_class: ClassVar[type[pathlib.Path]] = pathlib.PosixPath


@final
class WindowsPath(Path, pathlib.PureWindowsPath):
    """An async ``pathlib.WindowsPath``; see ``tether.Path``."""

    __slots__ = ()

    _sync_class: ClassVar[type[pathlib.Path]] = pathlib.WindowsPath
