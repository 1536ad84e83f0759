"""tether.install(): ``import trio`` gives tether.  Each test runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable

RunPython = Callable[..., subprocess.CompletedProcess[str]]  # the run_python fixture (conftest.py)


def run_snippet(run_python: RunPython, code: str) -> str:
    result = run_python("-c", textwrap.dedent(code))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_install_registers_the_public_trio_modules_as_tethers(run_python: RunPython) -> None:
    out = run_snippet(
        run_python,
        """
        import tether
        tether.install()
        import trio, trio.abc, trio.from_thread, trio.lowlevel, trio.socket, trio.testing, trio.to_thread
        for name in ["abc", "from_thread", "lowlevel", "socket", "testing", "to_thread"]:
            assert getattr(trio, name) is getattr(tether, name), name
        assert trio is tether
        assert trio.Cancelled is tether.Cancelled
        from trio.testing import MockClock
        assert MockClock is tether.testing.MockClock
        print("ok")
        """,
    )
    assert out == "ok\n"


def test_every_tether_module_is_registered_under_the_trio_name(run_python: RunPython) -> None:
    # A private module reached as trio._core._run is tether's, never a second
    # copy of tether's file loaded under another name.
    out = run_snippet(
        run_python,
        """
        import sys, tether
        tether.install()
        import trio._core._run
        assert trio._core._run is sys.modules["tether._core._run"]
        tether_names = {name for name in sys.modules if name.split(".")[0] == "tether"}
        trio_names = {name for name in sys.modules if name.split(".")[0] == "trio"}
        assert {"trio" + name[len("tether"):] for name in tether_names} == trio_names
        for name in trio_names:
            assert sys.modules[name] is sys.modules["tether" + name[len("trio"):]], name
        print("ok")
        """,
    )
    assert out == "ok\n"


def test_install_after_trio_was_imported_raises_saying_to_install_first(run_python: RunPython) -> None:
    result = run_python(
        "-c",
        textwrap.dedent(
            """
            import trio, tether
            try:
                tether.install()
            except RuntimeError as exc:
                print(exc)
            import sys
            print(sys.modules["trio"].__name__)
            """
        ),
    )
    assert result.returncode == 0, result.stderr
    assert "tether.install() was called after trio was imported" in result.stdout
    assert "Call tether.install() first" in result.stdout
    assert result.stdout.splitlines()[-1] == "trio"  # nothing was replaced


def test_install_after_a_trio_submodule_was_imported_raises(run_python: RunPython) -> None:
    out = run_snippet(
        run_python,
        """
        import trio.lowlevel, tether
        try:
            tether.install()
        except RuntimeError as exc:
            print(type(exc).__name__)
        """,
    )
    assert out == "RuntimeError\n"


def test_install_twice_is_a_no_op(run_python: RunPython) -> None:
    out = run_snippet(
        run_python,
        """
        import sys, tether
        tether.install()
        before = dict(sys.modules)
        tether.install()
        assert dict(sys.modules) == before
        import trio
        assert trio is tether
        print("ok")
        """,
    )
    assert out == "ok\n"


def test_trio_version_and_metadata_look_like_trio(run_python: RunPython) -> None:
    out = run_snippet(
        run_python,
        """
        import importlib.metadata, tether
        tether.install()
        import trio
        print(trio.__version__)
        print(importlib.metadata.version("trio"))
        """,
    )
    version, distribution_version = out.split()
    assert version == "0.35.0"
    assert distribution_version.startswith("0.35")  # real trio's metadata stays installed


def test_sniffio_sees_trio_inside_a_run(run_python: RunPython) -> None:
    out = run_snippet(
        run_python,
        """
        import tether
        tether.install()
        import sniffio, trio

        async def main():
            return sniffio.current_async_library()

        print(trio.run(main))
        """,
    )
    assert out == "trio\n"


def test_trio_program_runs_on_tether(run_python: RunPython) -> None:
    out = run_snippet(
        run_python,
        """
        import tether
        tether.install()
        import trio, trio.testing

        async def child(results, n):
            await trio.sleep(n)
            results.append(n)

        async def main():
            results = []
            async with trio.open_nursery() as nursery:
                for n in (3, 1, 2):
                    nursery.start_soon(child, results, n)
            with trio.move_on_after(5) as scope:
                await trio.sleep_forever()
            return results, scope.cancelled_caught, trio.current_time()

        print(trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0)))
        """,
    )
    assert out == "([1, 2, 3], True, 8.0)\n"


def test_hooks_pytest_trio_and_hypothesis_reach_exist(run_python: RunPython) -> None:
    # pytest-trio reads trio._core._run._r and sets
    # _ALLOW_DETERMINISTIC_SCHEDULING; `import hypothesis` calls the plugin
    # that real trio's metadata declares, trio._core._run:_hypothesis_plugin_setup.
    out = run_snippet(
        run_python,
        """
        import random, tether
        tether.install()
        import trio
        import hypothesis
        assert isinstance(trio._core._run._r, random.Random)
        assert trio._core._run._ALLOW_DETERMINISTIC_SCHEDULING is True
        print("ok")
        """,
    )
    assert out == "ok\n"
