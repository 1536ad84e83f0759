"""Abstract base classes (``trio.abc``)."""

from ._abc import AsyncResource as AsyncResource
from ._abc import Channel as Channel
from ._abc import ReceiveChannel as ReceiveChannel
from ._abc import SendChannel as SendChannel
from ._core import Clock as Clock
from ._core import Instrument as Instrument
