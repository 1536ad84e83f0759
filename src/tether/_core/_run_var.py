"""RunVar: a variable with one value per run (like a ContextVar scoped to ``run()``)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final

from ._local import RUN

T = TypeVar("T")


def _run_vars() -> dict[Any, Any]:
    runner = RUN.runner
    if runner is None:
        raise RuntimeError("Cannot be used outside of a run context")
    return runner.run_vars


class _NoValue:
    """Marker for "no value given"."""


@final
class RunVarToken(Generic[T]):
    """Returned by ``RunVar.set``; pass it to ``RunVar.reset`` to undo that set."""

    __slots__ = ("_var", "previous_value", "redeemed")

    def __init__(self, var: RunVar[T], previous_value: T | type[_NoValue] = _NoValue) -> None:
        self._var = var
        self.previous_value = previous_value
        self.redeemed = False


@final
class RunVar(Generic[T]):
    """A value local to the current run: each ``tether.run()`` starts with the default.

    Unlike a ContextVar, every task of the run sees the same value.
    """

    __slots__ = ("_default", "_name")

    def __init__(self, name: str, default: T | type[_NoValue] = _NoValue) -> None:
        self._name = name
        self._default = default

    def get(self, default: T | type[_NoValue] = _NoValue) -> T:
        """Return the value in the current run, else ``default``, else the RunVar's default.

        Raises:
            LookupError: no value, and no default.
            RuntimeError: called outside a run.
        """
        values = _run_vars()
        if self in values:
            return values[self]  # type: ignore[no-any-return]
        if default is not _NoValue:
            return default  # type: ignore[return-value]
        if self._default is not _NoValue:
            return self._default  # type: ignore[return-value]
        raise LookupError(self) from None

    def set(self, value: T) -> RunVarToken[T]:
        """Set the value for the current run; returns a token for ``reset``."""
        values = _run_vars()
        token = RunVarToken(self, values.get(self, _NoValue))
        values[self] = value
        return token

    def reset(self, token: RunVarToken[T]) -> None:
        """Restore the value from before the ``set`` that returned ``token``.

        Raises:
            ValueError: ``token`` belongs to another RunVar or was already used.
        """
        if token is None:
            raise TypeError("token must not be None")
        if token.redeemed:
            raise ValueError("token has already been used")
        if token._var is not self:
            raise ValueError("token is not for this RunVar")
        values = _run_vars()
        if token.previous_value is _NoValue:
            values.pop(self, None)
        else:
            values[self] = token.previous_value
        token.redeemed = True

    def __repr__(self) -> str:
        return f"<RunVar name={self._name!r}>"
