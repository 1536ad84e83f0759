"""httpx on tether (installed as trio) fetching from an aiohttp server, one bridged run.

Usage: python httpx_fetches_from_aiohttp.py asyncio|uvloop
Prints one line per response, then the asyncio tasks left when the loop closed.
"""

from __future__ import annotations

import tether

tether.install()  # before httpx: httpcore's trio backend then runs on tether

import asyncio  # noqa: E402
import sys  # noqa: E402

import httpx  # noqa: E402
import uvloop  # noqa: E402
from aiohttp import web  # noqa: E402

from tether import asyncio_bridge  # noqa: E402
from tether.asyncio_bridge import aio_await, tether_await  # noqa: E402


async def tether_shout(text: str) -> str:
    await tether.sleep(0)
    return text.upper()


async def start_app() -> web.AppRunner:
    async def hello(request: web.Request) -> web.Response:
        shout = await tether_await(tether_shout, request.match_info["name"])
        return web.Response(text=f"hello {shout} from aiohttp")

    app = web.Application()
    app.router.add_get("/hello/{name}", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def main() -> list[str]:
    lines = []
    with tether.fail_after(10):
        runner = await aio_await(start_app)
        try:
            port = runner.addresses[0][1]
            async with httpx.AsyncClient() as client:
                for name in ("httpx", "tether"):
                    response = await client.get(f"http://127.0.0.1:{port}/hello/{name}")
                    lines.append(f"{response.status_code} {response.text}")
        finally:
            await aio_await(runner.cleanup)
    return lines


class CheckedLoop(uvloop.Loop if sys.argv[1] == "uvloop" else asyncio.SelectorEventLoop):  # type: ignore[misc]
    def close(self) -> None:
        print(f"asyncio tasks left at close: {len(asyncio.all_tasks(self))}")
        super().close()


for line in asyncio_bridge.run(main, loop_factory=CheckedLoop):
    print(line)
