"""trio-websocket: a server and a client talking to each other over 127.0.0.1.

The server answers each message with its upper-case form (text) or reversed
(bytes), and pushes one message of its own on request; the client closes
cleanly and both sides report the close.  The last line names the runtime.
"""

from __future__ import annotations

from functools import partial

import trio
from trio_websocket import ConnectionClosed, WebSocketRequest, open_websocket_url, serve_websocket

MESSAGES: list[str | bytes] = ["hello", "trio", b"\x00\x01\x02", "push", "x" * 70000]


async def server_handler(closed: trio.Event, request: WebSocketRequest) -> None:
    print("server: request path", request.path)
    websocket = await request.accept()
    try:
        while True:
            message = await websocket.get_message()
            if message == "push":
                await websocket.send_message("pushed by the server")
            elif isinstance(message, bytes):
                await websocket.send_message(message[::-1])
            else:
                await websocket.send_message(message.upper())
    except ConnectionClosed as error:
        print("server: closed by client", error.reason.code, error.reason.reason)
    closed.set()


def describe(message: str | bytes) -> str:
    return repr(message) if len(message) < 40 else f"{type(message).__name__} of {len(message)}"


async def main() -> None:
    closed = trio.Event()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                partial(serve_websocket, partial(server_handler, closed), "127.0.0.1", 0, ssl_context=None)
            )
            url = f"ws://127.0.0.1:{server.port}/chat?room=1"
            async with open_websocket_url(url) as websocket:
                for message in MESSAGES:
                    await websocket.send_message(message)
                    print("client: got", describe(await websocket.get_message()))
                await websocket.aclose(code=1000, reason="bye")
                await closed.wait()  # the server's line first, whichever side is scheduled first
                print("client: closed", websocket.closed.code, websocket.closed.reason)
            nursery.cancel_scope.cancel()
    print("runtime:", trio.__name__)


trio.run(main)
