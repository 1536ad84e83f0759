"""``python -m tether``: runs a program as python would, with ``import trio`` giving tether."""

from __future__ import annotations

import signal
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

RunPython = Callable[..., subprocess.CompletedProcess[str]]  # the run_python fixture (conftest.py)

REPORT = """
import sys, trio
print(trio.__name__, __name__, sys.argv, __file__ if "__file__" in globals() else None, sys.path[0])
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_script_sees_trio_as_tether_and_python_argv_name_file_and_path(
    run_python: RunPython, tmp_path: Path
) -> None:
    write(tmp_path / "progs" / "script.py", REPORT)
    result = run_python("-m", "tether", "progs/script.py", "a", "-b")
    assert result.returncode == 0, result.stderr
    script = tmp_path / "progs" / "script.py"
    assert result.stdout == f"tether __main__ ['progs/script.py', 'a', '-b'] {script} {script.parent}\n"


def test_script_exit_status_is_the_programs(run_python: RunPython, tmp_path: Path) -> None:
    write(tmp_path / "exit.py", "import sys\nsys.exit(3)\n")
    assert run_python("-m", "tether", "exit.py").returncode == 3


def test_uncaught_exception_prints_the_same_traceback_as_python(
    run_python: RunPython, tmp_path: Path
) -> None:
    write(
        tmp_path / "crash.py",
        """
        def fail():
            raise ValueError("boom")

        fail()
        """,
    )
    ours = run_python("-m", "tether", "crash.py")
    theirs = run_python("crash.py")
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) == (1, theirs.stderr)
    assert theirs.stderr.startswith("Traceback (most recent call last):\n  File ")


def test_missing_script_gives_pythons_error_and_status(run_python: RunPython) -> None:
    ours = run_python("-m", "tether", "missing.py")
    theirs = run_python("missing.py")
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
    assert ours.returncode == 2
    assert "can't open file" in ours.stderr


def test_syntax_error_gives_pythons_report_and_status(run_python: RunPython, tmp_path: Path) -> None:
    write(tmp_path / "bad.py", "def (:\n")
    ours = run_python("-m", "tether", "bad.py")
    theirs = run_python("bad.py")
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
    assert "SyntaxError" in ours.stderr


def test_keyboard_interrupt_ends_the_process_by_sigint_as_python_does(
    run_python: RunPython, tmp_path: Path
) -> None:
    write(
        tmp_path / "interrupted.py",
        """
        import os, signal, trio

        async def main():
            os.kill(os.getpid(), signal.SIGINT)
            await trio.sleep(30)

        trio.run(main)
        """,
    )
    result = run_python("-m", "tether", "interrupted.py")
    assert result.returncode == -signal.SIGINT
    assert result.stderr.splitlines()[-1] == "KeyboardInterrupt"
    assert result.stderr.splitlines()[1].endswith('interrupted.py", line 8, in <module>')


def test_classes_of_the_script_pickle_through_main(run_python: RunPython, tmp_path: Path) -> None:
    write(
        tmp_path / "pickles.py",
        """
        import pickle

        class Point:
            def __init__(self, x):
                self.x = x

        print(pickle.loads(pickle.dumps(Point(4))).x)
        """,
    )
    result = run_python("-m", "tether", "pickles.py")
    assert (result.returncode, result.stdout) == (0, "4\n"), result.stderr


def test_module_runs_as_python_dash_m_runs_it(run_python: RunPython, tmp_path: Path) -> None:
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "__main__.py", REPORT)
    result = run_python("-m", "tether", "-m", "pkg", "x")
    main_file = tmp_path / "pkg" / "__main__.py"
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"tether __main__ ['{main_file}', 'x'] {main_file} {tmp_path}\n"


def test_missing_module_gives_pythons_error_and_status(run_python: RunPython) -> None:
    ours = run_python("-m", "tether", "-m", "no_such_module_here")
    theirs = run_python("-m", "no_such_module_here")
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) == (1, theirs.stderr)


def test_module_traceback_matches_python_dash_m(run_python: RunPython, tmp_path: Path) -> None:
    write(tmp_path / "crashing_module.py", "raise KeyError('m')\n")
    ours = run_python("-m", "tether", "-m", "crashing_module")
    theirs = run_python("-m", "crashing_module")
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)


def test_command_runs_as_python_dash_c(run_python: RunPython) -> None:
    result = run_python("-m", "tether", "-c", "import sys, trio; print(trio.__name__, sys.argv)", "z")
    assert (result.returncode, result.stdout) == (0, "tether ['-c', 'z']\n"), result.stderr


def test_directory_with_main_runs_as_python_runs_it(run_python: RunPython, tmp_path: Path) -> None:
    write(tmp_path / "app" / "__main__.py", "import sys, trio\nprint(trio.__name__, sys.argv, sys.path[0])\n")
    result = run_python("-m", "tether", "app", "q")
    assert (result.returncode, result.stdout) == (0, f"tether ['app', 'q'] {tmp_path / 'app'}\n"), (
        result.stderr
    )


def test_no_arguments_prints_usage_and_fails(run_python: RunPython) -> None:
    result = run_python("-m", "tether")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: python -m tether script.py")


def test_unknown_option_is_a_usage_error(run_python: RunPython) -> None:
    result = run_python("-m", "tether", "-x", "script.py")
    assert result.returncode == 2
    assert "unknown option '-x'" in result.stderr
