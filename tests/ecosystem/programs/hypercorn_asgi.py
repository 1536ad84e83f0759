"""hypercorn's trio worker serving a tiny ASGI app, fetched with httpx and trio-websocket.

``hypercorn.trio.serve`` binds 127.0.0.1:0 and reports the address through
``task_status``; the app answers HTTP (a GET, and a POST echoing its body) and
echoes websocket messages; a ``shutdown_trigger`` stops the server gracefully,
running the app's lifespan shutdown.  The last line names the runtime.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from trio_websocket import open_websocket_url

Scope = dict[str, Any]
Receive = Any
Send = Any


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            print("app:", message["type"])
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    elif scope["type"] == "http":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "POST":
            payload = b"echo: " + body
        else:
            payload = f"hello from {scope['method']} {scope['path']} ({scope['http_version']})".encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
    elif scope["type"] == "websocket":
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": "echo: " + message["text"]})
        print("app: websocket", message["type"], message["code"])


async def main() -> None:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 5
    stop = trio.Event()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))
            base = binds[0]
            print("bound", base.rsplit(":", 1)[0])
            async with httpx.AsyncClient() as client:
                response = await client.get(f"{base}/hello")
                print("GET", response.status_code, response.text)
                response = await client.post(f"{base}/echo", content=b"posted bytes")
                print("POST", response.status_code, response.text)
            async with open_websocket_url(base.replace("http://", "ws://") + "/ws") as websocket:
                for text in ["one", "two"]:
                    await websocket.send_message(text)
                    print("websocket:", await websocket.get_message())
            stop.set()
        print("server stopped")
    print("runtime:", trio.__name__)


trio.run(main)
