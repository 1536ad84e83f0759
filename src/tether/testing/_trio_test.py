"""``trio_test``: turn an async test function into a plain one that runs it in ``tether.run``."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from .._core import Clock, Instrument, run

ArgsT = ParamSpec("ArgsT")
RetT = TypeVar("RetT")


def trio_test(fn: Callable[ArgsT, Awaitable[RetT]]) -> Callable[ArgsT, RetT]:
    """Decorate an async test function so that calling it runs it in a new ``tether.run``.

    The keyword arguments are searched for a clock and for instruments (as
    pytest passes fixtures): a :class:`~tether.abc.Clock` is given to ``run`` as
    its ``clock``, every :class:`~tether.abc.Instrument` joins its
    ``instruments``; they are passed on to the test function too::

        @trio_test
        async def test_timeout(autojump_clock):
            with tether.move_on_after(10):
                await tether.sleep_forever()

    Args:
        fn: The async test function.

    Returns:
        A synchronous function with the same signature that returns what
        ``fn`` returns.

    Raises:
        ValueError: (when the returned function is called) the keyword
            arguments hold more than one clock.
    """

    @functools.wraps(fn)
    def wrapper(*args: ArgsT.args, **kwargs: ArgsT.kwargs) -> RetT:
        __tracebackhide__ = True
        clocks = [value for value in kwargs.values() if isinstance(value, Clock)]
        if len(clocks) > 1:
            raise ValueError("too many clocks spoil the broth!")
        instruments = [value for value in kwargs.values() if isinstance(value, Instrument)]
        clock = clocks[0] if clocks else None
        return run(functools.partial(fn, *args, **kwargs), clock=clock, instruments=instruments)

    return wrapper
