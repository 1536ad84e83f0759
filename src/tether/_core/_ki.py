"""KeyboardInterrupt protection: deciding whether Ctrl-C may interrupt *this* frame.

The run installs a SIGINT handler.  When the signal lands, the handler walks
the interrupted stack from the innermost frame outwards; the first frame that
has an opinion decides:

* a code object marked by ``enable_ki_protection`` / ``disable_ki_protection``;
* tether's own source files (the runtime must never be torn mid-update);
* the frame that steps tasks: reached from a task's frames, the current
  task's own flag decides (user tasks unprotected, system tasks
  protected); as the innermost frame (the signal landed between two task
  steps) it is the runtime itself, protected.

Protected → the interrupt is deferred and delivered to the main task at its
next checkpoint (``Runner.deliver_ki``); unprotected → KeyboardInterrupt is
raised right there.  Nothing here runs on the hot path: the walk happens only
when a signal arrives or ``currently_ki_protected()`` is called.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ._run import Runner


class _SupportsCode(Protocol):
    __code__: types.CodeType


_T_supports_code = TypeVar("_T_supports_code", bound=_SupportsCode)

# code object -> protected?  Explicit marks win over every other rule.
_CODE_PROTECTION: dict[types.CodeType, bool] = {}

# Code objects of the functions that step tasks: the task boundary.
TASK_BOUNDARY_CODES: set[types.CodeType] = set()

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

# Cache for the "is this tether's own file" rule (filenames are few).
_FILE_IS_OURS: dict[str, bool] = {}


def _file_is_ours(filename: str) -> bool:
    ours = _FILE_IS_OURS.get(filename)
    if ours is None:
        ours = os.path.abspath(filename).startswith(_PACKAGE_DIR)
        _FILE_IS_OURS[filename] = ours
    return ours


def _mark(fn: Any, protected: bool) -> None:
    code = getattr(fn, "__code__", None)
    if code is None:
        func = getattr(fn, "__func__", None)  # bound or class method
        code = getattr(func, "__code__", None)
    if not isinstance(code, types.CodeType):
        raise TypeError(
            f"expected a function (something with __code__), got {fn!r}; "
            "decorate the def itself: @enable_ki_protection above 'def' or 'async def'"
        )
    _CODE_PROTECTION[code] = protected


def enable_ki_protection(f: _T_supports_code, /) -> _T_supports_code:
    """Decorator: KeyboardInterrupt is deferred while ``f`` (or what it calls) runs.

    Works on plain functions, async functions, generators and async
    generators.  Returns ``f`` itself, unwrapped.
    """
    _mark(f, True)
    return f


def disable_ki_protection(f: _T_supports_code, /) -> _T_supports_code:
    """Decorator: KeyboardInterrupt may interrupt ``f`` even inside protected code."""
    _mark(f, False)
    return f


def frame_is_protected(frame: types.FrameType | None, runner: Runner | None) -> bool:
    """Walk outwards from ``frame`` and return the first opinion on protection."""
    innermost = frame
    while frame is not None:
        code = frame.f_code
        decision = _CODE_PROTECTION.get(code)
        if decision is not None:
            return decision
        if code in TASK_BOUNDARY_CODES:
            if frame is innermost:
                return True  # the loop's own code, between task steps
            task = runner.current_task_or_none() if runner is not None else None
            return True if task is None else task._ki_protected
        if _file_is_ours(code.co_filename):
            return True
        frame = frame.f_back
    # No opinion anywhere: not a single tether frame on the stack.  During a
    # run that happens only in a guest run's host code, between ticks; as in
    # trio, Ctrl-C there goes to the guest's main task instead of tearing
    # the host's loop.  Outside any run nothing is protected.
    return runner is not None


def currently_ki_protected() -> bool:
    """Return whether KeyboardInterrupt is currently deferred for the calling code."""
    from ._run import current_runner_or_none

    return frame_is_protected(sys._getframe(1), current_runner_or_none())


def ki_handler_for(runner: Runner) -> Callable[[int, types.FrameType | None], None]:
    """Build the SIGINT handler that ``run()`` installs for ``runner``."""

    def handler(signum: int, frame: types.FrameType | None) -> None:
        if not runner.restrict_ki_to_checkpoints and not frame_is_protected(frame, runner):
            raise KeyboardInterrupt
        runner.deliver_ki()

    return handler
