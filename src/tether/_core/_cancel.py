"""Cancel scopes and the cancel-status tree.

A CancelScope is also the node of the cancellation tree (trio keeps a
separate CancelStatus object; a scope is entered at most once, so one object
serves and saves an allocation per ``with``).  Each task points at the
innermost scope it is in (``task._cancel_status``); each active scope knows
its parent, its child scopes and the tasks whose innermost scope it is.

Invariant: for an active scope, ``effectively_cancelled`` equals
``cancel_called or (not shield and parent.effectively_cancelled)``.  It is
recomputed only when ``cancel()``, a deadline or a shield change touches a
subtree, so a checkpoint's cancellation check is one attribute read.
"""

from __future__ import annotations

import enum
import math
from types import TracebackType
from typing import TYPE_CHECKING, Final, NoReturn, final

from ._debug_hooks import DEBUG_HOOKS
from ._exceptions import Cancelled, CancelReasonLiteral
from ._local import RUN, current_runner, no_run_error

if TYPE_CHECKING:
    from typing import Self

    from ._nursery import Nursery
    from ._task import Task


class _ScopeState(enum.Enum):
    UNBOUND = "unbound"
    ACTIVE = "active"
    EXITED = "exited"
    # Closed early by the repair after a corrupted cancel-scope stack; its
    # own __exit__, when it finally comes, is then a no-op.
    ABANDONED = "abandoned"


_UNBOUND: Final = _ScopeState.UNBOUND
_ACTIVE: Final = _ScopeState.ACTIVE
_EXITED: Final = _ScopeState.EXITED
_ABANDONED: Final = _ScopeState.ABANDONED
_inf = math.inf

STACK_CORRUPTED_HELP = """

This is probably a bug in your code that has corrupted tether's cancel-scope
stack.  tether repaired the stack as best it could.  Usual causes:
  - yielding inside a generator or async generator that opened a cancel scope
    or nursery (fine only in @contextmanager / @asynccontextmanager);
  - calling __enter__/__exit__ on a CancelScope, or __aenter__/__aexit__ on a
    nursery manager, by hand or through an ExitStack, in an order that 'with'
    blocks could not produce;
  - driving parts of one async function from different tasks."""


def _check_deadline(deadline: float) -> float:
    if math.isnan(deadline):
        raise ValueError("deadline must not be NaN")
    return float(deadline)


def _check_relative(relative: float) -> float:
    if math.isnan(relative):
        raise ValueError("relative deadline must not be NaN")
    if relative < 0:
        raise ValueError("timeout must be non-negative")
    return float(relative)


@final
class CancelScope:
    """A region of code that can be cancelled, explicitly or by a deadline.

    ``with CancelScope() as scope:`` — every checkpoint inside raises
    Cancelled once ``scope.cancel()`` is called or ``scope.deadline``
    passes, and the scope itself swallows that Cancelled on exit (then
    ``scope.cancelled_caught`` is True).  A ``shield=True`` scope hides
    cancellation of the scopes around it.  A scope can be entered once.

    Args:
        deadline: absolute time (``current_time()`` clock) to cancel at.
        relative_deadline: seconds after entering to cancel at; give at
            most one of ``deadline`` and ``relative_deadline``.
        shield: whether to hide outer cancellation from the code inside.
    """

    __slots__ = (
        "__weakref__",
        "_cancel_called",
        "_cancel_info",
        "_children",
        "_deadline",
        "_nursery",
        "_parent",
        "_relative_deadline",
        "_shield",
        "_state",
        "_task",
        "_timer",
        "cancelled_caught",
        "effectively_cancelled",
    )

    # Invariant: _timer is the live deadline-heap entry iff the scope is
    # active with a finite deadline and not yet cancelled.
    def __init__(
        self, *, relative_deadline: float = _inf, deadline: float = _inf, shield: bool = False
    ) -> None:
        if deadline != _inf or relative_deadline != _inf:
            if deadline != _inf and relative_deadline != _inf:
                raise ValueError("Cannot specify both a deadline and a relative deadline")
            deadline = _check_deadline(deadline)
            relative_deadline = _check_relative(relative_deadline)
        if shield is not False and shield is not True:
            raise TypeError(f"shield must be a bool, not {shield!r}")
        self._deadline = deadline
        self._relative_deadline = relative_deadline
        self._shield = shield
        self._cancel_called = False
        # (source, source_task, reason) once cancelled.
        self._cancel_info: tuple[CancelReasonLiteral, str | None, str | None] | None = None
        self.cancelled_caught = False
        self.effectively_cancelled = False
        self._state = _UNBOUND
        self._parent: CancelScope | None = None
        self._children: set[CancelScope] | None = None
        self._nursery: Nursery | None = None
        self._task: Task | None = None
        self._timer: list[object] | None = None

    # ---- entering and leaving -------------------------------------------
    # __enter__ and __exit__ are on the hot path of every timeout: plain
    # attribute work, no helper calls unless a deadline or an error is
    # involved.

    def __enter__(self) -> Self:
        runner = RUN.runner
        task = None if runner is None else runner.current
        if task is None:
            no_run_error()
        if self._state is not _UNBOUND:
            raise RuntimeError("Each CancelScope may only be used for a single 'with' block")
        parent = task._cancel_status
        self._state = _ACTIVE
        self._task = task
        self._parent = parent
        children = parent._children
        if children is None:
            parent._children = {self}
        else:
            children.add(self)
        if self._cancel_called or (not self._shield and parent.effectively_cancelled):
            self.effectively_cancelled = True
        task._cancel_status = self
        if self._deadline != _inf or self._relative_deadline != _inf:
            now = runner.clock.current_time()  # type: ignore[union-attr]
            if self._relative_deadline != _inf:
                self._deadline = now + self._relative_deadline
            if self._deadline <= now:
                self._cancel_with("deadline", None, None)
            elif not self._cancel_called:
                runner.add_scope_deadline(self)  # type: ignore[union-attr]
                if DEBUG_HOOKS.cancel_tracer is not None:
                    DEBUG_HOOKS.cancel_tracer.deadline_set(self)
        return self

    def _attach_moved(self, parent: CancelScope) -> None:
        # nursery.start(): the child's outermost scope moves to a new parent.
        self._parent = parent
        if parent._children is None:
            parent._children = {self}
        else:
            parent._children.add(self)
        self._recalculate()

    def _detach(self) -> None:
        # The scope leaves the tree; its task, if still in it, moves up.
        parent = self._parent
        assert parent is not None
        self._state = _EXITED
        if self._timer is not None:
            self._discard_timer()
        if parent._children is not None:
            parent._children.discard(self)
        task = self._task
        if task is not None and task._cancel_status is self:
            task._cancel_status = parent
        if self._children:
            # Only after stack corruption: adopt orphaned child scopes.
            for child in self._children:
                child._parent = parent
            if parent._children is None:
                parent._children = set()
            parent._children.update(self._children)
            self._children = None

    def _discard_timer(self) -> None:
        entry = self._timer
        assert entry is not None and self._task is not None
        entry[2] = None
        self._timer = None
        self._task._runner.count_stale_deadline()

    def __exit__(
        self,
        etype: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        task = self._task
        if self._state is not _ACTIVE:
            if self._state is _ABANDONED:
                self._state = _EXITED
                return False
            raise RuntimeError(f"{self!r} is not active, so it cannot be exited")
        assert task is not None
        if task._runner.current is not task or task._cancel_status is not self:
            self._exit_corrupted(task._runner.current, exc)
        parent = self._parent
        assert parent is not None
        # Invariant: a scope catches a Cancelled only if the cancellation
        # is its own: it is cancelled and its parent's cancellation (if
        # any) does not reach through it.
        caught = self.effectively_cancelled and (self._shield or not parent.effectively_cancelled)
        self._state = _EXITED
        if self._timer is not None:
            self._discard_timer()
        parent._children.discard(self)  # type: ignore[union-attr]
        task._cancel_status = parent
        if self._children:
            self._state = _ACTIVE
            self._detach()
        if exc is None or not caught:
            return False
        if isinstance(exc, Cancelled):
            self.cancelled_caught = True
            return True
        if isinstance(exc, BaseExceptionGroup):
            matched, rest = exc.split(Cancelled)
            if matched is None:
                return False
            self.cancelled_caught = True
            if rest is None:
                return True
            raise_preserving_context(collapse_if_nonstrict(rest))
        return False

    def _exit_corrupted(self, current: Task | None, exc: BaseException | None) -> None:
        # Reached from user code like:
        #     a = CancelScope(); b = CancelScope()
        #     a.__enter__(); b.__enter__(); a.__exit__(None, None, None)
        task = self._task
        assert task is not None
        if current is not task:
            self._detach()
            error = RuntimeError(
                f"Cancel scope stack corrupted: attempted to exit {self!r} from unrelated "
                f"{current!r}" + STACK_CORRUPTED_HELP
            )
        else:
            inner = task._cancel_status
            error = RuntimeError(
                f"Cancel scope stack corrupted: attempted to exit {self!r} in {task!r} "
                f"that's still within its child {inner!r}" + STACK_CORRUPTED_HELP
            )
            # Close every scope nested inside this one, innermost first.
            while inner is not self and inner._parent is not None:
                outer = inner._parent
                if inner._state is _ACTIVE:
                    # Cancel it first: tasks still inside it (a nested
                    # nursery's children) must not be left uncancellable.
                    inner._cancel_with("unknown", None, "cancel scope stack corrupted")
                    inner._detach()
                    inner._state = _ABANDONED
                inner = outer
            self._detach()
        error.__context__ = exc
        raise error

    # ---- cancellation ----------------------------------------------------

    def cancel(self, reason: str | None = None) -> None:
        """Cancel this scope now (idempotent; also before entering or after exiting).

        Args:
            reason: text recorded on the Cancelled exceptions this causes.
        """
        if self._cancel_called:
            return
        runner = RUN.runner
        task = runner.current_task_or_none() if runner is not None else None
        self._cancel_with("explicit", None if task is None else repr(task), reason)

    def _cancel_with(
        self, source: CancelReasonLiteral, source_task: str | None, reason: str | None
    ) -> None:
        if self._cancel_called:
            return
        self._cancel_called = True
        self._cancel_info = (source, source_task, reason)
        if DEBUG_HOOKS.cancel_tracer is not None:
            DEBUG_HOOKS.cancel_tracer.scope_cancelled(self)
        if self._timer is not None:
            self._discard_timer()
        if self._state is _ACTIVE:
            self._recalculate()

    def _expire(self) -> None:
        # Called by the run loop when this scope's deadline passes.
        self._timer = None
        self._cancel_with("deadline", None, None)

    def _recalculate(self) -> None:
        # Recompute effectively_cancelled for this subtree, parents first,
        # and try to abort the blocked tasks that just became cancelled.
        assert self._task is not None
        runner = self._task._runner
        stack: list[CancelScope] = [self]
        pop = stack.pop
        while stack:
            scope = pop()
            parent = scope._parent
            new = scope._cancel_called or (
                not scope._shield and parent is not None and parent.effectively_cancelled
            )
            if new == scope.effectively_cancelled:
                continue
            scope.effectively_cancelled = new
            if new:
                # The tasks whose innermost scope this is: the task that
                # entered it and, for a nursery's scope, its children.
                task = scope._task
                if task is not None and task._cancel_status is scope and task._abort_func is not None:
                    runner.try_abort(task)
                nursery = scope._nursery
                if nursery is not None:
                    for task in list(nursery._children):
                        if task._cancel_status is scope and task._abort_func is not None:
                            runner.try_abort(task)
            if scope._children:
                stack.extend(scope._children)

    def cancel_source(self) -> tuple[CancelReasonLiteral, str | None, str | None]:
        # Which scope caused the cancellation a task in this scope sees.
        scope: CancelScope | None = self
        while scope is not None:
            if scope._cancel_info is not None:
                return scope._cancel_info
            if scope._shield:
                break
            scope = scope._parent
        return "unknown", None, None

    # ---- properties ------------------------------------------------------

    @property
    def cancel_called(self) -> bool:
        """Whether ``cancel()`` was called or the deadline has passed."""
        if not self._cancel_called and self._deadline != _inf and self._state is not _EXITED:
            runner = RUN.runner
            if (
                runner is not None
                and (self._state is _ACTIVE or self._relative_deadline == _inf)
                and runner.clock.current_time() >= self._deadline
            ):
                self._cancel_with("deadline", None, None)
        return self._cancel_called

    @property
    def deadline(self) -> float:
        """Absolute time at which the scope cancels itself (``inf``: never)."""
        if self._state is _UNBOUND and self._relative_deadline != _inf:
            raise RuntimeError("Unentered relative cancel scope does not have an absolute deadline.")
        return self._deadline

    @deadline.setter
    def deadline(self, new_deadline: float) -> None:
        if self._state is _UNBOUND and self._relative_deadline != _inf:
            raise RuntimeError("Unentered relative cancel scope does not have an absolute deadline.")
        self._deadline = _check_deadline(new_deadline)
        if self._state is _ACTIVE and not self._cancel_called:
            assert self._task is not None
            if self._timer is not None:
                self._discard_timer()
            if self._deadline != _inf:
                runner = self._task._runner
                runner.add_scope_deadline(self)
                # A guest run's host code may move the deadline while the
                # loop sleeps in its worker thread: wake it (if asleep) to
                # recompute its timeout.
                runner.entry_queue.wake_loop()
                if DEBUG_HOOKS.cancel_tracer is not None:
                    DEBUG_HOOKS.cancel_tracer.deadline_set(self)

    @property
    def relative_deadline(self) -> float:
        """Seconds from now until the deadline; before entering, the relative timeout."""
        if self._state is not _UNBOUND:
            return self._deadline - current_runner().clock.current_time()
        if self._deadline != _inf:
            raise RuntimeError(
                "Unentered non-relative cancel scope does not have a relative deadline"
            )
        return self._relative_deadline

    @relative_deadline.setter
    def relative_deadline(self, new_relative_deadline: float) -> None:
        relative = _check_relative(new_relative_deadline)
        if self._state is not _UNBOUND:
            self.deadline = current_runner().clock.current_time() + relative
        elif self._deadline != _inf:
            raise RuntimeError(
                "Unentered non-relative cancel scope does not have a relative deadline"
            )
        else:
            self._relative_deadline = relative

    @property
    def is_relative(self) -> bool | None:
        """True if the deadline is relative (computed on entry); None once entered."""
        if self._state is not _UNBOUND:
            return None
        return self._relative_deadline != _inf

    @property
    def shield(self) -> bool:
        """Whether cancellation of the surrounding scopes is hidden inside this one."""
        return self._shield

    @shield.setter
    def shield(self, new_value: bool) -> None:
        if not isinstance(new_value, bool):
            raise TypeError(f"shield must be a bool, not {new_value!r}")
        self._shield = new_value
        if self._state is _ACTIVE:
            self._recalculate()

    def __repr__(self) -> str:
        state = "exited" if self._state is _ABANDONED else self._state.value
        parts = [f"<tether.CancelScope at {id(self):#x}, {state}"]
        if self._cancel_called:
            parts.append("cancelled")
        elif self._deadline != _inf:
            runner = RUN.runner
            if runner is not None:
                remaining = self._deadline - runner.clock.current_time()
                parts.append(
                    f"deadline is {remaining:.2f} seconds "
                    + ("from now" if remaining >= 0 else "ago")
                )
        return ", ".join(parts) + ">"


NONSTRICT_GROUP_NOTE = (
    "This group comes from a nursery with strict_exception_groups=False: tether "
    "unwraps it whenever it holds a single exception (for example once the "
    "Cancelled exceptions in it have been caught). strict_exception_groups=True "
    "is recommended."
)


def collapse_if_nonstrict(exc: BaseException) -> BaseException:
    # A non-strict nursery's group that lost its Cancelled members down to
    # one exception is replaced by that exception (recursively).
    while (
        isinstance(exc, BaseExceptionGroup)
        and len(exc.exceptions) == 1
        and NONSTRICT_GROUP_NOTE in getattr(exc, "__notes__", ())
    ):
        exc = exc.exceptions[0]
    return exc


def raise_preserving_context(exc: BaseException) -> NoReturn:
    # Raising an existing exception inside an ``except`` block (or an
    # ``__exit__``) would replace its __context__; keep the one it had.
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context
