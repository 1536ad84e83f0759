"""The monitor: a Unix socket through which ``python -m tether ps PID`` reads a run's task tree.

Where the sockets live (``socket_dirs``): ``$XDG_RUNTIME_DIR/tether`` when
that variable names a directory, else ``<tempdir>/tether-<uid>``; either
way a directory of mode 0700 owned by the user (created if missing, and
refused if someone else owns it).  The socket is ``<pid>.sock`` (mode
0600); a second concurrent run in the same process gets ``<pid>.<n>.sock``.

The protocol has no request: the monitor checks the client's uid
(``SO_PEERCRED``), writes the tree (or a refusal), and closes.  The monitor
is a system task blocked in ``accept`` while idle, so it costs nothing and
is cancelled, like every system task, when the main task ends; it removes
its socket file then.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import struct
import tempfile
from typing import Final, final

from .. import socket as tether_socket
from .._core import RunVar, current_runner, spawn_system_task
from ._deadlock import QUIET_TASKS
from ._tree import format_runner_tree

_SOCKET_SUFFIX: Final = ".sock"
_PEERCRED: Final = struct.Struct("3i")  # struct ucred: pid, uid, gid


@final
class _Monitor:
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


_MONITOR: RunVar[_Monitor | None] = RunVar("tether.debug.monitor", None)


def serve_monitor() -> str:
    """Start this run's monitor, so ``python -m tether ps <pid>`` can show its task tree.

    ``TETHER_MONITOR=1`` in the environment does this at the start of every
    run.  The socket is private to the user (see ``docs/debug.md``) and is
    removed when the run ends.  Calling it again in the same run does
    nothing more.  Not a checkpoint.

    Returns:
        The path of the monitor's Unix socket.

    Raises:
        RuntimeError: called outside a tether run.
        PermissionError: the socket directory exists but belongs to another
            user, or is not a directory.
    """
    current_runner()
    monitor = _MONITOR.get()
    if monitor is not None:
        return monitor.path
    listener, path = _bind_listener()
    monitor = _Monitor(path)
    _MONITOR.set(monitor)
    listener_socket = tether_socket.from_stdlib_socket(listener)
    task = spawn_system_task(_serve, listener_socket, path, name="tether.debug monitor")
    QUIET_TASKS.set(QUIET_TASKS.get() | {task})
    return path


# ---- where the sockets live ------------------------------------------------


def socket_dirs() -> list[str]:
    """The directories a monitor socket may be in, the one servers use first."""
    dirs = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        dirs.append(os.path.join(runtime, "tether"))
    dirs.append(os.path.join(tempfile.gettempdir(), f"tether-{os.geteuid()}"))
    return dirs


def private_dir(path: str) -> str:
    """Create ``path`` (mode 0700) if needed, and check that only we can use it.

    Raises:
        PermissionError: ``path`` is not a directory, or another user owns it.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise PermissionError(
            f"{path!r} is not a directory owned by uid {os.geteuid()}: the tether monitor will "
            "not put its socket there (remove it, or set XDG_RUNTIME_DIR to a private directory)"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def _bind_listener() -> tuple[socket.socket, str]:
    directory = private_dir(socket_dirs()[0])
    pid = os.getpid()
    number = 0
    while True:
        name = f"{pid}{_SOCKET_SUFFIX}" if number == 0 else f"{pid}.{number}{_SOCKET_SUFFIX}"
        path = os.path.join(directory, name)
        if not _is_live(path):
            break
        number += 1  # another run of this process serves that one
    try:
        os.unlink(path)  # a stale socket: its process died without removing it
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(8)
    except BaseException:
        listener.close()
        raise
    return listener, path


def _is_live(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ECONNREFUSED):
            return False
        raise
    finally:
        probe.close()
    return True


# ---- serving ---------------------------------------------------------------------


def peer_allowed(peer_uid: int, own_uid: int) -> bool:
    """Whether a client with uid ``peer_uid`` may read the tree of a process of ``own_uid``."""
    return peer_uid == own_uid


def own_uid() -> int:
    return os.geteuid()


def peer_uid(connection: tether_socket.SocketType) -> int:
    data = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    _, uid, _ = _PEERCRED.unpack(data)
    return int(uid)


def answer_for(uid: int) -> bytes:
    """What the monitor writes to a client with uid ``uid``."""
    owner = own_uid()
    if not peer_allowed(uid, owner):
        return f"refused: uid {uid} may not read the task tree of a process of uid {owner}\n".encode()
    return format_runner_tree(current_runner()).encode()


async def _serve(listener: tether_socket.SocketType, path: str) -> None:
    try:
        while True:
            connection, _ = await listener.accept()
            with connection:
                try:
                    await _send_all(connection, answer_for(peer_uid(connection)))
                except OSError:
                    pass  # the client went away: its loss
    finally:
        listener.close()
        try:
            os.unlink(path)
        except OSError:
            pass


async def _send_all(connection: tether_socket.SocketType, data: bytes) -> None:
    view = memoryview(data)
    while view:
        sent = await connection.send(view)
        view = view[sent:]
