"""A cache of reusable worker threads: ``start_thread_soon`` and its internal twin.

``to_thread.run_sync`` and ``start_thread_soon`` hand a job to an idle worker
if there is one, else start a new daemon thread.  A worker that stays idle
for ``IDLE_TIMEOUT`` seconds exits.  Idle workers are reused newest first,
so a steady trickle of jobs keeps one hot thread and lets the rest expire.

Invariant: a worker is in ``ThreadCache.idle`` exactly while it has no job
and is not exiting; whoever removes it from ``idle`` owns it and must give it
a job (or it is exiting and removed itself).
"""

from __future__ import annotations

import ctypes
import sys
import threading
import traceback
from collections.abc import Callable
from itertools import count
from typing import Any, Final, TypeVar, final

import outcome

T = TypeVar("T")

# Seconds a worker waits for a new job before it exits.
IDLE_TIMEOUT: Final = 10.0

_worker_numbers = count(1)


def _os_thread_namer() -> Callable[[int, str], None] | None:
    # pthread_setname_np, looked up once, on first use; None where absent.
    try:
        setname = ctypes.CDLL(None).pthread_setname_np
    except (AttributeError, OSError):  # pragma: no cover - non-glibc systems
        return None
    setname.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
    setname.restype = ctypes.c_int

    def set_name(ident: int, name: str) -> None:
        # The kernel keeps 15 bytes of a thread name (plus the NUL).
        setname(ident, name.encode("utf-8", "replace")[:15])

    return set_name


_OS_NAMER: list[Callable[[int, str], None] | None] = []


def _set_os_thread_name(ident: int, name: str) -> None:
    if not _OS_NAMER:
        _OS_NAMER.append(_os_thread_namer())
    namer = _OS_NAMER[0]
    if namer is not None:
        namer(ident, name)


@final
class _Worker:
    __slots__ = ("cache", "default_name", "deliver", "job", "job_name", "os_rename", "wakeup")

    def __init__(self, cache: ThreadCache) -> None:
        self.cache = cache
        # Released once per job handed over; the worker blocks on it while idle.
        self.wakeup = threading.Lock()
        self.wakeup.acquire()
        self.job: Callable[[], Any] | None = None
        self.deliver: Callable[[Any], object] | None = None
        self.job_name: str | None = None
        self.os_rename = False
        self.default_name = f"tether worker {next(_worker_numbers)}"
        thread = threading.Thread(target=self.work, name=self.default_name, daemon=True)
        thread.start()

    def work(self) -> None:
        idle = self.cache.idle
        acquire = self.wakeup.acquire
        while True:
            if not acquire(timeout=IDLE_TIMEOUT):
                try:
                    del idle[self]
                except KeyError:
                    # Someone took us off the idle list just now: a job is
                    # on its way, and the lock will be released for it.
                    continue
                return
            job, deliver, name, os_rename = self.job, self.deliver, self.job_name, self.os_rename
            self.job = self.deliver = None
            assert job is not None and deliver is not None
            if name is not None:
                self._rename(name, os_rename)
            result = job()
            if name is not None:
                self._rename(self.default_name, os_rename)
            # Idle *before* delivering: the delivery may make the loop start
            # the next job at once, and it should find this thread free
            # rather than start another one.
            idle[self] = None
            deliver(result)
            del job, deliver, result

    @staticmethod
    def _rename(name: str, os_rename: bool) -> None:
        threading.current_thread().name = name
        if os_rename:
            _set_os_thread_name(threading.get_ident(), name)


@final
class ThreadCache:
    """The process-wide pool of idle workers (a dict used as a LIFO set)."""

    __slots__ = ("idle",)

    def __init__(self) -> None:
        self.idle: dict[_Worker, None] = {}

    def start(
        self,
        job: Callable[[], T],
        deliver: Callable[[T], object],
        name: str | None,
        os_rename: bool,
    ) -> None:
        try:
            worker, _ = self.idle.popitem()
        except KeyError:
            worker = _Worker(self)
        worker.job = job
        worker.deliver = deliver
        worker.job_name = name
        worker.os_rename = os_rename
        worker.wakeup.release()


THREAD_CACHE: Final = ThreadCache()


def start_worker_job(
    job: Callable[[], T],
    deliver: Callable[[T], object],
    name: str | None = None,
    os_rename: bool = False,
) -> None:
    """Run ``job()`` in a worker thread, then ``deliver(its result)`` in the same thread.

    Neither may raise: the internal twin of ``start_thread_soon`` for callers
    that catch their own errors (``to_thread.run_sync``), with no
    ``Outcome`` built per job.  ``name`` renames the Python thread for the
    job, and the OS thread too if ``os_rename`` (a syscall per rename).
    """
    THREAD_CACHE.start(job, deliver, name, os_rename)


def start_thread_soon(
    fn: Callable[[], T],
    deliver: Callable[[outcome.Outcome[T]], object],
    name: str | None = None,
) -> None:
    """Run ``fn()`` in a worker thread, then ``deliver(outcome)`` in that thread.

    The thread comes from a cache of reusable workers (a new one is started
    when none is idle; idle ones exit after a while).  Nothing limits how
    many run at once: use ``tether.to_thread.run_sync`` for that.  ``fn`` and
    ``deliver`` run outside tether; ``deliver`` usually hands the outcome
    back with ``TrioToken.run_sync_soon``.

    Args:
        fn: the function to run; its return value or exception becomes an
            ``outcome.Outcome``.
        deliver: called with that outcome, in the worker thread.  It should
            not raise; if it does, the traceback is printed to stderr and
            the worker carries on.
        name: a name for the thread while it runs ``fn`` (also the OS-level
            thread name where ``pthread_setname_np`` exists, cut to 15 bytes).
    """
    THREAD_CACHE.start(lambda: outcome.capture(fn), _guarded(deliver), name, name is not None)


def _guarded(
    deliver: Callable[[outcome.Outcome[T]], object],
) -> Callable[[outcome.Outcome[T]], None]:
    def guarded_deliver(result: outcome.Outcome[T]) -> None:
        try:
            deliver(result)
        except BaseException as error:
            print("Exception while delivering result of thread", file=sys.stderr)
            traceback.print_exception(type(error), error, error.__traceback__)

    return guarded_deliver
