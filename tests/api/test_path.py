"""Black-box tests of tether.Path: async disk methods, sync pure methods."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def rrun(impl) -> Callable[..., Any]:
    """``run`` on the real clock: path methods run in worker threads."""

    def _run(async_fn: Callable[..., Any], *args: Any) -> Any:
        return impl.run(async_fn, *args)

    return _run


def test_path_makes_the_platform_subclass(impl) -> None:
    path = impl.Path("a", "b")
    assert type(path) is impl.PosixPath
    assert isinstance(path, impl.Path)
    assert isinstance(path, pathlib.PurePosixPath)
    assert not isinstance(path, pathlib.Path)


def test_pure_methods_are_sync_and_return_tether_paths(impl) -> None:
    path = impl.Path("/srv/data/file.txt")
    assert path.name == "file.txt"
    assert path.suffix == ".txt"
    assert type(path.parent) is impl.PosixPath
    assert type(path / "x") is impl.PosixPath
    assert type(path.with_suffix(".csv")) is impl.PosixPath
    assert path.with_suffix(".csv") == impl.Path("/srv/data/file.csv")
    assert path.relative_to("/srv") == impl.Path("data/file.txt")
    assert path.as_uri() == "file:///srv/data/file.txt"
    assert os.fspath(path) == "/srv/data/file.txt"


def test_path_equals_the_pathlib_path(impl) -> None:
    assert impl.Path("/a/b") == pathlib.PurePosixPath("/a/b")
    assert hash(impl.Path("/a/b")) == hash(pathlib.PurePosixPath("/a/b"))


def test_path_from_a_path(impl) -> None:
    assert impl.Path(impl.Path("/a"), "b") == impl.Path("/a/b")
    assert impl.Path(pathlib.Path("/a")) == impl.Path("/a")


def test_write_and_read_text_and_bytes(rrun, impl, tmp_path) -> None:
    async def main():
        path = impl.Path(tmp_path) / "f.txt"
        assert await path.write_text("héllo", encoding="utf-8") == 5
        text = await path.read_text(encoding="utf-8")
        await path.write_bytes(b"\x00\x01")
        return text, await path.read_bytes()

    assert rrun(main) == ("héllo", b"\x00\x01")


def test_disk_methods_are_checkpoints(rrun, impl, tmp_path) -> None:
    async def main():
        path = impl.Path(tmp_path)
        with impl.testing.assert_checkpoints():
            await path.exists()
        with impl.testing.assert_checkpoints():
            await path.stat()

    rrun(main)


def test_queries(rrun, impl, tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    os.symlink(tmp_path / "file", tmp_path / "link")

    async def main():
        base = impl.Path(tmp_path)
        return (
            await (base / "file").exists(),
            await (base / "missing").exists(),
            await (base / "file").is_file(),
            await (base / "dir").is_dir(),
            await (base / "link").is_symlink(),
            await (base / "file").is_fifo(),
            await (base / "file").is_socket(),
            await (base / "file").is_block_device(),
            await (base / "file").is_char_device(),
            (await (base / "file").stat()).st_size,
            await (base / "link").samefile(tmp_path / "file"),
            await (base / "file").owner() != "",
            await (base / "file").group() != "",
            await base.is_mount(),
        )

    assert rrun(main) == (
        (True, False, True, True, True, False, False, False, False)
        + (1, True, True, True, False)
    )


def test_methods_returning_paths_return_tether_paths(rrun, impl, tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    os.symlink("file", tmp_path / "link")

    async def main():
        base = impl.Path(tmp_path)
        results = [
            await (base / "link").readlink(),
            await (base / "link").resolve(),
            await impl.Path("relative").absolute(),
            await impl.Path("~").expanduser(),
            await impl.Path.cwd(),
            await impl.Path.home(),
        ]
        renamed = await (base / "file").rename(base / "renamed")
        replaced = await renamed.replace(base / "replaced")
        return results, renamed, replaced

    results, renamed, replaced = rrun(main)
    for path in [*results, renamed, replaced]:
        assert type(path) is impl.PosixPath
    assert results[0] == impl.Path("file")
    assert results[1] == impl.Path(tmp_path.resolve() / "file")
    assert results[4] == impl.Path(os.getcwd())
    assert replaced == impl.Path(tmp_path / "replaced")
    assert (tmp_path / "replaced").read_text() == "x"


def test_listing_methods_return_iterators_of_tether_paths(rrun, impl, tmp_path) -> None:
    for name in ["a.txt", "b.txt", "c.log"]:
        (tmp_path / name).write_text(name)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.txt").write_text("d")

    async def main():
        base = impl.Path(tmp_path)
        children = await base.iterdir()
        matches = await base.glob("*.txt")
        deep = await base.rglob("*.txt")
        return list(children), list(matches), list(deep)

    children, matches, deep = rrun(main)
    assert all(type(path) is impl.PosixPath for path in children + matches + deep)
    assert sorted(path.name for path in children) == ["a.txt", "b.txt", "c.log", "sub"]
    assert sorted(path.name for path in matches) == ["a.txt", "b.txt"]
    assert sorted(path.name for path in deep) == ["a.txt", "b.txt", "d.txt"]


def test_changing_the_file_system(rrun, impl, tmp_path) -> None:
    async def main():
        base = impl.Path(tmp_path)
        directory = base / "x" / "y"
        await directory.mkdir(parents=True)
        file = directory / "f"
        await file.touch()
        await file.chmod(0o600)
        mode = (await file.stat()).st_mode & 0o777
        await (base / "hard").hardlink_to(file)
        await (base / "soft").symlink_to(file)
        links = (await file.stat()).st_nlink
        await (base / "soft").unlink()
        await (base / "hard").unlink()
        await file.unlink()
        await (base / "gone").unlink(missing_ok=True)
        await directory.rmdir()
        return mode, links, await directory.exists()

    assert rrun(main) == (0o600, 2, False)


def test_open_returns_an_async_file(rrun, impl, tmp_path) -> None:
    async def main():
        path = impl.Path(tmp_path) / "f"
        async with await path.open("w") as f:
            await f.write("one\ntwo\n")
        async with await path.open() as f:
            return [line async for line in f]

    assert rrun(main) == ["one\n", "two\n"]


def test_missing_file_raises_file_not_found(rrun, impl, tmp_path) -> None:
    async def main():
        await impl.Path(tmp_path / "missing").read_text()

    with pytest.raises(FileNotFoundError):
        rrun(main)


def test_open_missing_file_raises_file_not_found(rrun, impl, tmp_path) -> None:
    async def main():
        await impl.Path(tmp_path / "missing").open()

    with pytest.raises(FileNotFoundError):
        rrun(main)


def test_disk_methods_are_coroutine_functions(impl) -> None:
    import inspect

    for name in ["exists", "stat", "read_text", "iterdir", "open", "mkdir", "resolve"]:
        assert inspect.iscoroutinefunction(getattr(impl.Path, name)), name
    assert not inspect.iscoroutinefunction(impl.Path.as_uri)
