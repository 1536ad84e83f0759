"""Libraries built on trio run on tether under install(), each in a fresh interpreter."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

RunPython = Callable[..., subprocess.CompletedProcess[str]]  # the run_python fixture (conftest.py)

ANYIO_PROGRAM = """
import anyio
import anyio.abc
import trio


async def shout(stream):
    async with stream:
        await stream.send((await stream.receive()).upper())


async def main():
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as group:
        group.start_soon(listener.serve, shout)
        async with await anyio.connect_tcp("127.0.0.1", port) as client:
            await client.send(b"hello")
            print(await client.receive())
        print(await anyio.to_thread.run_sync(sum, [40, 2]))
        with anyio.move_on_after(0.01) as scope:
            await anyio.sleep_forever()
        print(scope.cancelled_caught)
        group.cancel_scope.cancel()
    print(trio.__name__)


anyio.run(main, backend="trio")
"""


def test_anyio_trio_backend_runs_on_tether(run_python: RunPython, tmp_path: Path) -> None:
    (tmp_path / "anyio_program.py").write_text(textwrap.dedent(ANYIO_PROGRAM))
    result = run_python("-m", "tether", "anyio_program.py")
    assert (result.returncode, result.stdout) == (0, "b'HELLO'\n42\nTrue\ntether\n"), result.stderr
