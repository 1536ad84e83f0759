"""Cancellation-origin tracing: every ``Cancelled`` says where its cancellation came from.

While tracing is on, the core calls the tracer (``_core.DEBUG_HOOKS``) when
a scope is cancelled and when a scope gets a deadline; what it records is
kept beside the scope (a weak dictionary, so scopes carry no extra slot),
and turned into an exception note when a ``Cancelled`` is made.  While it
is off, the core's cost is one ``is not None`` test at those places.
"""

from __future__ import annotations

import os
import sys
import traceback
import types
import weakref
from typing import TYPE_CHECKING, final

from .._core import DEBUG_HOOKS, RUN
from ._waits import TETHER_DIR, frame_location, is_library_file

if TYPE_CHECKING:
    from .._core import Cancelled, CancelScope, Task

# How many of the canceller's frames a note shows (innermost ones).
_STACK_LIMIT = 8
_CORE_DIR = os.path.join(TETHER_DIR, "_core") + os.sep


def trace_cancellations(enabled: bool = True) -> None:
    """Turn cancellation-origin tracing on (or off) for every run of this process.

    While it is on, each ``Cancelled`` carries an exception note saying
    where its cancellation came from: the stack of the code that called
    ``CancelScope.cancel()``, the place where an expired deadline was set,
    or the sibling task whose exception cancelled a nursery.  Tracebacks
    show the note.  ``TETHER_TRACE_CANCEL=1`` in the environment turns it
    on at the start of every run.  Off by default: it costs a stack capture
    per cancellation and a frame lookup per deadline.

    Args:
        enabled: ``False`` turns tracing off again.
    """
    DEBUG_HOOKS.cancel_tracer = _TRACER if enabled else None


def is_tracing_cancellations() -> bool:
    return DEBUG_HOOKS.cancel_tracer is not None


@final
class _Origin:
    """Why one scope was cancelled: a note, or the stack to build it from."""

    __slots__ = ("headline", "note", "stack")

    def __init__(self, headline: str, stack: traceback.StackSummary | None = None) -> None:
        self.headline = headline
        self.stack = stack
        self.note: str | None = None

    def text(self) -> str:
        if self.note is None:
            note = self.headline
            if self.stack:
                note += ", called from (most recent call last):\n" + "".join(self.stack.format()).rstrip()
            self.note = note
        return self.note


@final
class _CancelTracer:
    """The tracer the core calls (see ``_core._debug_hooks.CancelTracer``)."""

    __slots__ = ("deadline_origins", "origins")

    def __init__(self) -> None:
        self.origins: weakref.WeakKeyDictionary[CancelScope, _Origin] = weakref.WeakKeyDictionary()
        # Where each scope's current deadline was set: "file:line in function".
        self.deadline_origins: weakref.WeakKeyDictionary[CancelScope, str] = weakref.WeakKeyDictionary()

    def deadline_set(self, scope: CancelScope) -> None:
        frame = _first_user_frame()
        if frame is not None:
            self.deadline_origins[scope] = frame_location(frame)

    def scope_cancelled(self, scope: CancelScope) -> None:
        info = scope._cancel_info
        if info is None:
            return
        source, source_task, reason = info
        if source == "explicit":
            origin = self._explicit(reason)
        elif source == "deadline":
            origin = self._deadline(scope)
        elif source == "nursery":
            origin = self._nursery(scope, source_task is None, reason)
        elif source == "shutdown":
            origin = _Origin("Cancelled because the main task exited (system tasks end with the run)")
        else:
            origin = _Origin(f"Cancelled ({source}{': ' + reason if reason else ''})")
        self.origins[scope] = origin

    def annotate(self, cancelled: Cancelled, task: Task) -> None:
        # The scope whose cancellation reaches the task, as cancel_source finds it.
        scope: CancelScope | None = task._cancel_status
        while scope is not None and scope._cancel_info is None:
            scope = None if scope._shield else scope._parent
        if scope is None:
            return
        origin = self.origins.get(scope)
        if origin is None:
            source = scope._cancel_info[0]  # type: ignore[index]
            origin = _Origin(f"Cancelled ({source}); where is not known: tracing was off at the time")
        cancelled.add_note(origin.text())

    # ---- one origin per kind of cancellation ---------------------------------

    def _explicit(self, reason: str | None) -> _Origin:
        runner = RUN.runner
        task = None if runner is None else runner.current
        headline = "Cancelled by CancelScope.cancel()"
        if reason:
            headline += f" (reason: {reason!r})"
        if task is not None:
            headline += f" in task {task.name!r}"
        frames = _user_frames()
        stack = traceback.StackSummary.extract(
            ((frame, frame.f_lineno) for frame in reversed(frames[:_STACK_LIMIT])), lookup_lines=True
        )
        return _Origin(headline, stack)

    def _deadline(self, scope: CancelScope) -> _Origin:
        where = self.deadline_origins.get(scope)
        if where is None:
            # Entered with its deadline already passed: the entry is here.
            frame = _first_user_frame()
            where = None if frame is None else frame_location(frame)
        if where is None:
            return _Origin("Cancelled because a deadline expired")
        return _Origin(f"Cancelled because the deadline set at {where} expired")

    def _nursery(self, scope: CancelScope, from_body: bool, reason: str | None) -> _Origin:
        nursery = scope._nursery
        errors = nursery._pending_excs if nursery is not None else []
        if not errors:
            return _Origin(f"Cancelled by its nursery: {reason}")
        error = errors[-1]
        runner = RUN.runner
        task = None if runner is None else runner.current
        where = _raised_at(error)
        if from_body:
            whose = f" in task {task.name!r}" if task is not None else ""
            headline = f"Cancelled because the body of a nursery{whose} raised {_describe(error)}"
        else:
            name = repr(task.name) if task is not None else "?"
            headline = f"Cancelled because sibling task {name} raised {_describe(error)}"
        return _Origin(headline + (f" at {where}" if where else ""))


_TRACER = _CancelTracer()


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _raised_at(error: BaseException) -> str | None:
    tb = error.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return frame_location(tb.tb_frame, tb.tb_lineno)


def _user_frames() -> list[types.FrameType]:
    """The calling stack outside tether, innermost first, up to the loop that runs it.

    Below the first frame of tether's core met after user code (the loop
    stepping the task, or running a thread callback) lies the code that
    called ``run()``, which has nothing to do with this cancellation.
    """
    frames: list[types.FrameType] = []
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not is_library_file(filename):
            frames.append(frame)
        elif frames and filename.startswith(_CORE_DIR):
            break
        frame = frame.f_back
    return frames


def _first_user_frame() -> types.FrameType | None:
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and is_library_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame
