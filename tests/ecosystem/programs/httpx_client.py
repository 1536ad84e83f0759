"""httpx's AsyncClient against a small trio + h11 server, over plain TCP and over TLS.

The server is the program's own: ``trio.serve_tcp`` and ``trio.serve_ssl_over_tcp``
(certificates from trustme) with h11 speaking HTTP/1.1.  The client does a GET, a
POST whose body comes back, and a streamed chunked response, on each transport.
The last line names the runtime, so the test can tell tether from trio.
"""

from __future__ import annotations

import ssl
from functools import partial

import h11
import httpx
import trio
import trustme

CHUNKS = [b"alpha ", b"beta ", b"gamma ", b"delta\n"]


async def read_event(connection: h11.Connection, stream: trio.abc.Stream) -> object:
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event
        connection.receive_data(await stream.receive_some(65536))


async def respond(
    connection: h11.Connection, stream: trio.abc.Stream, request: h11.Request, body: bytes
) -> None:
    async def send(event: object) -> None:
        await stream.send_all(connection.send(event))

    if request.target == b"/stream":
        await send(h11.Response(status_code=200, headers=[("Content-Type", "text/plain")]))
        for chunk in CHUNKS:
            await send(h11.Data(data=chunk))
            await trio.sleep(0)
    else:
        if request.method == b"POST":
            payload = b"echo: " + body
        else:
            payload = b"hello from " + request.method + b" " + request.target
        headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(payload)))]
        await send(h11.Response(status_code=200, headers=headers))
        await send(h11.Data(data=payload))
    await send(h11.EndOfMessage())


async def handle(stream: trio.abc.Stream) -> None:
    connection = h11.Connection(h11.SERVER)
    try:
        while True:
            request = await read_event(connection, stream)
            if isinstance(request, h11.ConnectionClosed):
                return
            assert isinstance(request, h11.Request), request
            body = b""
            while not isinstance(event := await read_event(connection, stream), h11.EndOfMessage):
                assert isinstance(event, h11.Data), event
                body += event.data
            await respond(connection, stream, request, body)
            if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                return
            connection.start_next_cycle()
    except trio.BrokenResourceError:
        return
    finally:
        await stream.aclose()


async def exercise(client: httpx.AsyncClient, base: str, label: str) -> None:
    response = await client.get(f"{base}/hello?x=1")
    print(label, "GET", response.status_code, response.http_version, response.text)
    response = await client.post(f"{base}/echo", content=b"a body of bytes " * 4)
    print(label, "POST", response.status_code, response.headers["content-length"], response.text)
    async with client.stream("GET", f"{base}/stream") as streamed:
        received = b"".join([chunk async for chunk in streamed.aiter_bytes()])
        print(label, "STREAM", streamed.status_code, streamed.headers.get("transfer-encoding"), received)


async def main() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            plain = await nursery.start(partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
            serve_tls = partial(trio.serve_ssl_over_tcp, handle, 0, server_context, https_compatible=True)
            secure = await nursery.start(partial(serve_tls, host="127.0.0.1"))
            plain_port = plain[0].socket.getsockname()[1]
            secure_port = secure[0].transport_listener.socket.getsockname()[1]

            async with httpx.AsyncClient() as client:
                await exercise(client, f"http://127.0.0.1:{plain_port}", "http")
            async with httpx.AsyncClient(verify=client_context) as client:
                await exercise(client, f"https://127.0.0.1:{secure_port}", "https")
                response = await client.get(f"https://127.0.0.1:{secure_port}/tls")
                tls = response.extensions["network_stream"].get_extra_info("ssl_object")
                print("https TLS", isinstance(tls, ssl.SSLObject), tls.server_hostname)
            nursery.cancel_scope.cancel()
    print("runtime:", trio.__name__)


trio.run(main)
