"""Running blocking code in threads, and calling back into the run from them.

``to_thread.run_sync`` hands a job to a cached worker thread
(``_core.start_worker_job``) and blocks the calling task until the thread
reports back through the run's ``TrioToken``.  The job object is also the
limiter's borrower and the "done" message sent to the waiting task, so one
round trip allocates little beyond it.

While the task waits, its worker thread may call ``from_thread.run`` /
``run_sync``: the request wakes the waiting task, which runs it and goes
back to waiting (so the callee sees that task's cancel scopes).  Requests
from threads that tether did not start (``trio_token=``), or from abandoned
jobs, run in a system task (``run``) or a loop callback (``run_sync``).
"""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Awaitable, Callable
from itertools import count
from typing import Any, Final, Generic, TypeVar, TypeVarTuple, Unpack, final

import sniffio

from . import _core
from ._core import (
    RUN,
    Abort,
    RaiseCancelT,
    RunFinishedError,
    RunVar,
    Task,
    TrioToken,
    cancel_shielded_checkpoint,
    checkpoint,
    current_runner,
    current_trio_token,
    disable_ki_protection,
    enable_ki_protection,
    start_worker_job,
    wait_task_rescheduled,
)
from ._sync import CapacityLimiter, Event

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

DEFAULT_THREAD_LIMIT: Final = 40

_job_numbers = count(1)


class _RunThreadState:
    """Per-run state: the default limiter, the count of tasks waiting for a thread, the jobs out."""

    __slots__ = ("active", "idle_event", "in_flight", "limiter")

    def __init__(self) -> None:
        self.limiter = CapacityLimiter(DEFAULT_THREAD_LIMIT)
        self.active = 0
        self.idle_event: Event | None = None  # made when someone waits for active == 0
        # Jobs started and not yet reported back, abandoned ones included:
        # each will still call into the run (tether.debug's deadlock
        # detection counts them).
        self.in_flight = 0

    def thread_done(self) -> None:
        self.active -= 1
        if self.active == 0 and self.idle_event is not None:
            self.idle_event.set()
            self.idle_event = None


_RUN_STATE: RunVar[_RunThreadState] = RunVar("tether._threads.state")


def _run_state() -> _RunThreadState:
    try:
        return _RUN_STATE.get()
    except LookupError:
        state = _RunThreadState()
        _RUN_STATE.set(state)
        return state


def current_default_thread_limiter() -> CapacityLimiter:
    """Return the CapacityLimiter that ``to_thread.run_sync`` uses by default.

    There is one per run; it starts with 40 tokens.  Change its
    ``total_tokens`` to allow more or fewer threads at once.

    Raises:
        RuntimeError: called outside a tether run.
    """
    return _run_state().limiter


def active_thread_count() -> int:
    """Return how many ``to_thread.run_sync`` calls of this run are waiting for their thread.

    A thread abandoned by a cancelled ``abandon_on_cancel=True`` call no
    longer counts, although it may still be running.
    """
    try:
        return _RUN_STATE.get().active
    except LookupError:
        return 0


def jobs_in_flight() -> int:
    """How many ``to_thread.run_sync`` jobs of this run have yet to report back, abandoned ones included."""
    try:
        return _RUN_STATE.get().in_flight
    except LookupError:
        return 0


async def wait_all_threads_completed() -> None:
    """Wait until no ``to_thread.run_sync`` call of this run is waiting for its thread.

    Meant for tests that must know no task is still making progress in a
    thread (abandoned threads are not waited for).  Always a checkpoint.
    """
    await checkpoint()
    try:
        state = _RUN_STATE.get()
    except LookupError:
        return
    if state.active:
        if state.idle_event is None:
            state.idle_event = Event()
        await state.idle_event.wait()


# ---- the worker side ---------------------------------------------------------


class _WorkerLocal(threading.local):
    # The job this worker thread is running (None in other threads).
    job: _ThreadJob[Any] | None = None


_WORKER: Final = _WorkerLocal()


@final
class _ThreadJob(Generic[T]):
    """One ``to_thread.run_sync`` call: its function, its waiting task, its result.

    Also the limiter's borrower (what ``statistics().borrowers`` shows) and
    the message that tells the waiting task the thread is done.
    """

    __slots__ = (
        "abandon",
        "args",
        "context",
        "entry_queue",
        "error",
        "fn",
        "limiter",
        "number",
        "raise_cancel",
        "result",
        "state",
        "task",
        "token",
    )

    def __init__(
        self,
        fn: Callable[..., T],
        args: tuple[object, ...],
        task: Task,
        abandon: bool,
        limiter: Any,
        token: TrioToken,
        state: _RunThreadState,
    ) -> None:
        self.fn = fn
        self.args = args
        # None once the task stopped waiting (abandoned on cancellation).
        self.task: Task | None = task
        self.abandon = abandon
        self.limiter = limiter
        # For from_thread calls from the job; None once the job's function
        # returned (see deliver).
        self.token: TrioToken | None = token
        self.entry_queue = task._runner.entry_queue
        self.state = state
        self.context = contextvars.copy_context()
        self.raise_cancel: RaiseCancelT | None = None
        self.result: T | None = None
        self.error: BaseException | None = None
        self.number = next(_job_numbers)

    def __repr__(self) -> str:
        return f"<thread placeholder 'tether.to_thread.run_sync-{self.number}'>"

    # In the worker thread.
    def run(self) -> None:
        _WORKER.job = self
        try:
            result = self.context.run(self.fn, *self.args)
            if inspect.iscoroutine(result):
                result.close()  # avoids a "never awaited" warning
                raise TypeError(_async_fn_message("tether.to_thread.run_sync", self.fn))
            self.result = result
        except BaseException as error:
            self.error = error
        finally:
            _WORKER.job = None

    # In the worker thread, after it marked itself idle.
    def deliver(self, _: None) -> None:
        # Through the entry queue, the token dropped first: once this wakes
        # the run, this thread must hold no reference to the token, which
        # tether.debug's deadlock detection counts as a thread that may
        # still call in (the job is counted in ``in_flight`` until
        # report_back instead).
        self.token = None
        try:
            self.entry_queue.submit(self.report_back, (), False)
        except RunFinishedError:
            pass  # the run is over, so the task abandoned us long ago

    # In the loop, as a run_sync_soon callback: must not raise.
    def report_back(self) -> None:
        self.state.in_flight -= 1
        try:
            self.limiter.release_on_behalf_of(self)
        except BaseException as error:
            error.__context__ = self.error
            self.error = error
        task = self.task
        if task is not None:
            task._runner.reschedule_value(task, self)

    # In the waiting task, once the thread reported back.
    def unwrap(self) -> T:
        error = self.error
        if error is not None:
            self.error = None  # no cycle through the traceback
            try:
                raise error
            finally:
                del error
        return self.result  # type: ignore[return-value]

    # In the loop, when the waiting task is cancelled.
    def abort(self, raise_cancel: RaiseCancelT) -> Abort:
        self.raise_cancel = raise_cancel  # seen by from_thread.check_cancelled
        if self.abandon:
            self.task = None
            return Abort.SUCCEEDED
        return Abort.FAILED


def _async_fn_message(where: str, fn: object) -> str:
    name = getattr(fn, "__qualname__", None) or repr(fn)
    return (
        f"{where} expected a sync function, but {name!r} appears to be asynchronous.\n"
        f"An async function needs no thread: await it directly instead (await {name}(...))"
    )


_ASYNC_CODE_FLAGS: Final = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _is_async_function(fn: object) -> bool:
    # A cheap early check for plain functions and methods only; anything
    # else is caught in the thread when it returns a coroutine.
    code = getattr(fn, "__code__", None)
    return code is not None and bool(getattr(code, "co_flags", 0) & _ASYNC_CODE_FLAGS)


@enable_ki_protection
async def to_thread_run_sync(
    sync_fn: Callable[[Unpack[Ts]], T],
    *args: *Ts,
    thread_name: str | None = None,
    abandon_on_cancel: bool = False,
    limiter: CapacityLimiter | None = None,
) -> T:
    """Run ``sync_fn(*args)`` in a worker thread and return its result.

    The calling task waits without blocking the run.  The function sees a
    copy of the caller's context variables; from its thread it may call back
    in with ``tether.from_thread.run`` / ``run_sync``, and poll for
    cancellation with ``tether.from_thread.check_cancelled``.

    Always a checkpoint.  Cancellation:

    * ``abandon_on_cancel=False`` (the default): the call cannot be
      cancelled once the thread has started; it waits for the thread and
      returns or raises its result (the next checkpoint raises Cancelled).
    * ``abandon_on_cancel=True``: a cancellation raises Cancelled at once
      and abandons the thread: it keeps running, its result is discarded,
      and it holds its limiter token until it finishes.

    Args:
        sync_fn: a synchronous function.
        *args: positional arguments for it.
        thread_name: the thread's name while it runs ``sync_fn`` (also the
            OS-level name, cut to 15 bytes, where the platform allows);
            default ``"<function name> from <task name>"`` (Python name only).
        abandon_on_cancel: see above.
        limiter: bounds how many threads run at once; any object with
            ``acquire_on_behalf_of`` and ``release_on_behalf_of`` methods.
            Default: ``current_default_thread_limiter()`` (40 tokens).

    Returns:
        What ``sync_fn(*args)`` returns.

    Raises:
        TypeError: ``sync_fn`` is an async function.
        Exception: whatever ``sync_fn(*args)`` raises.
    """
    runner = current_runner()
    task = runner.current_task()
    if task._cancel_status.effectively_cancelled:
        await checkpoint()
    abandon = bool(abandon_on_cancel)
    if _is_async_function(sync_fn):
        raise TypeError(_async_fn_message("tether.to_thread.run_sync", sync_fn))
    state = _run_state()
    if limiter is None:
        limiter = state.limiter
    token = runner.trio_token or current_trio_token()
    job: _ThreadJob[T] = _ThreadJob(sync_fn, args, task, abandon, limiter, token, state)
    if sniffio.current_async_library_cvar.get(None) is not None:
        # Someone set the cvar: the thread must not believe it runs async code.
        job.context.run(sniffio.current_async_library_cvar.set, None)
    if type(limiter) is not CapacityLimiter or not limiter._try_borrow(job):
        await limiter.acquire_on_behalf_of(job)
    os_rename = thread_name is not None
    if thread_name is None:
        thread_name = f"{getattr(sync_fn, '__name__', None)} from {task.name}"
    try:
        start_worker_job(job.run, job.deliver, thread_name, os_rename)
    except BaseException:
        limiter.release_on_behalf_of(job)
        raise
    state.in_flight += 1
    del limiter
    # As in trio, a thread counts as active while its task waits for it
    # (an abandoned thread stops counting).
    state.active += 1
    try:
        abort = job.abort
        while True:
            message = await wait_task_rescheduled(abort)
            if message is job:
                result: T = job.unwrap()
                return result
            await message.serve_in_host_task()
    finally:
        job.task = None  # a late report must not wake this task any more
        state.thread_done()


# ---- calls from threads into the run -------------------------------------------


class _Request(Generic[T]):
    """One ``from_thread`` call, waiting in its thread for the run to answer."""

    __slots__ = ("args", "context", "done", "error", "fn", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple[object, ...]) -> None:
        self.fn = fn
        self.args = args
        self.context = contextvars.copy_context()
        self.done = threading.Lock()
        self.done.acquire()
        self.result: T | None = None
        self.error: BaseException | None = None

    def finish(self, result: T | None, error: BaseException | None) -> None:
        self.result = result
        self.error = error
        self.done.release()

    def wait(self) -> T:
        self.done.acquire()
        error = self.error
        if error is not None:
            self.error = None
            try:
                raise error
            finally:
                del error
        return self.result  # type: ignore[return-value]

    async def serve_in_host_task(self) -> None:
        raise NotImplementedError

    def serve_in_loop(self) -> None:
        raise NotImplementedError


@final
class _AsyncRequest(_Request[T]):
    __slots__ = ()

    async def serve_in_host_task(self) -> None:
        # The waiting to_thread task runs the call, in the calling thread's
        # context.  A task's context applies from its next step on: hence
        # the shielded schedule points around the swap.
        task = _core.current_task()
        old_context = task.context
        task.context = self.context.copy()
        result: Any = None
        error: BaseException | None = None
        try:
            await cancel_shielded_checkpoint()
            result = await _call_async(self.fn, self.args)
        except BaseException as caught:
            error = caught
        finally:
            task.context = old_context
        try:
            await cancel_shielded_checkpoint()
        finally:
            # Only now may the thread go on: the task has no schedule point
            # left before it waits again, so the thread's report cannot
            # find it runnable.
            self.finish(result, error)
            del error

    def serve_in_loop(self) -> None:
        runner = current_runner()
        nursery = runner.system_nursery
        if nursery is None or nursery._closed:
            self.finish(None, RunFinishedError("system nursery is closed"))
            return
        _core.spawn_system_task(self._serve_in_system_task, name=self.fn, context=self.context)

    async def _serve_in_system_task(self) -> None:
        try:
            result = await _call_async(self.fn, self.args)
        except BaseException as error:
            self.finish(None, error)
        else:
            self.finish(result, None)


@final
class _SyncRequest(_Request[T]):
    __slots__ = ()

    async def serve_in_host_task(self) -> None:
        self.serve_in_loop()

    def serve_in_loop(self) -> None:
        try:
            result = self.context.run(_call_sync, self.fn, self.args)
        except BaseException as error:
            self.finish(None, error)
        else:
            self.finish(result, None)


@disable_ki_protection
async def _call_async(fn: Callable[..., Awaitable[T]], args: tuple[object, ...]) -> T:
    if inspect.iscoroutine(fn):
        fn.close()  # avoids a "never awaited" warning
        raise TypeError(
            f"tether.from_thread.run expected an async function, got the coroutine object "
            f"{fn.__qualname__}(); pass the function and its arguments separately: "
            "from_thread.run(fn, arg1, arg2)"
        )
    awaitable = fn(*args)
    if not inspect.isawaitable(awaitable):
        raise TypeError(
            f"tether.from_thread.run expected an async function, but {fn!r} returned "
            f"{awaitable!r}, not a coroutine; use tether.from_thread.run_sync for a sync function"
        )
    return await awaitable


@disable_ki_protection
def _call_sync(fn: Callable[..., T], args: tuple[object, ...]) -> T:
    result = fn(*args)
    if inspect.iscoroutine(result):
        result.close()  # avoids a "never awaited" warning
        raise TypeError(_async_fn_message("tether.from_thread.run_sync", fn))
    return result


def _wake_host(job: _ThreadJob[Any], request: _Request[Any]) -> None:
    # In the loop.  The job was not abandonable, so its task still waits.
    task = job.task
    if task is None:  # the task stopped waiting (an error while serving a request)
        request.serve_in_loop()
        return
    task._runner.reschedule_value(task, request)


def _send_to_run(request: _Request[T], trio_token: TrioToken | None) -> T:
    job = _WORKER.job
    if trio_token is None:
        if job is None:
            raise RuntimeError(
                "this thread wasn't created by Trio, pass kwarg trio_token=...\n"
                "(tether.from_thread functions need a TrioToken: get one in the run with "
                "tether.lowlevel.current_trio_token() and pass trio_token=token)"
            )
        token = job.token
        assert token is not None  # dropped only after the job's function returned
    elif not isinstance(trio_token, TrioToken):
        raise RuntimeError(f"Passed kwarg trio_token is not of type TrioToken: {trio_token!r}")
    else:
        token = trio_token
    if RUN.runner is not None:
        raise RuntimeError(
            "this is a blocking function; call it from a thread "
            "(in the run's own thread, await the function directly)"
        )
    guest = RUN.guest
    if guest is not None and token is guest.trio_token:
        # The host's own code, between the guest's ticks: blocking here
        # would stop the host loop, and with it the guest, forever.
        raise RuntimeError(
            "tether.from_thread called from the host thread of the guest run it calls into: "
            "it would block the host's loop, and the guest with it, forever; call it from "
            "another thread, or schedule the work in the guest (for example "
            "token.run_sync_soon(nursery.start_soon, afn))"
        )
    if job is not None and trio_token is None and not job.abandon:
        token.run_sync_soon(_wake_host, job, request)
    else:
        token.run_sync_soon(request.serve_in_loop)
    return request.wait()


def from_thread_run(
    afn: Callable[[Unpack[Ts]], Awaitable[T]],
    *args: *Ts,
    trio_token: TrioToken | None = None,
) -> T:
    """From a thread, run ``await afn(*args)`` in the tether run and return its result.

    Blocks the calling thread until ``afn`` finishes.  Called from a
    ``to_thread.run_sync`` thread, ``afn`` runs in the task waiting for that
    thread (so it sees that task's cancel scopes); with ``trio_token=`` (or
    from an abandoned thread) it runs in a new system task.  It sees a copy
    of the calling thread's context variables.

    Args:
        afn: an async function.
        *args: its positional arguments.
        trio_token: the run to call into; needed outside threads started by
            ``to_thread.run_sync``.

    Returns:
        What ``afn(*args)`` returns.

    Raises:
        RunFinishedError: the run has finished (or is shutting down).
        RuntimeError: called from the run's own thread, or from a foreign
            thread without ``trio_token``.
        Cancelled: ``afn`` was cancelled (its task's scope was cancelled).
        Exception: whatever ``afn`` raises.
    """
    request: _AsyncRequest[T] = _AsyncRequest(afn, args)
    return _send_to_run(request, trio_token)


def from_thread_run_sync(
    fn: Callable[[Unpack[Ts]], T],
    *args: *Ts,
    trio_token: TrioToken | None = None,
) -> T:
    """From a thread, run ``fn(*args)`` in the tether run's thread and return its result.

    Like ``from_thread.run`` for a synchronous function: from a
    ``to_thread.run_sync`` thread it runs in the waiting task; otherwise in
    a callback of the loop (outside any task).

    Args:
        fn: a synchronous function.
        *args: its positional arguments.
        trio_token: the run to call into; needed outside threads started by
            ``to_thread.run_sync``.

    Returns:
        What ``fn(*args)`` returns.

    Raises:
        RunFinishedError: the run has finished.
        RuntimeError: called from the run's own thread, or from a foreign
            thread without ``trio_token``.
        TypeError: ``fn`` is an async function.
        Exception: whatever ``fn`` raises.
    """
    request: _SyncRequest[T] = _SyncRequest(fn, args)
    return _send_to_run(request, trio_token)


def from_thread_check_cancelled() -> None:
    """In a ``to_thread.run_sync`` thread, raise Cancelled if its task was cancelled.

    Lets a thread that cannot be abandoned (``abandon_on_cancel=False``)
    stop early, and an abandoned one learn that it was.  The cancellation
    is seen once tether has tried to cancel the waiting task, which happens
    promptly while it waits.

    Raises:
        Cancelled: the waiting task's cancellation was requested.
        RuntimeError: this thread was not started by ``to_thread.run_sync``.
    """
    job = _WORKER.job
    if job is None:
        raise RuntimeError("this thread wasn't created by Trio, can't check for cancellation")
    raise_cancel = job.raise_cancel
    if raise_cancel is not None:
        raise_cancel()
