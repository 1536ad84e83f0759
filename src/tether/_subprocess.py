"""Child processes: ``Process``, ``lowlevel.open_process`` and ``run_process``.

``subprocess.Popen`` starts the child (in a worker thread: spawning may
block); its pipes are ``FdStream``s.  Waiting for the child's exit takes no
thread on Linux >= 5.3: a pidfd becomes readable when the child exits.
Elsewhere one worker thread per child sits in ``waitid(WNOWAIT)`` (which
does not reap), started by a system task so that a cancelled ``wait()``
retried later does not start another.

``run_process`` supervises the child in a nursery; if it is cancelled (or
feeding/reading the pipes fails) it calls ``deliver_cancel`` in a shielded
task and waits, shielded, until the child is reaped: no zombie is left.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Protocol, final

from ._abc import ReceiveStream, SendStream
from ._core import (
    TASK_STATUS_IGNORED,
    BrokenResourceError,
    ClosedResourceError,
    TaskStatus,
    notify_closing,
    open_nursery,
    spawn_system_task,
    wait_readable,
)
from ._core import CancelScope as _CancelScope
from ._streams import StapledStream
from ._sync import CapacityLimiter, Event, Lock
from ._threads import to_thread_run_sync
from ._timeouts import sleep
from ._unix_pipes import FdStream

StrOrBytesPath = str | bytes | os.PathLike[str] | os.PathLike[bytes]
Command = StrOrBytesPath | Sequence[StrOrBytesPath]

# Seconds the default deliver_cancel waits after SIGTERM before SIGKILL.
TERMINATE_GRACE: Final = 5.0

_UNSUPPORTED_OPTIONS: Final = ("universal_newlines", "text", "encoding", "errors", "bufsize")


class HasFileno(Protocol):
    def fileno(self) -> int: ...


def _open_pidfd(pid: int) -> int | None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:  # pragma: no cover - not Linux
        return None
    try:
        return int(pidfd_open(pid))
    except OSError:  # pragma: no cover - kernel older than 5.3 (ENOSYS), or seccomp
        return None


@final
class Process:
    """A child process, like ``subprocess.Popen`` but async.

    Get one from ``await nursery.start(run_process, ...)`` (supervised) or
    ``await tether.lowlevel.open_process(...)`` (yours to wait for).

    Attributes:
        args: the command the process was started with.
        pid: its process id.
        stdin: a SendStream to its standard input (``stdin=PIPE``), else None.
        stdout: a ReceiveStream from its standard output (``stdout=PIPE``), else None.
        stderr: a ReceiveStream from its standard error (``stderr=PIPE``), else None.
        stdio: a ``StapledStream`` sending to ``stdin`` and receiving from
            ``stdout``, when both are pipes; else None.
    """

    universal_newlines: Final = False
    encoding: Final = None
    errors: Final = None

    args: Command
    pid: int
    stdin: SendStream | None
    stdout: ReceiveStream | None
    stderr: ReceiveStream | None
    stdio: StapledStream[SendStream, ReceiveStream] | None
    _popen: subprocess.Popen[bytes]
    _wait_lock: Lock
    _pidfd: int | None
    _exited: Event | None  # without a pidfd: set when a waitid() thread saw the exit

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "tether.Process has no public constructor; use "
            "tether.lowlevel.open_process(...) or nursery.start(tether.run_process, ...)"
        )

    @classmethod
    def _create(
        cls,
        popen: subprocess.Popen[bytes],
        stdin: SendStream | None,
        stdout: ReceiveStream | None,
        stderr: ReceiveStream | None,
    ) -> Process:
        self = cls.__new__(cls)
        self._popen = popen
        self.args = popen.args
        self.pid = popen.pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.stdio = None
        if stdin is not None and stdout is not None:
            self.stdio = StapledStream(stdin, stdout)
        self._wait_lock = Lock()
        self._pidfd = _open_pidfd(popen.pid)
        self._exited = None
        return self

    def __repr__(self) -> str:
        code = self.returncode
        if code is None:
            status = f"running with PID {self.pid}"
        elif code < 0:
            status = f"exited with signal {-code}"
        else:
            status = f"exited with status {code}"
        return f"<tether.Process {self.args!r}: {status}>"

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while the process runs.

        Negative for a process killed by a signal (``-signal.SIGTERM``, ...).
        Always current: no need to call ``poll()`` or ``wait()`` first.
        """
        code: int | None = self._popen.poll()
        if code is not None:
            self._close_pidfd()
        return code

    def poll(self) -> int | None:
        """The same as ``returncode`` (kept for ``subprocess.Popen`` compatibility)."""
        return self.returncode

    def _close_pidfd(self) -> None:
        pidfd = self._pidfd
        if pidfd is not None:
            self._pidfd = None
            notify_closing(pidfd)
            os.close(pidfd)

    async def wait(self) -> int:
        """Wait until the process exits, reap it, and return its exit status.

        Always a checkpoint.  Cancelling the wait leaves the process running.
        """
        async with self._wait_lock:
            if self.returncode is None:
                pidfd = self._pidfd
                if pidfd is not None:
                    try:
                        await wait_readable(pidfd)
                    except ClosedResourceError:
                        pass  # returncode (from another task) reaped it meanwhile
                else:
                    await self._wait_without_pidfd()
                # The child has exited: this reaps it without blocking.
                self._popen.wait()
                self._close_pidfd()
        code: int | None = self._popen.returncode
        assert code is not None
        return code

    async def _wait_without_pidfd(self) -> None:
        if self._exited is None:
            self._exited = Event()
            spawn_system_task(_wait_in_thread, self._popen.pid, self._exited)
        await self._exited.wait()

    def send_signal(self, sig: signal.Signals | int) -> None:
        """Send signal ``sig`` to the process (no effect once it has been reaped)."""
        self._popen.send_signal(sig)

    def terminate(self) -> None:
        """Ask the process to exit: send it SIGTERM."""
        self._popen.terminate()

    def kill(self) -> None:
        """Kill the process: send it SIGKILL.  ``wait()`` to be sure it is gone."""
        self._popen.kill()

    def __del__(self) -> None:
        pidfd = getattr(self, "_pidfd", None)
        if pidfd is not None:
            self._pidfd = None
            os.close(pidfd)


def _waitid_until_exited(pid: int) -> None:
    # WNOWAIT: see the exit without reaping; Popen.wait() reaps.
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            return
        except InterruptedError:  # pragma: no cover - retried by Python already
            continue


async def _wait_in_thread(pid: int, exited: Event) -> None:
    # A system task: if the run ends first, the thread is abandoned and
    # finishes when the child does.
    try:
        await to_thread_run_sync(
            _waitid_until_exited,
            pid,
            abandon_on_cancel=True,
            limiter=CapacityLimiter(math.inf),
        )
    except OSError:
        pass  # say, SIGCHLD is ignored: then wait() will not block either
    finally:
        exited.set()


def _check_command(command: object, shell: bool) -> None:
    if isinstance(command, str | bytes) and not shell:
        raise TypeError(
            "command must be a sequence (not a string or bytes) if shell=False on UNIX "
            f"systems; got {command!r}.\nEither split it into arguments: "
            f"run_process({_split_hint(command)}), or pass shell=True to have a shell "
            f"parse it: run_process({command!r}, shell=True)"
        )
    if not isinstance(command, str | bytes) and shell:
        raise TypeError(
            "command must be a string or bytes (not a sequence) if shell=True on UNIX "
            f"systems; got {command!r}"
        )


def _split_hint(command: str | bytes) -> str:
    text = command.decode(errors="replace") if isinstance(command, bytes) else command
    return repr(text.split())


async def open_process(
    command: Command,
    *,
    stdin: int | HasFileno | None = None,
    stdout: int | HasFileno | None = None,
    stderr: int | HasFileno | None = None,
    **options: Any,
) -> Process:
    """Start a child process and return a ``Process`` for it, without supervising it.

    Takes ``subprocess.Popen``'s arguments; ``subprocess.PIPE`` for
    ``stdin``/``stdout``/``stderr`` gives the matching stream on the
    Process, and ``stderr=subprocess.STDOUT`` merges stderr into stdout.
    You must ``await process.wait()`` (and close its streams) yourself:
    prefer ``run_process``.  Always a checkpoint.

    Args:
        command: the program and its arguments (a sequence), or a string
            with ``shell=True``.

    Raises:
        TypeError: a string command without ``shell=True`` (or a sequence
            with it), or a text-mode option (``text``, ``encoding``, ...):
            tether streams carry bytes.
        OSError: the process could not be started (say, the program is missing).
    """
    for key in _UNSUPPORTED_OPTIONS:
        if options.get(key):
            raise TypeError(
                "tether.Process only supports communicating over unbuffered byte "
                f"streams; the {key!r} option is not supported"
            )
    _check_command(command, bool(options.get("shell")))

    ours: list[FdStream] = []  # our ends of the pipes
    theirs: list[int] = []  # the child's ends: closed here once it has them
    try:
        child_stdin: Any = stdin
        child_stdout: Any = stdout
        child_stderr: Any = stderr
        stdin_stream = stdout_stream = stderr_stream = None

        def pipe(child_reads: bool) -> tuple[FdStream, int]:
            # A pipe whose one end is our FdStream and the other the child's fd.
            read_fd, write_fd = os.pipe()
            child_fd, our_fd = (read_fd, write_fd) if child_reads else (write_fd, read_fd)
            theirs.append(child_fd)
            stream = FdStream(our_fd)
            ours.append(stream)
            return stream, child_fd

        if stdin == subprocess.PIPE:
            stdin_stream, child_stdin = pipe(child_reads=True)
        if stdout == subprocess.PIPE:
            stdout_stream, child_stdout = pipe(child_reads=False)
        if stderr == subprocess.STDOUT:
            # Share whatever stdout got (pipe, DEVNULL, fd); None keeps
            # STDOUT so that Popen copies our own stdout.
            if child_stdout is not None:
                child_stderr = child_stdout
        elif stderr == subprocess.PIPE:
            stderr_stream, child_stderr = pipe(child_reads=False)
        popen = await to_thread_run_sync(
            lambda: subprocess.Popen(
                command, stdin=child_stdin, stdout=child_stdout, stderr=child_stderr, **options
            )
        )
    except BaseException:
        for stream in ours:
            stream.close()
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return Process._create(popen, stdin_stream, stdout_stream, stderr_stream)


async def _terminate_then_kill(process: Process) -> None:
    try:
        process.terminate()
        await sleep(TERMINATE_GRACE)
        warnings.warn(
            RuntimeWarning(
                f"process {process!r} ignored SIGTERM for {TERMINATE_GRACE:g} seconds. "
                "(Maybe you should pass a custom deliver_cancel?) Trying SIGKILL."
            ),
            stacklevel=1,
        )
        process.kill()
    except OSError as error:
        warnings.warn(
            RuntimeWarning(f"tried to kill process {process!r}, but failed with: {error!r}"),
            stacklevel=1,
        )


def _check_run_options(
    stdin: object, task_status: object, capture_stdout: bool, capture_stderr: bool, options: dict[str, Any]
) -> None:
    if isinstance(stdin, str):
        raise UnicodeError("process stdin must be bytes, not str")
    if task_status is TASK_STATUS_IGNORED:
        if stdin is subprocess.PIPE:
            raise ValueError(
                "stdin=subprocess.PIPE is only valid with nursery.start, since that's the "
                "only way to access the pipe; use nursery.start or pass the data you want "
                "to write directly"
            )
        for name in ("stdout", "stderr"):
            if options.get(name) is subprocess.PIPE:
                raise ValueError(
                    f"{name}=subprocess.PIPE is only valid with nursery.start, since that's "
                    "the only way to access the pipe"
                )
    if capture_stdout and "stdout" in options:
        raise ValueError("can't specify both stdout and capture_stdout")
    if capture_stderr and "stderr" in options:
        raise ValueError("can't specify both stderr and capture_stderr")


async def run_process(
    command: Command,
    *,
    stdin: bytes | bytearray | memoryview | int | HasFileno | None = b"",
    capture_stdout: bool = False,
    capture_stderr: bool = False,
    check: bool = True,
    deliver_cancel: Callable[[Process], Awaitable[object]] | None = None,
    task_status: TaskStatus[Process] = TASK_STATUS_IGNORED,
    **options: Any,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command to completion, like ``subprocess.run``, and supervise it meanwhile.

    Always a checkpoint.  If the call is cancelled, ``deliver_cancel(process)``
    runs (default: SIGTERM, then SIGKILL after 5 seconds with a
    RuntimeWarning) and the call waits until the process is reaped before
    raising: the child never outlives it.  With ``await nursery.start(
    run_process, ...)`` you get the ``Process`` as soon as it started.

    Args:
        command: the program and its arguments (a sequence), or a string
            with ``shell=True``.
        stdin: bytes to feed to the child's stdin (default: none, so it sees
            end of file at once); or ``subprocess.PIPE`` with ``nursery.start``
            (write to ``process.stdin`` yourself); or ``None`` to inherit ours,
            ``DEVNULL``, or a file descriptor / object with ``fileno()``.
        capture_stdout: collect stdout; it comes back in the result.
        capture_stderr: collect stderr; it comes back in the result.
        check: raise ``subprocess.CalledProcessError`` if the exit status is
            not zero.
        deliver_cancel: ``async def (process)`` that makes the process exit
            when the call is cancelled.
        task_status: for ``nursery.start``: started with the ``Process``.
        **options: other ``subprocess.Popen`` arguments (``cwd``, ``env``,
            ``shell``, ``stdout``, ``stderr``, ...).

    Returns:
        A ``subprocess.CompletedProcess`` (``stdout``/``stderr`` are bytes
        if captured, else None).

    Raises:
        subprocess.CalledProcessError: the exit status was not zero and
            ``check`` is true; it carries the captured output.
        TypeError: a string command without ``shell=True`` (the message
            shows both fixes).
        ValueError: conflicting arguments (``capture_stdout`` with
            ``stdout``, a PIPE without ``nursery.start``).
        OSError: the process could not be started.
    """
    _check_run_options(stdin, task_status, capture_stdout, capture_stderr, options)
    feed: bytes | bytearray | memoryview | None = None
    if isinstance(stdin, bytes | bytearray | memoryview):
        feed = stdin
        options["stdin"] = subprocess.PIPE
    else:
        options["stdin"] = stdin
    if capture_stdout:
        options["stdout"] = subprocess.PIPE
    if capture_stderr:
        options["stderr"] = subprocess.PIPE
    if deliver_cancel is None:
        deliver_cancel = _terminate_then_kill

    stdout_chunks: list[bytes | bytearray] = []
    stderr_chunks: list[bytes | bytearray] = []
    # Started outside the nursery: a failure to start comes out as it is.
    process = await open_process(command, **options)
    async with open_nursery() as nursery:
        try:
            if feed is not None:
                assert process.stdin is not None
                nursery.start_soon(_feed_input, process.stdin, feed)
                process.stdin = process.stdio = None
            if capture_stdout:
                assert process.stdout is not None
                nursery.start_soon(_read_output, process.stdout, stdout_chunks)
                process.stdout = process.stdio = None
            if capture_stderr:
                assert process.stderr is not None
                nursery.start_soon(_read_output, process.stderr, stderr_chunks)
                process.stderr = None
            task_status.started(process)
            await process.wait()
        except BaseException:
            await _stop_process(process, deliver_cancel, nursery)
            raise

    stdout = b"".join(stdout_chunks) if capture_stdout else None
    stderr = b"".join(stderr_chunks) if capture_stderr else None
    code = process.returncode
    assert code is not None
    if code and check:
        raise subprocess.CalledProcessError(code, process.args, output=stdout, stderr=stderr)
    return subprocess.CompletedProcess(process.args, code, stdout, stderr)


async def _stop_process(
    process: Process, deliver_cancel: Callable[[Process], Awaitable[object]], nursery: Any
) -> None:
    # Cancelled, or a pipe task failed: make the child exit and reap it,
    # shielded, so that it never outlives run_process.
    with _CancelScope(shield=True):
        killer_scope = _CancelScope(shield=True)

        async def killer() -> None:
            with killer_scope:
                await deliver_cancel(process)

        nursery.start_soon(killer)
        await process.wait()
        killer_scope.cancel()


async def _feed_input(stream: SendStream, data: bytes | bytearray | memoryview) -> None:
    async with stream:
        try:
            await stream.send_all(data)
        except BrokenResourceError:
            pass  # the child exited (or closed stdin) without reading it all


async def _read_output(stream: ReceiveStream, chunks: list[bytes | bytearray]) -> None:
    async with stream:
        async for chunk in stream:
            chunks.append(chunk)
