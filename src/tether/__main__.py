"""``python -m tether``: run a trio program on tether, unchanged.

    python -m tether script.py [args]     as ``python script.py [args]``
    python -m tether -m module [args]     as ``python -m module [args]``
    python -m tether -c code [args]       as ``python -c code [args]``
    python -m tether ps [PID]             list tether processes, or show one's task tree

The first three call ``tether.install()`` first, so the program's ``import trio``
gives tether, then runs the program the way the interpreter itself would:
same ``sys.argv``, ``sys.path[0]``, ``__main__`` module, exit codes and error
messages, and tracebacks that start at the program's own code.
"""

from __future__ import annotations

import atexit
import builtins
import importlib.machinery
import importlib.util
import marshal
import os
import runpy
import signal
import sys
import types
import zipfile
from collections.abc import Callable
from types import CodeType, TracebackType

from ._compat import install
from .debug._ps import ps_main

USAGE = """\
usage: python -m tether script.py [args ...]
       python -m tether -m module [args ...]
       python -m tether -c code [args ...]
       python -m tether ps [PID]

Runs a trio program on tether: `import trio` in the program (and in every
library it uses) gives tether.  The program runs as `python script.py`,
`python -m module` or `python -c code` would run it.

`ps` lists the tether processes that run a monitor (TETHER_MONITOR=1), and
`ps PID` prints the task tree of one of them (see docs/debug.md).  To run a
script named `ps`, write `./ps`.
"""


def main(argv: list[str]) -> int:
    """Run the program that ``argv`` (the arguments after ``-m tether``) names.

    Args:
        argv: ``["script.py", *args]``, ``["-m", "module", *args]``,
            ``["-c", "code", *args]`` or ``["ps", *args]``.

    Returns:
        The exit status: 0 when the program finishes, 1 after an uncaught
        exception (printed by ``sys.excepthook``), 2 for a usage error or a
        script that cannot be opened.  ``sys.exit()`` in the program exits
        directly, with its own status.
    """
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    first = argv[0]
    if first in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    if first == "ps":
        return ps_main(argv[1:])
    if first in ("-m", "-c"):
        if len(argv) < 2:
            sys.stderr.write(f"python -m tether: argument expected for the {first} option\n\n{USAGE}")
            return 2
        install()
        if first == "-m":
            return _run_module(argv[1], argv[2:])
        return _run_command(argv[1], argv[2:])
    if first.startswith("-") and first != "-":
        sys.stderr.write(f"python -m tether: unknown option {first!r}\n\n{USAGE}")
        return 2
    install()
    return _run_script(first, argv[1:])


def _run_script(path: str, args: list[str]) -> int:
    absolute = os.path.abspath(path)
    if os.path.isdir(absolute) or zipfile.is_zipfile(absolute):
        # `python dir_or_zip` puts it first on sys.path and runs its __main__ module.
        sys.argv = [path, *args]
        _set_path_entry(absolute)
        return _run_as_main(_run_module_as_main, "__main__", False)
    try:
        with open(absolute, "rb") as file:
            data = file.read()
    except OSError as exc:
        program = sys.orig_argv[0] if sys.orig_argv else sys.executable
        sys.stderr.write(f"{program}: can't open file {absolute!r}: [Errno {exc.errno}] {exc.strerror}\n")
        return 2
    sys.argv = [path, *args]
    _set_path_entry(os.path.dirname(absolute))
    module = _fresh_main_module(absolute)
    try:
        code = _compile_script(data, absolute, module)
    except (SyntaxError, ValueError) as exc:
        sys.excepthook(type(exc), exc.with_traceback(None), None)
        return 1
    return _run_as_main(exec, code, module.__dict__)


def _run_module(module_name: str, args: list[str]) -> int:
    # runpy._run_module_as_main is what `python -m` itself calls: it finds
    # the module, sets sys.argv[0] to its file, and reports "No module named
    # ..." the way the interpreter does.  It runs the module in the globals of
    # sys.modules["__main__"], which is this file's module: give it its own.
    sys.argv = ["-m", *args]
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    return _run_as_main(_run_module_as_main, module_name, True)


def _run_command(command: str, args: list[str]) -> int:
    sys.argv = ["-c", *args]
    _set_path_entry("")
    module = _fresh_main_module(None)
    try:
        code = compile(command, "<string>", "exec")
    except (SyntaxError, ValueError) as exc:
        sys.excepthook(type(exc), exc.with_traceback(None), None)
        return 1
    return _run_as_main(exec, code, module.__dict__)


# What `python -m` itself calls (a private function of runpy, stable since
# Python 2): run_module_as_main(module_name, alter_argv).
_run_module_as_main: Callable[[str, bool], object] = runpy._run_module_as_main  # type: ignore[attr-defined]


def _set_path_entry(entry: str) -> None:
    # `python -m tether` put the current directory first on sys.path; the
    # program expects what `python script.py` puts there.  With -P (safe
    # path) the interpreter adds nothing, and neither do we.
    if not sys.flags.safe_path:
        sys.path[0] = entry


def _fresh_main_module(path: str | None) -> types.ModuleType:
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    if path is not None:
        module.__file__ = path
        module.__cached__ = None  # type: ignore[attr-defined]
    module.__spec__ = None
    module.__package__ = None
    sys.modules["__main__"] = module
    return module


def _compile_script(data: bytes, path: str, module: types.ModuleType) -> CodeType:
    magic = importlib.util.MAGIC_NUMBER
    if data[: len(magic)] == magic:
        module.__loader__ = importlib.machinery.SourcelessFileLoader("__main__", path)
        code = marshal.loads(data[16:])  # the header: magic, flags, then date and size or a hash
        if not isinstance(code, CodeType):
            raise ValueError(f"{path!r} holds no code object")
        return code
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    return compile(data, path, "exec")


def _run_as_main(run: Callable[..., object], *args: object) -> int:
    try:
        run(*args)
    except SystemExit:
        raise
    except BaseException as exc:
        # The traceback starts at this frame; the next one is the program's
        # own code (exec() adds no frame), or for -m runpy's, as `python -m`
        # shows them.
        report_uncaught(exc, exc.__traceback__.tb_next if exc.__traceback__ else None)
        return 1
    return 0


def report_uncaught(exc: BaseException, traceback: TracebackType | None) -> None:
    """Report an exception that ended the program, as the interpreter does.

    Prints it with ``sys.excepthook``; after a ``KeyboardInterrupt``, runs the
    ``atexit`` callbacks and ends the process by SIGINT, so the parent sees
    the same "killed by SIGINT" status as for ``python script.py``.

    Args:
        exc: The exception.
        traceback: Its traceback, without the frames of this launcher.
    """
    sys.excepthook(type(exc), exc.with_traceback(traceback), traceback)
    if isinstance(exc, KeyboardInterrupt):
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
