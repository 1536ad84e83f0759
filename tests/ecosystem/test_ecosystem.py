"""Libraries built on trio run on tether under install(), each in a fresh interpreter.

Each program in programs/ runs twice: on tether (``python -m tether prog.py``,
or ``TETHER_AS_TRIO=1 python prog.py``) and on real trio (``python prog.py``).
Everything happens over 127.0.0.1 inside the program, which bounds itself with
``fail_after``.  The last line a program prints names the runtime
(``runtime: tether`` or ``runtime: trio``), so the test knows which one ran;
the lines before it must be the same on both, and what the test expects.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

RunPython = Callable[..., subprocess.CompletedProcess[str]]  # the run_python fixture (conftest.py)

PROGRAMS = Path(__file__).resolve().parent / "programs"


def observed(result: subprocess.CompletedProcess[str], runtime: str) -> str:
    """What the program printed before its last line, which must name ``runtime``."""
    assert result.returncode == 0, result.stderr
    *lines, last = result.stdout.splitlines()
    assert last == f"runtime: {runtime}", result.stdout
    return "".join(line + "\n" for line in lines)


def run_both(run_python: RunPython, name: str, *, as_trio_variable: bool = False) -> str:
    """Run programs/``name`` on trio and on tether; both must print the same. Returns it."""
    program = str(PROGRAMS / name)
    on_trio = observed(run_python(program), "trio")
    if as_trio_variable:
        on_tether = observed(run_python(program, env={"TETHER_AS_TRIO": "1"}), "tether")
    else:
        on_tether = observed(run_python("-m", "tether", program), "tether")
    assert on_tether == on_trio
    return on_tether


def test_httpx_client_plain_and_tls(run_python: RunPython) -> None:
    body = "a body of bytes " * 4
    rounds = [
        f"{scheme} GET 200 HTTP/1.1 hello from GET /hello?x=1\n"
        f"{scheme} POST 200 70 echo: {body}\n"
        f"{scheme} STREAM 200 chunked b'alpha beta gamma delta\\n'\n"
        for scheme in ("http", "https")
    ]
    expected = "".join(rounds) + "https TLS True 127.0.0.1\n"
    assert run_both(run_python, "httpx_client.py") == expected


def test_anyio_trio_backend_runs_on_tether(run_python: RunPython) -> None:
    assert run_both(run_python, "anyio_trio_backend.py") == (
        "tcp b'HELLO'\n"
        "to_thread 42\n"
        "from_thread ROUND TRIP\n"
        "move_on_after True\n"
        "fail_after TimeoutError\n"
        "shielded checkpoint survived\n"
        "outer cancelled_caught True\n"
        "start ready\n"
        "task group raised ['boom']\n"
        "memory stream [0, 1, 2, 3, 4] True\n"
        "send after close: ClosedResourceError\n"
        "open_process b'SHOUT THIS' 3\n"
        "run_process 0 b'ran\\n'\n"
    )


def test_anyio_unclosed_listener_then_process_wait(run_python: RunPython) -> None:
    assert run_both(run_python, "anyio_unclosed_listener.py") == "wait 0\n"


def test_trio_websocket_client_and_server(run_python: RunPython) -> None:
    assert run_both(run_python, "trio_websocket_echo.py", as_trio_variable=True) == (
        "server: request path /chat?room=1\n"
        "client: got 'HELLO'\n"
        "client: got 'TRIO'\n"
        "client: got b'\\x02\\x01\\x00'\n"
        "client: got 'pushed by the server'\n"
        "client: got str of 70000\n"
        "server: closed by client 1000 bye\n"
        "client: closed 1000 bye\n"
    )


def test_hypercorn_trio_worker_serves_asgi(run_python: RunPython) -> None:
    assert run_both(run_python, "hypercorn_asgi.py", as_trio_variable=True) == (
        "app: lifespan.startup\n"
        "bound http://127.0.0.1\n"
        "GET 200 hello from GET /hello (1.1)\n"
        "POST 200 echo: posted bytes\n"
        "websocket: echo: one\n"
        "websocket: echo: two\n"
        "app: websocket websocket.disconnect 1006\n"
        "app: lifespan.shutdown\n"
        "server stopped\n"
    )



def test_quart_trio_app_served_by_hypercorn(run_python: RunPython) -> None:
    assert run_both(run_python, "quart_trio_app.py", as_trio_variable=True) == (
        "app: before_serving\n"
        "GET 200 hello tether via GET\n"
        "POST 200 application/json {'numbers': [1, 2, 3, 4], 'sum': 10}\n"
        "STREAM 200 b'chunk 0\\nchunk 1\\nchunk 2\\nchunk 3\\n'\n"
        "SYNC 200 sync route ran in a worker thread\n"
        "LATER 202 accepted\n"
        "background task got ['queued']\n"
        "MISSING 404\n"
        "websocket: echo: one\n"
        "websocket: echo: two\n"
        "websocket: bye\n"
        "app: after_serving\n"
        "server stopped\n"
    )


def test_trio_util_tools_on_virtual_time(run_python: RunPython) -> None:
    assert run_both(run_python, "trio_util_tools.py") == (
        "wait_value 2 -> 2 at 2.0\n"
        "wait_transition -> (3, 2) at 3.0\n"
        "held_for 1 -> 4 at 4.5\n"
        "final 5 at 5.5\n"
        "transformed transitions [(60, 50), (70, 60)]\n"
        "eventual_values [7, 9]\n"
        "compose_values 5 3\n"
        "AsyncBool True\n"
        "RepeatedEvent ['events', 'events', 'unqueued', 'wait']\n"
        "periodic [(0.0, None), (0.25, 0.25), (0.75, 0.5), (1.0, 0.25), (1.25, 0.25)] at 1.25\n"
        "iter_move_on_after [0, 1] stopped at 2.25\n"
        "iter_fail_after TooSlowError at 1.5\n"
        "move_on_when True at 2.0\n"
        "run_and_cancelling ['cancelled']\n"
        "wait_any ['fast'] at 1.0\n"
        "wait_all ['fast', 'slow'] at 4.0\n"
        "azip [(0, 0), (1, 1), (2, 2)] at 8.0\n"
        "azip_longest [(0, 0), ('-', 1)]\n"
        "trio_async_generator [(0, 1), (1, 2), (2, 3)]\n"
        "trio_util._task_stats: max task wait time: 0.00 ms\n"
    )


def test_tricycle_streams_locks_and_scopes(run_python: RunPython) -> None:
    assert run_both(run_python, "tricycle_tools.py") == (
        "buffered header bytearray(b'HEAD') 5 bytearray(b'hello')\n"
        "unget then receive bytearray(b'tail') bytearray(b'tail-')\n"
        "text line 'line one\\r\\n'\n"
        "text split character 'line two caf\u00e9 \\r\\n'\n"
        "text max_chars 'a long'\n"
        "text rest [' line without an end yet\\r\\n', 'last line']\n"
        "receive_exactly at EOF: unclean EOF (read only 3/5 bytes)\n"
        "then bytearray(b'abc') None\n"
        "rwlock statistics read 2 1 1\n"
        "rwlock fair ['0.0 r1 reads', '0.0 r2 reads', '1.0 r2 done', '2.0 r1 done',"
        " '2.0 w1 writes (write)', '3.0 w1 done', '3.0 r3 reads', '4.0 r3 done']\n"
        "rwlock read_biased ['4.0 r1 reads', '4.0 r2 reads', '5.0 r2 done', '6.0 r1 done',"
        " '6.0 w1 writes (write)', '7.0 w1 done']\n"
        "acquire_read_nowait while write-locked: WouldBlock\n"
        "MultiCancelScope ['a True at +1.0', 'b True at +1.0'] True\n"
        "service nursery ['service got first', 'service got from finally']\n"
        "ScopedObject opened\n"
        "using Connection\n"
        "ScopedObject closed\n"
        "BackgroundObject beats 3\n"
        "get_in nursery outer task inner\n"
        "TreeVar ['spawned under being() sees outer', 'spawned normally sees outer'] outer\n"
    )


def test_trio_parallel_runs_functions_in_worker_processes(run_python: RunPython) -> None:
    assert run_both(run_python, "trio_parallel_workers.py") == (
        "primes [(10, 4), (1000, 168), (100000, 9592)]\n"
        "worker is another process True\n"
        "error from the worker: ValueError('worker says no')\n"
        "kill_on_cancel True True\n"
        "BrokenWorkerError exit code 3\n"
        "worker context [101, 102, 101, 102] True\n"
        "cache_scope 101\n"
        "cache_scope partial 10\n"
    )


def test_trio_asyncio_runs_asyncio_code_inside_trio(run_python: RunPython) -> None:
    assert run_both(run_python, "trio_asyncio_loop.py", as_trio_variable=True) == (
        "aio_as_trio 3\n"
        "trio_as_aio 41\n"
        "run_aio_coroutine 11\n"
        "future later\n"
        "call_soon ['soon']\n"
        "run_in_executor 6\n"
        "aio context manager ['aio enter', 'inside with aio resource', 'aio exit']\n"
        "trio context manager trio resource ['trio enter', 'trio exit']\n"
        "aio iterator [0, 1, 2, 3]\n"
        "asyncio client [b'echo ONE\\n', b'echo TWO\\n']\n"
        "trio client b'echo FROM TRIO\\n'\n"
        "asyncio.Queue [[0, 1, 2, 3, 4]]\n"
        "trio caught KeyError('from asyncio')\n"
        "asyncio caught ValueError('from trio')\n"
        "trio timeout True ['asyncio coroutine cancelled']\n"
        "asyncio cancel True ['trio code cancelled']\n"
        "loop closed True\n"
        "trio_asyncio.run 8\n"
    )

ANYIO_PYTEST_FILE = """
import anyio
import pytest
import trio


@pytest.fixture
def anyio_backend():
    return "trio"


@pytest.mark.anyio
async def test_runs_on_the_trio_backend():
    await anyio.sleep(0)
    print("runtime:", trio.__name__)
"""


def test_anyio_pytest_plugin_on_the_trio_backend(run_python: RunPython, tmp_path: Path) -> None:
    (tmp_path / "test_anyio_plugin.py").write_text(ANYIO_PYTEST_FILE)
    arguments = ("-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_anyio_plugin.py")
    on_trio = run_python(*arguments)
    assert on_trio.returncode == 0, on_trio.stdout
    assert "runtime: trio" in on_trio.stdout
    on_tether = run_python(*arguments, env={"TETHER_AS_TRIO": "1"})
    assert on_tether.returncode == 0, on_tether.stdout
    assert "runtime: tether" in on_tether.stdout
