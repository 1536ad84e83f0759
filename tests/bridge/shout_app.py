"""An aiohttp application whose handler calls back into tether: shared by
test_network.py and httpx_program.py (which runs in a fresh interpreter)."""

from __future__ import annotations

from aiohttp import web

import tether
from tether.asyncio_bridge import tether_await


async def tether_shout(text: str) -> str:
    await tether.sleep(0)
    return text.upper()


async def start_app() -> web.AppRunner:
    """Serve ``GET /hello/{name}`` on 127.0.0.1 (a free port: ``runner.addresses``)."""

    async def hello(request: web.Request) -> web.Response:
        # An aiohttp handler (an asyncio task) calling back into tether.
        shout = await tether_await(tether_shout, request.match_info["name"])
        return web.Response(text=f"hello {shout} from aiohttp")

    app = web.Application()
    app.router.add_get("/hello/{name}", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner
