"""A quart-trio app served by hypercorn's trio worker, fetched with httpx and trio-websocket.

The app has a GET route, a POST route that answers JSON with JSON, a route
whose response body is an async generator (read by the client chunk by
chunk), a sync route (quart-trio runs it in a worker thread), a background
task, a websocket that echoes messages, and ``before_serving`` /
``after_serving`` hooks.  ``hypercorn.trio.serve`` binds 127.0.0.1:0; a
``shutdown_trigger`` stops it gracefully.  The last line names the runtime.
"""

from __future__ import annotations

from functools import partial

import httpx
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import request, websocket
from quart_trio import QuartTrio
from trio_websocket import open_websocket_url

app = QuartTrio(__name__)
background_done = trio.Event()
background_words: list[str] = []


@app.before_serving
async def startup() -> None:
    print("app: before_serving")


@app.after_serving
async def shutdown() -> None:
    print("app: after_serving")


@app.route("/hello")
async def hello() -> str:
    return f"hello {request.args.get('name', 'nobody')} via {request.method}"


@app.route("/sum", methods=["POST"])
async def total() -> dict[str, object]:
    payload = await request.get_json()
    return {"numbers": payload["numbers"], "sum": sum(payload["numbers"])}


@app.route("/count")
async def count() -> object:
    async def chunks():  # type: ignore[no-untyped-def]
        for n in range(4):
            await trio.sleep(0)
            yield f"chunk {n}\n".encode()

    return chunks(), 200, {"content-type": "text/plain"}


@app.route("/sync")
def in_a_thread() -> str:
    return "sync route ran in a worker thread"


@app.route("/later", methods=["POST"])
async def later() -> tuple[str, int]:
    async def work(word: str) -> None:
        await trio.sleep(0)
        background_words.append(word)
        background_done.set()

    app.add_background_task(work, "queued")
    return "accepted", 202


@app.websocket("/ws")
async def echo() -> None:
    while True:
        message = await websocket.receive()
        if message == "quit":
            await websocket.send("bye")
            return
        await websocket.send(f"echo: {message}")


async def fetch(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.get("/hello", params={"name": "tether"})
        print("GET", response.status_code, response.text)
        response = await client.post("/sum", json={"numbers": [1, 2, 3, 4]})
        print("POST", response.status_code, response.headers["content-type"], response.json())
        async with client.stream("GET", "/count") as streamed:
            chunks = [chunk async for chunk in streamed.aiter_bytes()]
            print("STREAM", streamed.status_code, b"".join(chunks))
        response = await client.get("/sync")
        print("SYNC", response.status_code, response.text)
        response = await client.post("/later")
        print("LATER", response.status_code, response.text)
        await background_done.wait()
        print("background task got", background_words)
        response = await client.get("/missing")
        print("MISSING", response.status_code)
    async with open_websocket_url(base.replace("http://", "ws://") + "/ws") as ws:
        for text in ["one", "two", "quit"]:
            await ws.send_message(text)
            print("websocket:", await ws.get_message())


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
            await fetch(binds[0])
            stop.set()
        print("server stopped")
    print("runtime:", trio.__name__)


trio.run(main)
