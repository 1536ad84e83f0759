"""httpx on tether (installed as trio) fetching from an aiohttp server, one bridged run.

Usage: python httpx_program.py asyncio|uvloop
Prints how many asyncio tasks were left when the loop closed, then one line per response.
"""

from __future__ import annotations

import tether

tether.install()  # before httpx: httpcore's trio backend then runs on tether

import asyncio  # noqa: E402
import sys  # noqa: E402

import httpx  # noqa: E402
import uvloop  # noqa: E402
from shout_app import start_app  # noqa: E402  (this script's folder is on sys.path)

from tether import asyncio_bridge  # noqa: E402
from tether.asyncio_bridge import aio_await  # noqa: E402


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
