"""Exception classes of the runtime.

Every exception a user can meet from tether's core lives here, so that the
rest of the library (and users) import them from one place.  Names and base
classes match trio 0.35, because code catches them by name.
"""

from __future__ import annotations

from typing import Literal, final

CancelReasonLiteral = Literal[
    "KeyboardInterrupt", "deadline", "explicit", "nursery", "shutdown", "unknown"
]


class TrioInternalError(Exception):
    """Raised by ``run()`` when tether itself has a bug or a system task failed.

    If you see this, the run's state may be corrupt: all tasks were cancelled
    before it was raised.  Please report it.
    """


class RunFinishedError(RuntimeError):
    """Raised when a run-bound operation is attempted after the run has ended."""


class WouldBlock(Exception):
    """Raised by ``*_nowait`` functions when the operation would have to block."""


class EndOfChannel(Exception):
    """Raised by ``receive()`` once every sender has closed and the buffer is empty."""


class ClosedResourceError(Exception):
    """Raised when using a resource that was closed (by you, in this task or another)."""


class BusyResourceError(Exception):
    """Raised when two tasks try to use a resource that allows only one user at a time."""


class BrokenResourceError(Exception):
    """Raised when a resource is unusable through no fault of the caller (peer gone, ...)."""


class TrioDeprecationWarning(FutureWarning):
    """Warns about a deprecated tether (trio) API."""


@final
class Cancelled(BaseException):
    """Raised at a checkpoint inside a cancelled :class:`CancelScope`.

    Do not catch it without re-raising: the cancel scope that caused it
    catches it for you.  It cannot be created by user code.

    Attributes:
        source: why the scope was cancelled: ``"deadline"``, ``"explicit"``,
            ``"nursery"`` (a sibling task raised), ``"KeyboardInterrupt"``,
            ``"shutdown"`` or ``"unknown"``.
        source_task: ``repr()`` of the task that called ``cancel()``, if any.
        reason: the text passed to ``cancel(reason=...)``, if any.
    """

    source: CancelReasonLiteral
    source_task: str | None
    reason: str | None

    def __init__(
        self,
        *,
        source: CancelReasonLiteral = "unknown",
        source_task: str | None = None,
        reason: str | None = None,
    ) -> None:
        raise TypeError(
            "tether.Cancelled has no public constructor: cancel a CancelScope "
            "(scope.cancel()) to cancel code"
        )

    @classmethod
    def _create(
        cls,
        source: CancelReasonLiteral = "unknown",
        source_task: str | None = None,
        reason: str | None = None,
    ) -> Cancelled:
        self = cls.__new__(cls)
        self.source = source
        self.source_task = source_task
        self.reason = reason
        return self

    def __str__(self) -> str:
        text = f"cancelled due to {self.source}"
        if self.reason is not None:
            text += f" with reason {self.reason!r}"
        if self.source_task is not None:
            text += f" from task {self.source_task}"
        return text

    def __repr__(self) -> str:
        return (
            f"Cancelled(source={self.source!r}, source_task={self.source_task!r}, "
            f"reason={self.reason!r})"
        )

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Cancelled._create, (self.source, self.source_task, self.reason))
