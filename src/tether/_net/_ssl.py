"""TLS over any Stream: SSLStream, SSLListener and NeedHandshakeError.

An SSLStream drives an ``ssl.SSLObject`` through two ``MemoryBIO``s: the
SSLObject reads ciphertext from ``_incoming`` and writes ciphertext to
``_outgoing``; the stream moves ciphertext between those buffers and the
transport stream.  Every operation (handshake, read, write, close_notify)
runs in ``_drive``: call the SSLObject method, send what it queued, or
receive more if it wants to read, and repeat until it is done.

A send and a receive may run at the same time, in two tasks, and each may
need the transport in *both* directions (a receive answers a key update or
a post-handshake authentication request; a send during a TLS 1.2
renegotiation must read).  Two gates keep that safe:

* the send gate: one task at a time sends on the transport.  The holder
  sends whatever ``_outgoing`` holds, so ciphertext leaves in the order the
  SSLObject queued it, whoever queued it; it keeps sending while more is
  queued and nobody waits for the gate, so a receive that must answer the
  peer can leave its answer to the holder instead of waiting.
* the receive gate: one task at a time receives from the transport.  A
  task that waited for it first retries its SSLObject call if another task
  fed ``_incoming`` meanwhile (``_transport_reads`` changed): the data it
  wanted may have arrived, and reading again could block forever.

Invariant: only the holder of the send gate reads ``_outgoing``, and only
the holder of the receive gate writes ``_incoming``.

Hot path (send_all / receive_some after the handshake): one SSLObject call,
one transport call, no allocation besides the data itself; the gates cost a
flag test when uncontended.
"""

from __future__ import annotations

import enum
import operator
import ssl as _stdlib_ssl
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar, final

from .._abc import Listener, Stream
from .._core import (
    BrokenResourceError,
    BusyResourceError,
    ClosedResourceError,
    ParkingLot,
    cancel_shielded_checkpoint,
    checkpoint,
    park_current_task,
    task_unless_cancelled,
)
from .._streams import aclose_forcefully

T_Stream = TypeVar("T_Stream", bound=Stream)

# How much ciphertext to ask the transport for at a time: several full TLS
# records (16 KiB of plaintext plus overhead each).
_TRANSPORT_RECEIVE_SIZE: Final = 65536
# receive_some() without max_bytes returns at most this much plaintext.
_DEFAULT_MAX_BYTES: Final = 65536

_SSLWantReadError: Final = _stdlib_ssl.SSLWantReadError
_SSLZeroReturnError: Final = _stdlib_ssl.SSLZeroReturnError
_SSL_FAILURES: Final = (_stdlib_ssl.SSLError, _stdlib_ssl.CertificateError)


class NeedHandshakeError(Exception):
    """Raised by SSLStream methods that mean nothing before the TLS handshake.

    ``getpeercert()``, ``cipher()``, ``version()`` and friends need a
    finished handshake: ``await stream.do_handshake()`` first.
    """


class _State(enum.Enum):
    OK = "ok"
    BROKEN = "broken"  # an error left the TLS session unusable; only aclose() works
    CLOSED = "closed"  # aclose() or unwrap() was called


class _Handshake(enum.Enum):
    NOT_STARTED = "not started"
    RUNNING = "running"  # in one task; the others wait in _handshake_lot
    DONE = "done"
    FAILED = "failed"  # the stream is broken (or closed)


class _Gate:
    """A FIFO mutex that costs one flag test when free (see the module docstring).

    Taking a free gate does not yield: the transport call right after it
    is the schedule point.  Releasing hands the gate straight to the first
    waiter, so nobody can slip in between.
    """

    __slots__ = ("held", "waiters")

    def __init__(self) -> None:
        self.held = False
        self.waiters = ParkingLot()

    def release(self) -> None:
        if self.waiters._wake_first(None) is None:
            self.held = False


class _Mode(enum.Enum):
    # What _drive is driving, for the two exceptions to "send what you queued, read what you need".
    PLAIN = "plain"
    HANDSHAKE = "handshake"  # a TLS 1.3 server keeps the session tickets it queues at the end
    READ = "read"  # a TLS 1.3 server keeps whatever a read queues
    CLOSE_NOTIFY = "close_notify"  # send it, never wait for the peer's


@final
class SSLStream(Stream, Generic[T_Stream]):
    """A TLS-encrypted Stream on top of another Stream (the *transport*).

    Wraps ``ssl_context.wrap_bio(...)``; the handshake happens on first use
    (or with :meth:`do_handshake`).  Plaintext goes in and out of
    ``send_all`` / ``receive_some``; ciphertext goes over
    ``transport_stream``.  A send and a receive may run concurrently.

    After the handshake, the ``ssl.SSLObject`` is reachable through
    ``getpeercert()``, ``cipher()``, ``version()``,
    ``selected_alpn_protocol()``, ``get_channel_binding()`` and the like
    (they raise :exc:`NeedHandshakeError` before it), and through the
    attributes ``context``, ``session``, ``server_side``,
    ``server_hostname`` at any time.

    If the peer closes the connection without a TLS ``close_notify``,
    ``receive_some`` raises :exc:`tether.BrokenResourceError` (the data may
    have been truncated by an attacker) unless ``https_compatible`` is set.
    Garbage or a failed handshake also break the stream:
    BrokenResourceError, with the ``ssl.SSLError`` as ``__cause__``.

    Args:
        transport_stream: the Stream to run TLS over.
        ssl_context: the ``ssl.SSLContext`` (for example
            ``ssl.create_default_context()``).
        server_hostname: the name to check the server's certificate
            against (client side; required when the context checks
            hostnames).
        server_side: True to act as the TLS server.
        https_compatible: behave as HTTPS clients and servers do: never
            send ``close_notify`` in :meth:`aclose` (just close the
            transport), and treat a close without ``close_notify`` as a
            normal end of stream.

    Attributes:
        transport_stream: the underlying stream (None after :meth:`unwrap`).
    """

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_handshake",
        "_handshake_lot",
        "_https_compatible",
        "_incoming",
        "_outgoing",
        "_read",
        "_receive_gate",
        "_receiving",
        "_send_gate",
        "_sending",
        "_ssl_object",
        "_state",
        "_transport_reads",
        "_waiting_writable",
        "_write",
        "transport_stream",
    )

    def __init__(
        self,
        transport_stream: T_Stream,
        ssl_context: _stdlib_ssl.SSLContext,
        *,
        server_hostname: str | bytes | None = None,
        server_side: bool = False,
        https_compatible: bool = False,
    ) -> None:
        self.transport_stream: T_Stream = transport_stream
        self._incoming = _stdlib_ssl.MemoryBIO()
        self._outgoing = _stdlib_ssl.MemoryBIO()
        self._ssl_object: _stdlib_ssl.SSLObject = ssl_context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side, server_hostname=server_hostname
        )
        self._https_compatible = https_compatible
        self._state = _State.OK
        self._handshake = _Handshake.NOT_STARTED
        self._handshake_lot = ParkingLot()
        # Conflict flags of the public operations (BusyResourceError).
        self._sending = False
        self._receiving = False
        self._send_gate = _Gate()
        self._receive_gate = _Gate()
        # True while wait_send_all_might_not_block waits on the transport
        # (holding the send gate): nothing else can send meanwhile.
        self._waiting_writable = False
        # Invariant: the number of transport receives that fed _incoming.
        self._transport_reads = 0
        # Bound once: the hot path calls them on every operation.
        self._read: Callable[[int], bytes] = self._ssl_object.read
        self._write: Callable[[Any], int] = self._ssl_object.write

    # ---- the SSLObject as seen from outside ---------------------------------------

    def _handshaken(self, name: str) -> _stdlib_ssl.SSLObject:
        if self._handshake is not _Handshake.DONE:
            raise NeedHandshakeError(f"call do_handshake() before calling {name!r}")
        return self._ssl_object

    @property
    def context(self) -> _stdlib_ssl.SSLContext:
        """The ``ssl.SSLContext`` in use (settable, as on ``ssl.SSLObject``)."""
        return self._ssl_object.context

    @context.setter
    def context(self, value: _stdlib_ssl.SSLContext) -> None:
        self._ssl_object.context = value

    @property
    def session(self) -> _stdlib_ssl.SSLSession | None:
        """The TLS session; set it before the handshake to resume an earlier one."""
        return self._ssl_object.session

    @session.setter
    def session(self, value: _stdlib_ssl.SSLSession | None) -> None:
        self._ssl_object.session = value

    @property
    def server_side(self) -> bool:
        """Whether this end is the TLS server."""
        return self._ssl_object.server_side

    @property
    def server_hostname(self) -> str | None:
        """The expected server hostname (client side), or None."""
        return self._ssl_object.server_hostname

    @property
    def session_reused(self) -> bool:
        """Whether the handshake resumed an earlier session.

        Raises:
            NeedHandshakeError: the handshake has not finished.
        """
        return self._handshaken("session_reused").session_reused

    def pending(self) -> int:
        """Return how many decrypted bytes are buffered, ready for ``receive_some``."""
        return self._ssl_object.pending()

    def getpeercert(self, binary_form: bool = False) -> Any:
        """Return the peer's certificate, as ``ssl.SSLObject.getpeercert`` does.

        Raises:
            NeedHandshakeError: the handshake has not finished.
        """
        return self._handshaken("getpeercert").getpeercert(binary_form)

    def cipher(self) -> tuple[str, str, int] | None:
        """Return ``(name, protocol, secret bits)`` of the cipher in use.

        Raises:
            NeedHandshakeError: the handshake has not finished.
        """
        return self._handshaken("cipher").cipher()

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """Return the ciphers both ends offered (server side).

        Raises:
            NeedHandshakeError: the handshake has not finished.
        """
        return self._handshaken("shared_ciphers").shared_ciphers()

    def compression(self) -> str | None:
        """Return the compression algorithm in use, or None.

        Raises:
            NeedHandshakeError: the handshake has not finished.
        """
        return self._handshaken("compression").compression()

    def version(self) -> str | None:
        """Return the negotiated protocol version, such as ``"TLSv1.3"``.

        Raises:
            NeedHandshakeError: the handshake has not finished.
        """
        return self._handshaken("version").version()

    def selected_alpn_protocol(self) -> str | None:
        """Return the protocol chosen with ALPN, or None.

        Raises:
            NeedHandshakeError: the handshake has not finished.
        """
        return self._handshaken("selected_alpn_protocol").selected_alpn_protocol()

    def selected_npn_protocol(self) -> str | None:
        """Return the protocol chosen with NPN (deprecated by Python), or None.

        Raises:
            NeedHandshakeError: the handshake has not finished.
        """
        return self._handshaken("selected_npn_protocol").selected_npn_protocol()

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        """Return channel binding data (RFC 5929), as ``ssl.SSLObject`` does.

        Raises:
            NeedHandshakeError: the handshake has not finished.
        """
        return self._handshaken("get_channel_binding").get_channel_binding(cb_type)

    # ---- state ------------------------------------------------------------------------

    def _check_status(self) -> None:
        state = self._state
        if state is _State.OK:
            return
        if state is _State.BROKEN:
            raise BrokenResourceError("this SSLStream is broken; it can only be closed")
        raise ClosedResourceError("this SSLStream was closed")

    def _handshake_done(self) -> bool:
        # A method, so that type checkers do not assume the state is unchanged after an await.
        return self._handshake is _Handshake.DONE

    def _mark_broken(self) -> None:
        if self._state is _State.OK:
            self._state = _State.BROKEN

    # ---- moving ciphertext ---------------------------------------------------------------

    async def _drive(
        self, operation: Callable[[Any], Any], argument: object, mode: _Mode = _Mode.PLAIN
    ) -> Any:
        """Run ``operation(argument)`` on the SSLObject until it completes; return its result.

        Sends what it queues and receives what it needs.  A schedule point
        (at least one yield) but not a cancellation point: the caller checks
        for cancellation first.
        """
        outgoing = self._outgoing
        incoming = self._incoming
        reading = mode is _Mode.READ
        yielded = False
        while True:
            if reading and not (incoming.pending or incoming.eof or self._ssl_object.pending()):
                # Nothing to decrypt: the read could only fail, and a failed
                # SSL call (an exception) costs more than the read itself.
                await self._receive_more()
                yielded = True
                continue
            queued_before = outgoing.pending
            wants_read = False
            try:
                result = operation(argument)
            except _SSLWantReadError:
                result = None
                wants_read = mode is not _Mode.CLOSE_NOTIFY
            except _SSLZeroReturnError as exc:
                # The peer's close_notify arrived after we sent ours: for a
                # read that is a clean end of stream.
                if not reading:
                    self._mark_broken()
                    raise BrokenResourceError from exc
                result = b""
            except _SSL_FAILURES as exc:
                self._mark_broken()
                raise BrokenResourceError from exc
            must_send = outgoing.pending > queued_before
            if must_send and self._may_hold_output(mode, wants_read):
                must_send = False
            if must_send:
                # A read does not wait for a busy transport: its answer (to a
                # key update, a certificate request) goes out with the bytes
                # of the task sending now, and the data it decrypted is
                # returned, not lost to a cancellation while waiting.
                yielded = await self._send_queued(wait=not reading) or yielded
            elif wants_read:
                await self._receive_more()
                yielded = True
            if not wants_read:
                break
        if not yielded:
            await cancel_shielded_checkpoint()
        return result

    def _may_hold_output(self, mode: _Mode, wants_read: bool) -> bool:
        # What a TLS 1.3 server queues without being asked is never needed by
        # the client to make progress: session tickets at the end of the
        # handshake (and after post-handshake authentication), key update
        # replies.  Sending it at once could block forever on an unbuffered
        # transport whose client is sending, not reading (both ends would be
        # stuck in send_all); it goes out, in order, with our next send.
        if mode is _Mode.HANDSHAKE:
            if wants_read:
                return False
        elif mode is not _Mode.READ:
            return False
        ssl_object = self._ssl_object
        return ssl_object.server_side and ssl_object.version() == "TLSv1.3"

    async def _send_queued(self, *, wait: bool) -> bool:
        """Send what is queued in ``_outgoing``, in order, holding the send gate.

        If another task holds the gate, either wait for it (``wait``: the
        caller needs its bytes on the transport before it returns, for
        backpressure or before a close) or leave the bytes to the holder,
        which keeps sending while bytes are queued and nobody waits.  If
        cancelled while waiting for the gate, the bytes stay queued and go
        out with the next send.

        Returns:
            Whether this call yielded (it always does unless it left the
            bytes to the holder).
        """
        gate = self._send_gate
        if gate.held:
            if not wait:
                return False
            await park_current_task(gate.waiters)  # release() hands the gate over
        else:
            gate.held = True
        try:
            await self._send_while_queued()
        finally:
            gate.release()
        return True

    async def _send_while_queued(self) -> None:
        # Precondition: we hold the send gate.  If the transport send fails
        # (or is cancelled) part-way, the TLS session is lost: the stream is
        # broken.
        outgoing = self._outgoing
        data = outgoing.read()
        while data:
            try:
                await self.transport_stream.send_all(data)
            except BaseException:
                self._mark_broken()
                raise
            if self._send_gate.waiters:
                break  # the next in line sends what was queued meanwhile
            data = outgoing.read()

    async def _receive_more(self) -> None:
        """Feed ``_incoming`` one transport receive (or EOF), holding the receive gate."""
        gate = self._receive_gate
        reads_seen = self._transport_reads
        if gate.held:
            await park_current_task(gate.waiters)
        else:
            gate.held = True
        try:
            if reads_seen != self._transport_reads:
                return  # fed while we waited: retry the SSLObject call first
            data = await self.transport_stream.receive_some(_TRANSPORT_RECEIVE_SIZE)
            self._transport_reads += 1
            if data:
                self._incoming.write(data)
            else:
                self._incoming.write_eof()
        finally:
            gate.release()

    # ---- the handshake -------------------------------------------------------------------

    async def _ensure_handshake(self) -> None:
        """Run the handshake, or wait for the task running it.

        Precondition: the caller passed its cancellation point and the
        handshake is not DONE.  Any failure breaks the stream (as in trio:
        a cancelled handshake too) and is raised in the task that ran it;
        the tasks waiting for it get BrokenResourceError.
        """
        if self._handshake is _Handshake.RUNNING:
            await park_current_task(self._handshake_lot)
            if not self._handshake_done():
                self._check_status()
                raise BrokenResourceError("the TLS handshake failed in another task")
            return
        if self._handshake is _Handshake.FAILED:
            self._check_status()
            raise BrokenResourceError("the TLS handshake failed")
        self._handshake = _Handshake.RUNNING
        try:
            await self._drive(_do_handshake, self._ssl_object, _Mode.HANDSHAKE)
        except BaseException:
            self._handshake = _Handshake.FAILED
            self._mark_broken()
            raise
        else:
            self._handshake = _Handshake.DONE
        finally:
            self._handshake_lot._wake_all()

    async def do_handshake(self) -> None:
        """Make sure the TLS handshake has happened. Always a checkpoint.

        Other methods do the handshake on first use; call this to do it
        earlier, for example to inspect the peer's certificate.  If
        another task is already running the handshake, waits for it.

        Raises:
            BrokenResourceError: the handshake failed (its ``__cause__`` is
                the ``ssl.SSLError``), now or earlier.
            ClosedResourceError: the stream was closed.
        """
        self._check_status()
        if self._handshake is _Handshake.DONE:
            await checkpoint()
            return
        if task_unless_cancelled() is None:
            await checkpoint()  # raises Cancelled
        await self._ensure_handshake()

    # ---- sending and receiving -------------------------------------------------------------

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt ``data`` and send it on the transport. A checkpoint.

        If cancelled, the stream may be left broken (later calls raise
        BrokenResourceError); close it.

        Raises:
            TypeError: ``data`` is not bytes-like (for example a str).
            BusyResourceError: another task is sending on this stream.
            BrokenResourceError: the stream or its transport is broken.
            ClosedResourceError: the stream was closed.
        """
        if self._sending:
            raise BusyResourceError("another task is currently sending data on this SSLStream")
        if isinstance(data, str):
            raise TypeError("send_all needs bytes-like data, not a str: encode it first")
        self._sending = True
        try:
            self._check_status()
            if task_unless_cancelled() is None:
                await checkpoint()  # raises Cancelled
            if self._handshake is not _Handshake.DONE:
                await self._ensure_handshake()
            if not data:
                # TLS cannot send an empty record; just keep the checkpoint promise.
                await cancel_shielded_checkpoint()
                return
            await self._drive(self._write, data)
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the transport could take more data. A checkpoint.

        Raises:
            BusyResourceError: another task is sending or waiting on this stream.
            BrokenResourceError: the stream or its transport is broken.
            ClosedResourceError: the stream was closed.
        """
        if self._sending:
            raise BusyResourceError("another task is currently sending data on this SSLStream")
        self._sending = True
        try:
            self._check_status()
            # Hold the send gate, so that a receive answering the peer
            # meanwhile leaves its answer to us instead of using the
            # transport's sending side while we wait on it.
            gate = self._send_gate
            if gate.held:
                await park_current_task(gate.waiters)
            else:
                gate.held = True
            try:
                queued_before = self._outgoing.pending
                self._waiting_writable = True
                try:
                    await self.transport_stream.wait_send_all_might_not_block()
                finally:
                    self._waiting_writable = False
                if self._outgoing.pending > queued_before:
                    await self._send_while_queued()
            finally:
                gate.release()
        finally:
            self._sending = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Receive and decrypt some data; ``b""`` at a clean end of stream. A checkpoint.

        Args:
            max_bytes: the most bytes to return (default: up to 64 KiB).

        Raises:
            BusyResourceError: another task is receiving on this stream.
            BrokenResourceError: the stream or its transport is broken, or
                the peer closed without ``close_notify`` (unless
                ``https_compatible``).
            ClosedResourceError: the stream was closed.
        """
        if self._receiving:
            raise BusyResourceError("another task is currently receiving data on this SSLStream")
        self._receiving = True
        try:
            self._check_status()
            if max_bytes is None:
                max_bytes = _DEFAULT_MAX_BYTES
            else:
                max_bytes = operator.index(max_bytes)
                if max_bytes < 1:
                    raise ValueError("max_bytes must be >= 1")
            if task_unless_cancelled() is None:
                await checkpoint()  # raises Cancelled
            try:
                if self._handshake is not _Handshake.DONE:
                    await self._ensure_handshake()
                data: bytes = await self._drive(self._read, max_bytes, _Mode.READ)
                return data
            except BrokenResourceError as exc:
                # Most web peers just close the connection; HTTP has its own
                # framing, so an HTTPS stream treats that as end of stream.
                if self._https_compatible and isinstance(exc.__cause__, _stdlib_ssl.SSLEOFError):
                    return b""
                raise
        finally:
            self._receiving = False

    # ---- closing --------------------------------------------------------------------------

    async def unwrap(self) -> tuple[Stream, bytes | bytearray]:
        """End TLS cleanly and give back the transport, for plaintext use. A checkpoint.

        Sends ``close_notify`` and waits for the peer's.  The SSLStream is
        closed afterwards (``transport_stream`` becomes None).

        Returns:
            ``(transport_stream, trailing_bytes)``: ``trailing_bytes`` arrived
            after the peer's ``close_notify``; treat them as the first bytes
            received from the transport.

        Raises:
            BusyResourceError: another task is sending or receiving.
            BrokenResourceError: the stream or its transport is broken.
            ClosedResourceError: the stream was closed.
        """
        if self._sending or self._receiving:
            raise BusyResourceError("another task is currently using this SSLStream")
        self._sending = self._receiving = True
        try:
            self._check_status()
            if task_unless_cancelled() is None:
                await checkpoint()  # raises Cancelled
            if self._handshake is not _Handshake.DONE:
                await self._ensure_handshake()
            await self._drive(_unwrap, self._ssl_object)
            transport = self.transport_stream
            self.transport_stream = None  # type: ignore[assignment]
            self._state = _State.CLOSED
            return transport, self._incoming.read()
        finally:
            self._sending = self._receiving = False

    async def aclose(self) -> None:
        """Close the TLS session and the transport. A checkpoint; idempotent.

        Unless ``https_compatible`` (or the stream is broken), sends
        ``close_notify`` first, without waiting for the peer's reply (TLS
        allows that, and a peer that is not reading would block us
        forever); this needs the handshake, so a fresh stream does it
        first.  If that fails or is cancelled, the transport is closed
        forcefully and the error raised.  If another task is blocked in
        :meth:`wait_send_all_might_not_block`, there is no way to send
        ``close_notify``: the transport is just closed (which wakes that
        task with ClosedResourceError).  The stream is closed either way.
        """
        state = self._state
        if state is _State.CLOSED:
            await checkpoint()
            return
        if state is _State.BROKEN or self._https_compatible:
            self._state = _State.CLOSED
            await self.transport_stream.aclose()
            return
        try:
            if task_unless_cancelled() is None:
                await checkpoint()  # raises Cancelled: the except clause closes forcefully
            if self._handshake is not _Handshake.DONE:
                await self._ensure_handshake()
            # A task waiting in wait_send_all_might_not_block has the
            # transport's sending side, maybe until the peer reads: then
            # close without close_notify rather than wait for the peer.
            if not self._waiting_writable:
                try:
                    await self._drive(_unwrap, self._ssl_object, _Mode.CLOSE_NOTIFY)
                except BrokenResourceError:
                    # The peer closed first (a crossing close_notify, say):
                    # our close_notify has nowhere to go, which is fine.
                    pass
        except BaseException:
            self._state = _State.CLOSED
            await aclose_forcefully(self.transport_stream)
            raise
        self._state = _State.CLOSED
        await self.transport_stream.aclose()


def _do_handshake(ssl_object: _stdlib_ssl.SSLObject) -> None:
    ssl_object.do_handshake()


def _unwrap(ssl_object: _stdlib_ssl.SSLObject) -> None:
    ssl_object.unwrap()


@final
class SSLListener(Listener[SSLStream[T_Stream]]):
    """A Listener that wraps every accepted connection in a server-side SSLStream.

    The handshake is not done in ``accept`` (one slow or hostile client
    must not hold up the others): it happens on the stream's first use.

    Args:
        transport_listener: the Listener to accept transport streams from.
        ssl_context: the ``ssl.SSLContext`` for the server side.
        https_compatible: passed to every :class:`SSLStream`.

    Attributes:
        transport_listener: the underlying listener.
    """

    __slots__ = ("__dict__", "__weakref__", "_https_compatible", "_ssl_context", "transport_listener")

    def __init__(
        self,
        transport_listener: Listener[T_Stream],
        ssl_context: _stdlib_ssl.SSLContext,
        *,
        https_compatible: bool = False,
    ) -> None:
        self.transport_listener = transport_listener
        self._ssl_context = ssl_context
        self._https_compatible = https_compatible

    async def accept(self) -> SSLStream[T_Stream]:
        """Accept a transport connection and wrap it (no handshake yet). A checkpoint.

        Raises:
            BusyResourceError: another task is already accepting.
            ClosedResourceError: the listener was closed.
        """
        transport_stream = await self.transport_listener.accept()
        return SSLStream(
            transport_stream, self._ssl_context, server_side=True, https_compatible=self._https_compatible
        )

    async def aclose(self) -> None:
        """Close the transport listener. A checkpoint."""
        await self.transport_listener.aclose()
