"""Abstract base classes for resources and channels (``tether.abc``).

Only what channels need lives here for now; streams and listeners add to it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Generic, Self, TypeVar

from ._core import EndOfChannel

SendType = TypeVar("SendType", contravariant=True)
ReceiveType = TypeVar("ReceiveType", covariant=True)
T = TypeVar("T")


class AsyncResource(ABC):
    """Something that must be closed: ``await resource.aclose()``, or ``async with``.

    ``async with resource:`` returns the resource and closes it on the way out.
    """

    __slots__ = ()

    @abstractmethod
    async def aclose(self) -> None:
        """Close the resource. Always a checkpoint, and idempotent.

        Whatever happens, the resource is closed when this returns or raises
        (even if it is cancelled); closing may be graceful or forceful.
        """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class SendChannel(AsyncResource, Generic[SendType]):
    """The sending end of a channel of Python objects."""

    __slots__ = ()

    @abstractmethod
    async def send(self, value: SendType) -> None:
        """Send ``value``, waiting while the channel cannot take it. A checkpoint.

        Raises:
            BrokenResourceError: nobody can receive any more.
            ClosedResourceError: this end was closed.
            BusyResourceError: the channel does not allow concurrent sends.
        """


class ReceiveChannel(AsyncResource, Generic[ReceiveType]):
    """The receiving end of a channel of Python objects.

    ``async for value in channel`` receives until the channel ends.
    """

    __slots__ = ()

    @abstractmethod
    async def receive(self) -> ReceiveType:
        """Receive the next value, waiting for one if necessary. A checkpoint.

        Raises:
            EndOfChannel: every sender closed and nothing is left.
            ClosedResourceError: this end was closed.
            BrokenResourceError: the channel broke.
            BusyResourceError: the channel does not allow concurrent receives.
        """

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ReceiveType:
        try:
            return await self.receive()
        except EndOfChannel:
            raise StopAsyncIteration from None


class Channel(SendChannel[T], ReceiveChannel[T]):
    """A two-way channel: both ends in one object."""

    __slots__ = ()
