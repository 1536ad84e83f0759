"""The seed's TCP client, with a local echo server so that it runs anywhere.

python -m tether examples/seeds/tcp_client.py
"""

import functools

import trio


async def reply_to_ping(stream: trio.SocketStream) -> None:
    data = await stream.receive_some(1024)
    await stream.send_all(b"Pong for: " + data)


async def network_client(host: str, port: int) -> None:
    async with await trio.open_tcp_stream(host, port) as conn:
        payload = b"Ping from Trio client"
        await conn.send_all(payload)
        data = await conn.receive_some(1024)
        print(f"Server Reply: {data.decode()}")


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_tcp, reply_to_ping, 0, host="127.0.0.1")
        listeners = await nursery.start(serve)
        port = listeners[0].socket.getsockname()[1]
        await network_client("127.0.0.1", port)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
