"""An anyio listener dropped without ``aclose()``, then a child process waited for.

The listener's socket is closed by the garbage collector, behind the event
loop's back; the child's pidfd then reuses the socket's fd number, and
``Process.wait()`` must still see the child exit.
"""

from __future__ import annotations

import gc
import sys

import anyio
import anyio.abc
import trio


async def serve_briefly() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    with anyio.move_on_after(0.01):
        await listener.serve(lambda stream: stream.aclose())  # waits in accept(), then is cancelled
    # No aclose(): the socket is left to the garbage collector.


async def main() -> None:
    await serve_briefly()
    gc.collect()
    with anyio.fail_after(5):
        process = await anyio.open_process(
            [sys.executable, "-c", "import time; time.sleep(0.2)"], stdin=None, stdout=None, stderr=None
        )
        print("wait", await process.wait())
        await process.aclose()
    print("runtime:", trio.__name__)


anyio.run(main, backend="trio")
