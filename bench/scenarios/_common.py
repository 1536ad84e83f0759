"""What every scenario returns, shared by the trio-API code and the asyncio twins."""

from __future__ import annotations

from typing import NamedTuple


class Sample(NamedTuple):
    """One measurement.

    ``value`` is already in the scenario's unit (ops/s, B/task, ...);
    ``seconds`` is the length of the timed interval, kept so that the sizing of
    a scenario (target: 0.2-0.5 s per measurement) can be checked.
    """

    value: float
    seconds: float


def rate(count: float, seconds: float) -> Sample:
    """A throughput sample: ``count`` operations done in ``seconds``."""
    return Sample(count / seconds, seconds)
