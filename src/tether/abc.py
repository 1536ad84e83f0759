"""Abstract base classes (``trio.abc``)."""

from ._core import Clock as Clock
from ._core import Instrument as Instrument
