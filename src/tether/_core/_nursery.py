"""Nurseries: the only way to run tasks concurrently, and the guarantee behind it.

A nursery owns its children.  ``__aexit__`` waits for every child; the first
error cancels the nursery's scope (so siblings and the body stop), and all
errors leave together in one ExceptionGroup.  ``start()`` runs a child in a
private nursery of the caller until it calls ``task_status.started()``, then
moves it here, cancel scopes and all.

Invariant: a nursery is closed (no new children) once its ``__aexit__`` has
seen the last child exit; until then children may spawn siblings.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar, final

from ._cancel import NONSTRICT_GROUP_NOTE, CancelScope, raise_preserving_context
from ._exceptions import Cancelled, TrioDeprecationWarning
from ._local import current_runner
from ._traps import Abort, RaiseCancelT, wait_task_rescheduled

if TYPE_CHECKING:
    from ._run import Runner
    from ._task import Task

StatusT = TypeVar("StatusT")
StatusT_contra = TypeVar("StatusT_contra", contravariant=True)


class TaskStatus(Protocol[StatusT_contra]):
    """What ``nursery.start()`` passes as ``task_status``: call ``started()`` once ready."""

    def started(self, value: StatusT_contra | None = None) -> None:
        """Tell ``start()`` the task is ready; ``value`` becomes ``start()``'s result."""


@final
class _TaskStatusIgnored:
    """The default ``task_status``: ``started()`` does nothing."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TASK_STATUS_IGNORED"

    def started(self, value: object = None) -> None:
        pass


TASK_STATUS_IGNORED: Final[TaskStatus[Any]] = _TaskStatusIgnored()

_NOT_STARTED: Final = object()


@final
class _TaskStatus(Generic[StatusT]):
    __slots__ = ("_new_nursery", "_old_nursery", "_task", "_value")

    def __init__(self, old_nursery: Nursery, new_nursery: Nursery) -> None:
        self._old_nursery = old_nursery
        self._new_nursery = new_nursery
        self._task: Task | None = None
        self._value: object = _NOT_STARTED

    def __repr__(self) -> str:
        return f"<TaskStatus for {self._task!r}>"

    def started(self, value: StatusT | None = None) -> None:
        if self._value is not _NOT_STARTED:
            raise RuntimeError("called 'started' twice on the same task status")
        self._value = value
        old, new, task = self._old_nursery, self._new_nursery, self._task
        assert task is not None
        # If start()'s caller was cancelled, leave the task where it is: it
        # must not escape into a nursery that is not being cancelled.
        if old.cancel_scope.effectively_cancelled:
            return
        if new._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        # Find the task's outermost own scope (or the task itself) and hang
        # it under the new nursery's scope.
        status = task._cancel_status
        if status is old.cancel_scope:
            task._cancel_status = new.cancel_scope
            if new.cancel_scope.effectively_cancelled and task._abort_func is not None:
                task._runner.try_abort(task)
        else:
            while status._parent is not old.cancel_scope:
                status = status._parent  # type: ignore[assignment]
            old.cancel_scope._children.discard(status)  # type: ignore[union-attr]
            status._parent = None
            status._attach_moved(new.cancel_scope)
        del old._children[task]
        new._children[task] = None
        task._parent_nursery = new
        task._eventual_parent_nursery = None
        old._maybe_wake_parent()


@final
class Nursery:
    """Runs child tasks; created by ``async with tether.open_nursery() as nursery``.

    Attributes:
        cancel_scope: the scope around the nursery's body and children;
            ``nursery.cancel_scope.cancel()`` cancels them all.
    """

    # "__dict__": as on trio, a nursery takes attributes of its own; a
    # library may wrap its methods on the instance (tricycle's service
    # nursery sets nursery.start_soon and nursery.start).
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_children",
        "_closed",
        "_holds_cancelled",
        "_parent_task",
        "_parent_waiting_in_aexit",
        "_pending_excs",
        "_pending_starts",
        "_runner",
        "_strict",
        "cancel_scope",
    )

    cancel_scope: CancelScope
    _runner: Runner
    _parent_task: Task
    _strict: bool
    # A dict used as an ordered set: a third of a set's memory per child.
    _children: dict[Task, None]
    _pending_excs: list[BaseException]
    _closed: bool
    _parent_waiting_in_aexit: bool
    _pending_starts: int
    _holds_cancelled: bool

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "tether.Nursery has no public constructor; use "
            "'async with tether.open_nursery() as nursery:'"
        )

    @classmethod
    def _create(
        cls, runner: Runner, parent_task: Task, cancel_scope: CancelScope, strict: bool
    ) -> Nursery:
        self = cls.__new__(cls)
        self._runner = runner
        self._parent_task = parent_task
        self.cancel_scope = cancel_scope
        cancel_scope._nursery = self
        self._strict = strict
        self._children = {}
        self._pending_excs = []
        self._closed = False
        self._parent_waiting_in_aexit = False
        self._pending_starts = 0
        self._holds_cancelled = False
        return self

    @property
    def child_tasks(self) -> frozenset[Task]:
        """The nursery's children that are still running."""
        return frozenset(self._children)

    @property
    def parent_task(self) -> Task:
        """The task that opened this nursery."""
        return self._parent_task

    def start_soon(
        self, async_fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> None:
        """Start ``async_fn(*args)`` as a child task, and return at once.

        Not a checkpoint.  The child starts running at a later schedule point.

        Args:
            name: the task's name (default: the function's qualified name).

        Raises:
            RuntimeError: the nursery is closed.
            TypeError: ``async_fn`` is not an async function.
        """
        if self._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        self._runner.spawn(async_fn, args, self, name)

    async def start(
        self, async_fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> Any:
        """Start ``async_fn(*args, task_status=...)`` and wait until it calls ``task_status.started()``.

        The child first runs inside the caller (cancelling the caller cancels
        it, its errors come out of ``start()``); once started, it moves into
        this nursery and ``start()`` returns the value passed to ``started()``.

        Raises:
            RuntimeError: the nursery is closed, or the child returned
                without calling ``task_status.started()``.
        """
        if self._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        self._pending_starts += 1
        try:
            async with NurseryManager(strict_exception_groups=False) as old_nursery:
                task_status: _TaskStatus[Any] = _TaskStatus(old_nursery, self)
                thunk = functools.partial(async_fn, task_status=task_status)
                task = self._runner.spawn(thunk, args, old_nursery, async_fn if name is None else name)
                task._eventual_parent_nursery = self
                task_status._task = task
            if task_status._value is _NOT_STARTED:
                raise RuntimeError("child exited without calling task_status.started()")
            return task_status._value
        finally:
            self._pending_starts -= 1
            self._maybe_wake_parent()

    # ---- called by the runner and the manager -----------------------------

    def _child_finished(self, task: Task, error: BaseException | None) -> None:
        self._children.pop(task, None)
        # A Cancelled escaping a child always comes from this nursery's scope
        # or one around it, so one of them stands for all: keeping thousands
        # alive (with their tracebacks and frames) until the nursery exits
        # makes cancelling many tasks GC-bound.
        if error is not None and (type(error) is not Cancelled or not self._holds_cancelled):
            self._holds_cancelled |= type(error) is Cancelled
            self._add_exc(error, task)
        self._maybe_wake_parent()

    def _maybe_wake_parent(self) -> None:
        if self._parent_waiting_in_aexit and not self._children and not self._pending_starts:
            self._parent_waiting_in_aexit = False
            self._runner.reschedule_value(self._parent_task, None)

    def _add_exc(self, error: BaseException, task: Task | None) -> None:
        self._pending_excs.append(error)
        if self.cancel_scope._cancel_called:
            return  # already cancelled: skip building a reason nobody will see
        if task is None:
            reason = f"Code block inside nursery contextmanager raised exception {error!r}"
        else:
            reason = f"child task raised exception {error!r}"
        self.cancel_scope._cancel_with("nursery", None if task is None else repr(task), reason)

    def _aexit_abort(self, raise_cancel: RaiseCancelT) -> Abort:
        # The parent got cancelled while waiting for the children, which the
        # same scope cancels too: keep waiting, and drop the parent's
        # Cancelled. If every child swallows its Cancelled the block exits
        # cleanly and the parent's next checkpoint raises, as on trio:
        #     with move_on_after(1):
        #         async with open_nursery() as nursery:
        #             nursery.start_soon(catches_cancelled)
        #         print("still runs")
        # A KeyboardInterrupt handed over here is recorded and cancels the
        # children.
        try:
            raise_cancel()
        except Cancelled:
            pass
        except BaseException as interrupt:
            self._pending_excs.append(interrupt)
            self.cancel_scope._cancel_with("KeyboardInterrupt", repr(self._parent_task), None)
        return Abort.FAILED

    async def _wait_for_children(self, body_error: BaseException | None) -> BaseException | None:
        if body_error is not None:
            self._add_exc(body_error, None)
        if self._children or self._pending_starts:
            self._parent_waiting_in_aexit = True
            await wait_task_rescheduled(self._aexit_abort)
        self._closed = True
        errors = self._pending_excs
        if not errors:
            return None
        self._pending_excs = []
        if not self._strict and len(errors) == 1:
            return errors[0]
        group = BaseExceptionGroup("Exceptions from Trio nursery", errors)
        if not self._strict:
            group.add_note(NONSTRICT_GROUP_NOTE)
        return group


@final
class NurseryManager:
    """What ``open_nursery()`` returns: ``async with`` it to get a Nursery."""

    __slots__ = ("_nursery", "_scope", "_strict")

    def __init__(self, strict_exception_groups: bool | None) -> None:
        self._strict = strict_exception_groups
        self._nursery: Nursery | None = None
        self._scope: CancelScope | None = None

    async def __aenter__(self) -> Nursery:
        runner = current_runner()
        task = runner.current_task()
        if self._scope is not None:
            raise RuntimeError("this open_nursery() manager was already used; call open_nursery() again")
        strict = runner.strict_exception_groups if self._strict is None else self._strict
        scope = self._scope = CancelScope()
        scope.__enter__()
        nursery = self._nursery = Nursery._create(runner, task, scope, strict)
        if task._child_nurseries is None:
            task._child_nurseries = [nursery]
        else:
            task._child_nurseries.append(nursery)
        return nursery

    async def __aexit__(
        self,
        etype: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        nursery = self._nursery
        scope = self._scope
        assert nursery is not None and scope is not None
        combined = await nursery._wait_for_children(exc)
        children_of_parent = nursery._parent_task._child_nurseries
        assert children_of_parent is not None
        if children_of_parent[-1] is nursery:
            children_of_parent.pop()
        else:
            try:
                children_of_parent.remove(nursery)
            except ValueError:
                pass
        # The scope and the nursery point at each other; cut the cycle.
        scope._nursery = None
        if combined is None:
            scope.__exit__(None, None, None)
            return False
        try:
            if scope.__exit__(type(combined), combined, combined.__traceback__):
                return True
            if combined is exc:
                return False
            raise_preserving_context(combined)
        finally:
            # This frame ends up in the traceback of what it raises.
            del combined, exc


def open_nursery(strict_exception_groups: bool | None = None) -> NurseryManager:
    """Return an async context manager that opens a nursery.

    ``async with tether.open_nursery() as nursery:`` — the block does not
    exit until every task started in the nursery has finished.

    Args:
        strict_exception_groups: wrap even a single child error in an
            ExceptionGroup (default: the ``run()`` setting, itself True).
    """
    if strict_exception_groups is not None and not strict_exception_groups:
        warn_nonstrict("open_nursery(strict_exception_groups=False)")
    return NurseryManager(strict_exception_groups)


def warn_nonstrict(what: str) -> None:
    warnings.warn(
        TrioDeprecationWarning(
            f"{what} is deprecated (as in trio since 0.25.0): keep the default True and "
            "handle errors with 'except*', which works for single errors and groups alike"
        ),
        stacklevel=3,
    )
