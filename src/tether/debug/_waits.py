"""What one task is doing, in words: its state, what it waits on, and where.

Read-only looks at the core's task and loop state (``Task._abort_func``,
``Task._timer``, the I/O manager's waiters) and at the frames a task is
suspended in.  Used by the task-tree dump, so it must never raise on odd
state: anything it cannot name is described generically.
"""

from __future__ import annotations

import contextlib
import enum
import math
import os
import socket
import types
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .._core import Runner, Task

# Frames in these files are tether's (or contextlib's plumbing under an
# ``async with``); the frames shown for a task are the others.
TETHER_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_CONTEXTLIB_FILE: Final = os.path.abspath(contextlib.__file__)

# At most this many of a task's innermost frames are listed.
MAX_FRAMES: Final = 5


class TaskState(enum.Enum):
    RUNNING = "running"
    RUNNABLE = "runnable"
    BLOCKED = "blocked"


def task_state(runner: Runner, task: Task) -> TaskState:
    if runner.current is task:
        return TaskState.RUNNING
    if task._abort_func is not None:
        return TaskState.BLOCKED
    return TaskState.RUNNABLE


def format_delta(seconds: float) -> str:
    """Seconds from now as the dump shows them: ``+3.2 s``, ``-0.015 s``."""
    if math.isinf(seconds):
        return "never" if seconds > 0 else "-inf s"
    if abs(seconds) >= 0.1:
        return f"{seconds:+.1f} s"
    return f"{seconds:+.3f} s"


def is_library_file(filename: str) -> bool:
    return filename.startswith(TETHER_DIR) or filename == _CONTEXTLIB_FILE


def show_path(filename: str) -> str:
    if filename.startswith(TETHER_DIR):
        return "tether/" + filename[len(TETHER_DIR):]
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


def frame_location(frame: types.FrameType, lineno: int | None = None) -> str:
    code = frame.f_code
    line = frame.f_lineno if lineno is None else lineno
    return f"{show_path(code.co_filename)}:{line} in {code.co_name}"


def await_frames(task: Task) -> list[types.FrameType]:
    """The frames ``task`` is suspended in, outermost first (never raises)."""
    try:
        return [frame for frame, _ in task.iter_await_frames()]
    except Exception:
        return []


def shown_frames(frames: list[types.FrameType]) -> list[str]:
    """``file:line in function`` for the innermost frames outside tether, innermost first.

    A task that is itself a tether function (``start_soon(event.wait)``)
    shows that function's frame instead.
    """
    user = [frame for frame in frames if not is_library_file(frame.f_code.co_filename)]
    if not user:
        user = frames[:1]
    return [frame_location(frame) for frame in reversed(user[-MAX_FRAMES:])]


def _self_of(frame: types.FrameType) -> object:
    code = frame.f_code
    if code.co_argcount and code.co_varnames[0] == "self":
        return frame.f_locals.get("self")
    return None


def _entry_frame(frames: list[types.FrameType]) -> types.FrameType | None:
    # The outermost frame of the innermost run of tether frames: the tether
    # function the user's code called (Lock.acquire, SocketType.recv, ...).
    entry = None
    for frame in reversed(frames):
        if not frame.f_code.co_filename.startswith(TETHER_DIR):
            break
        entry = frame
    return entry


def _callable_name(function: object) -> str:
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    return str(name) if name is not None else repr(function)


# (class name, method name) -> words, for waits whose method name says little.
_METHOD_WORDS: Final = {
    ("MemoryReceiveChannel", "receive"): "receiving from a memory channel",
    ("MemoryReceiveChannel", "__anext__"): "receiving from a memory channel",
    ("MemorySendChannel", "send"): "sending to a memory channel",
}


def describe_wait(runner: Runner, task: Task, frames: list[types.FrameType]) -> str:
    """What the blocked ``task`` waits for, in words."""
    timer = task._timer
    if timer is not None:
        return f"sleeping until {format_delta(timer[0] - runner.clock.current_time())}"
    fd_wait = describe_fd_wait(runner, task)
    if fd_wait is not None:
        return fd_wait
    for frame in reversed(frames):
        name = frame.f_code.co_name
        if name == "to_thread_run_sync":
            function = frame.f_locals.get("sync_fn")
            return f"waiting for a worker thread: to_thread.run_sync({_callable_name(function)})"
        if name == "_wait_for_children":
            entry = _entry_frame(frames)
            if entry is not None and entry.f_code.co_name == "start":
                # Nursery.start() waits in a private nursery of its own.
                return "Nursery.start: waiting for the new task to call task_status.started()"
            children = len(getattr(_self_of(frame), "_children", ()))
            plural = "" if children == 1 else "s"
            return f"waiting for {children} child task{plural} (end of a nursery block)"
        if name == "_init" and task is runner.init_task:
            return "waiting for the main task to exit"
    entry = _entry_frame(frames)
    if entry is None:
        if frames:
            return f"waiting in {frames[-1].f_code.co_name}() (a custom wait)"
        return "waiting"
    owner = _self_of(entry)
    method = entry.f_code.co_name
    if owner is None:
        if method == "sleep_forever":
            return "sleeping forever"
        return f"{method}()"
    class_name = type(owner).__name__
    return _METHOD_WORDS.get((class_name, method), f"{class_name}.{method}")


def describe_fd_wait(runner: Runner, task: Task) -> str | None:
    """``reading fd 7 (socket ...)`` if ``task`` waits for an fd, else None."""
    for fd, waiting in list(runner.io.waiting.items()):
        if waiting.read_task is task:
            verb = "reading"
        elif waiting.write_task is task:
            verb = "writing"
        else:
            continue
        owner = waiting.owner() if waiting.owner is not None else None
        return f"{verb} fd {fd} ({describe_fd(fd, owner)})"
    return None


def describe_fd(fd: int, owner: object = None) -> str:
    """What fd ``fd`` is: ``socket 127.0.0.1:5000``, ``a pipe``, a path..."""
    stdlib_socket = getattr(owner, "_sock", None)
    if isinstance(stdlib_socket, socket.socket):
        return _describe_socket(stdlib_socket)
    try:
        link = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "unknown kind"
    if link.startswith("socket:"):
        try:
            borrowed = socket.socket(fileno=fd)
        except OSError:
            return "a socket"
        try:
            return _describe_socket(borrowed)
        finally:
            borrowed.detach()  # the fd is not ours to close
    if link.startswith("pipe:"):
        return "a pipe"
    if link.startswith("anon_inode:"):
        return link[len("anon_inode:"):].strip("[]")
    return link


def _describe_socket(sock: socket.socket) -> str:
    try:
        local = _address(sock.family, sock.getsockname())
    except OSError:
        return "a socket"
    try:
        peer = _address(sock.family, sock.getpeername())
    except OSError:
        listening = _is_listening(sock)
        return f"listening socket {local}" if listening else f"socket {local}"
    if sock.family == socket.AF_UNIX and local == peer == "unnamed":
        return "Unix socket pair"
    return f"socket {local} -> {peer}"


def _is_listening(sock: socket.socket) -> bool:
    try:
        return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    except OSError:
        return False


def _address(family: int, address: Any) -> str:
    if family == socket.AF_INET:
        return f"{address[0]}:{address[1]}"
    if family == socket.AF_INET6:
        return f"[{address[0]}]:{address[1]}"
    if family == socket.AF_UNIX:
        if isinstance(address, bytes):
            return "@" + address[1:].decode(errors="replace") if address else "unnamed"
        return address or "unnamed"
    return str(address)
