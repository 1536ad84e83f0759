"""Stream helpers that work on any stream: StapledStream and aclose_forcefully.

StapledStream joins a SendStream and a ReceiveStream into one two-way
Stream; every call is a plain delegation, so it adds one coroutine frame and
nothing else.  aclose_forcefully closes a resource inside an already
cancelled scope, which is how a resource is asked to skip any graceful
shutdown (a TLS close_notify, a flush) and just let go.
"""

from __future__ import annotations

from typing import Generic, TypeVar, final

from ._abc import AsyncResource, HalfCloseableStream, ReceiveStream, SendStream
from ._core import CancelScope

SendStreamT = TypeVar("SendStreamT", bound=SendStream)
ReceiveStreamT = TypeVar("ReceiveStreamT", bound=ReceiveStream)


async def aclose_forcefully(resource: AsyncResource) -> None:
    """Close ``resource`` at once, without any graceful shutdown.

    Calls ``resource.aclose()`` inside a cancel scope that is already
    cancelled: a well-behaved resource then releases itself without
    waiting (for example an SSLStream closes its transport without sending
    close_notify).  Use it when the peer is misbehaving or you are handling
    an error.  A checkpoint, and the resource is closed on return.

    Args:
        resource: the resource to close.
    """
    with CancelScope() as scope:
        scope.cancel()
        await resource.aclose()


@final
class StapledStream(HalfCloseableStream, Generic[SendStreamT, ReceiveStreamT]):
    """A two-way stream made of a send stream and a receive stream.

    Sending goes to ``send_stream``, receiving comes from
    ``receive_stream``; ``send_eof`` closes the send stream (or calls its
    own ``send_eof`` if it is half-closeable); ``aclose`` closes both.
    ``testing.memory_stream_pair`` is built this way, and so is a stream
    over a process's stdin and stdout.

    Args:
        send_stream: where ``send_all`` and ``wait_send_all_might_not_block`` go.
        receive_stream: where ``receive_some`` goes.

    Attributes:
        send_stream: the underlying send stream; may be replaced at any time.
        receive_stream: the underlying receive stream; may be replaced at any time.
    """

    __slots__ = ("receive_stream", "send_stream")

    def __init__(self, send_stream: SendStreamT, receive_stream: ReceiveStreamT) -> None:
        self.send_stream = send_stream
        self.receive_stream = receive_stream

    def __repr__(self) -> str:
        return f"StapledStream(send_stream={self.send_stream!r}, receive_stream={self.receive_stream!r})"

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Call ``send_stream.send_all(data)``; checkpoints as that does."""
        return await self.send_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """Call ``send_stream.wait_send_all_might_not_block()``; checkpoints as that does."""
        return await self.send_stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        """Close the sending direction; checkpoints as the send stream's call does.

        Calls ``send_stream.send_eof()`` if the send stream has that method
        (duck typing, as in trio), otherwise ``send_stream.aclose()``.
        """
        stream = self.send_stream
        send_eof = getattr(stream, "send_eof", None)
        if send_eof is not None:
            return await send_eof()  # type: ignore[no-any-return]
        return await stream.aclose()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Call ``receive_stream.receive_some(max_bytes)``; checkpoints as that does."""
        return await self.receive_stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        """Close the send stream, then the receive stream (even if the first close fails).

        A checkpoint (the underlying ``aclose`` calls are).
        """
        try:
            await self.send_stream.aclose()
        finally:
            await self.receive_stream.aclose()
