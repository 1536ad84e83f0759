"""Abstract base classes for resources, channels, streams and listeners (``tether.abc``)."""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

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


class SendStream(AsyncResource):
    """A stream of bytes you can send on (the sending half of a connection)."""

    __slots__ = ()

    @abstractmethod
    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send all of ``data``, waiting as needed. A checkpoint.

        If cancelled, some of the data may have been sent and the stream is
        then in an unknown state: close it.

        Raises:
            BusyResourceError: another task is already sending on this stream.
            BrokenResourceError: the stream is broken (peer gone, ...).
            ClosedResourceError: this stream was closed.
        """

    @abstractmethod
    async def wait_send_all_might_not_block(self) -> None:
        """Block until a ``send_all`` call would probably not block. A checkpoint.

        Raises:
            BusyResourceError: another task is already sending or waiting here.
            BrokenResourceError: the stream is broken.
            ClosedResourceError: this stream was closed.
        """


class ReceiveStream(AsyncResource):
    """A stream of bytes you can receive from.

    ``async for chunk in stream`` receives until end of file.
    """

    __slots__ = ()

    @abstractmethod
    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Receive some bytes (at most ``max_bytes``); ``b""`` at end of file. A checkpoint.

        Raises:
            BusyResourceError: another task is already receiving from this stream.
            BrokenResourceError: the stream is broken.
            ClosedResourceError: this stream was closed.
        """

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes | bytearray:
        data = await self.receive_some()
        if not data:
            raise StopAsyncIteration
        return data


class Stream(SendStream, ReceiveStream):
    """A two-way stream of bytes (a connection)."""

    __slots__ = ()


class HalfCloseableStream(Stream):
    """A two-way stream whose sending side can be closed on its own (``send_eof``)."""

    __slots__ = ()

    @abstractmethod
    async def send_eof(self) -> None:
        """Close the sending side: the peer then receives end of file. A checkpoint.

        Receiving still works.  Idempotent.

        Raises:
            BusyResourceError: another task is sending on this stream.
            BrokenResourceError: the stream is broken.
            ClosedResourceError: this stream was closed.
        """


T_resource = TypeVar("T_resource", bound=AsyncResource, covariant=True)


class Listener(AsyncResource, Generic[T_resource]):
    """Accepts incoming connections."""

    __slots__ = ()

    @abstractmethod
    async def accept(self) -> T_resource:
        """Wait for the next incoming connection and return it. A checkpoint.

        Raises:
            BusyResourceError: another task is already accepting.
            ClosedResourceError: this listener was closed.
        """


class HostnameResolver(ABC):
    """A custom name resolver, installed with ``tether.socket.set_custom_hostname_resolver``."""

    __slots__ = ()

    @abstractmethod
    async def getaddrinfo(
        self,
        host: bytes | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, Any, int, str, Any]]:
        """Resolve like ``socket.getaddrinfo``; ``host`` arrives IDNA-encoded as bytes."""

    @abstractmethod
    async def getnameinfo(
        self, sockaddr: tuple[str, int] | tuple[str, int, int, int], flags: int
    ) -> tuple[str, str]:
        """Reverse-resolve like ``socket.getnameinfo``."""


class SocketFactory(ABC):
    """Makes sockets for tether; installed with ``tether.socket.set_custom_socket_factory``."""

    __slots__ = ()

    @abstractmethod
    def socket(
        self,
        family: socket.AddressFamily | int = socket.AF_INET,
        type: socket.SocketKind | int = socket.SOCK_STREAM,
        proto: int = 0,
    ) -> Any:
        """Return a new ``tether.socket.SocketType``."""
