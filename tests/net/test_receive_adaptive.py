"""SocketStream.receive_some waits first once its first tries keep finding nothing.

White-box: the streak counter decides; what must never change is that every
byte arrives, whether or not it was already queued when receive_some began.
"""

from __future__ import annotations

import socket

import tether
from tether._net import _socket_stream
from tether.testing import wait_all_tasks_blocked


def _stream_pair() -> tuple[tether.SocketStream, tether.SocketStream]:
    left, right = socket.socketpair()
    return (
        tether.SocketStream(tether.socket.from_stdlib_socket(left)),
        tether.SocketStream(tether.socket.from_stdlib_socket(right)),
    )


def test_request_response_traffic_switches_to_waiting_first() -> None:
    async def main() -> list[int]:
        a, b = _stream_pair()
        streaks = []
        async with a, b, tether.open_nursery() as nursery:

            async def reply() -> None:
                for _ in range(6):
                    await wait_all_tasks_blocked()
                    await b.send_all(b"x")

            nursery.start_soon(reply)
            for _ in range(6):
                assert await a.receive_some(10) == b"x"
                streaks.append(a._wait_streak)
        return streaks

    assert tether.run(main) == [1, 2, 3, 4, 5, 6]


def test_data_already_queued_arrives_while_waiting_first() -> None:
    async def main() -> bytes:
        a, b = _stream_pair()
        async with a, b:
            a._wait_streak = _socket_stream._WAIT_FIRST_AFTER + 1  # not a probe turn
            await b.send_all(b"queued")
            return await a.receive_some(100)

    assert tether.run(main) == b"queued"


def test_an_exact_size_read_keeps_waiting_first() -> None:
    # Regression: a read that filled max_bytes sent the stream back to
    # trying first, so a reader asking for exactly one reply per request
    # paid a failed recv() (a raised BlockingIOError) on every message.
    async def main() -> list[int]:
        a, b = _stream_pair()
        streaks = []
        async with a, b, tether.open_nursery() as nursery:

            async def reply() -> None:
                for _ in range(4):
                    await wait_all_tasks_blocked()
                    await b.send_all(b"abc")

            a._wait_streak = _socket_stream._WAIT_FIRST_AFTER  # waiting first
            nursery.start_soon(reply)
            for _ in range(4):
                assert await a.receive_some(3) == b"abc"
                streaks.append(a._wait_streak)
        return streaks

    start = _socket_stream._WAIT_FIRST_AFTER
    assert tether.run(main) == [start + 1, start + 2, start + 3, start + 4]


def test_a_probe_notices_streaming_and_returns_to_trying_first() -> None:
    async def main() -> list[int]:
        a, b = _stream_pair()
        streaks = []
        async with a, b:
            a._wait_streak = _socket_stream._WAIT_FIRST_AFTER
            await b.send_all(b"z" * 3 * (_socket_stream._PROBE_EVERY + 4))
            for _ in range(_socket_stream._PROBE_EVERY + 4):
                assert await a.receive_some(3) == b"zzz"
                streaks.append(a._wait_streak)
        return streaks

    streaks = tether.run(main)
    probe = streaks.index(0)
    assert 0 < probe < _socket_stream._PROBE_EVERY
    assert streaks[probe:] == [0] * (len(streaks) - probe)  # then every try succeeds


def test_receive_on_a_stream_closed_while_waiting_first_raises_closed_resource_error() -> None:
    # Regression: the wait-first path registered the closed fd with epoll and
    # leaked OSError(EBADF); hypercorn reads again after closing and expects
    # ClosedResourceError, as trio gives.
    async def main() -> str:
        a, b = _stream_pair()
        async with b:
            a._wait_streak = _socket_stream._WAIT_FIRST_AFTER + 1  # not a probe turn
            a.socket.close()
            try:
                await a.receive_some(10)
            except tether.ClosedResourceError:
                return "closed"
            return "no error"

    assert tether.run(main) == "closed"
