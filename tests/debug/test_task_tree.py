"""The task-tree dump: its shape (golden tests), wait descriptions, and dumps on a signal."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import threading

import pytest

import tether
import tether.debug
import tether.socket as tsocket
from tether.debug._waits import describe_fd, show_path
from tether.testing import MockClock, wait_all_tasks_blocked

THIS_FILE = show_path(__file__)


def normalized(tree: str) -> str:
    """The tree with what varies between runs replaced: pid, line numbers, this file's path."""
    tree = re.sub(r"\(pid \d+\)", "(pid P)", tree)
    tree = re.sub(r":\d+ in ", ":N in ", tree)
    return tree.replace(THIS_FILE, "THIS")


def name_this_task(name: str) -> None:
    tether.lowlevel.current_task().name = name


async def sleeper() -> None:
    await tether.sleep(3.2)


def test_tree_of_nested_nurseries_shields_sleeping_locked_socket_and_thread_tasks() -> None:
    async def main() -> str:
        name_this_task("main")
        lock = tether.Lock()
        release = threading.Event()
        listener = tsocket.socket()
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = tsocket.socket()
        await client.connect(listener.getsockname())
        served, _ = await listener.accept()
        shield_scope = tether.CancelScope(shield=True)

        async def locked() -> None:
            async with lock:
                pass

        async def reader() -> None:
            await served.recv(1)

        async def shielded() -> None:
            with shield_scope:
                async with tether.open_nursery() as inner:
                    inner.start_soon(sleeper, name="sleeper")
                    with tether.move_on_after(5):
                        await tether.sleep_forever()

        with client, served, listener:
            async with tether.open_nursery() as outer:
                await lock.acquire()
                outer.start_soon(locked, name="locked")
                outer.start_soon(reader, name="reader")
                outer.start_soon(tether.to_thread.run_sync, release.wait, name="threaded")
                outer.start_soon(shielded, name="shielded")
                await wait_all_tasks_blocked()
                tree = tether.debug.format_task_tree()
                local, peer = served.getsockname()[1], client.getsockname()[1]
                tree = tree.replace(f"socket 127.0.0.1:{local} -> 127.0.0.1:{peer}", "SOCKET")
                tree = tree.replace(f"fd {served.fileno()} ", "fd FD ")
                release.set()
                shield_scope.cancel()
                outer.cancel_scope.cancel()
                lock.release()
        return tree

    tree = tether.run(main, clock=MockClock())
    assert normalized(tree) == (
        "tether task tree (pid P): 7 tasks (1 running, 0 runnable, 6 blocked)\n"
        "task '<init>' (system): blocked: waiting for the main task to exit\n"
        "    at tether/_core/_run.py:N in _init\n"
        "  system nursery (deadline: none, shield: no, cancel_called: no)\n"
        "    task 'main': running\n"
        "        at THIS:N in main\n"
        "      nursery (deadline: none, shield: no, cancel_called: no)\n"
        "        task 'locked': blocked: Lock.acquire\n"
        "            at THIS:N in locked\n"
        "        task 'reader': blocked: reading fd FD (SOCKET)\n"
        "            at THIS:N in reader\n"
        "        task 'threaded': blocked: waiting for a worker thread: to_thread.run_sync(Event.wait)\n"
        "            at tether/_threads.py:N in to_thread_run_sync\n"
        "        task 'shielded': blocked: sleeping forever\n"
        "            at THIS:N in shielded\n"
        "          cancel scope (deadline: none, shield: yes, cancel_called: no)\n"
        "            nursery (deadline: none, shield: no, cancel_called: no)\n"
        "              task 'sleeper': blocked: sleeping until +3.2 s\n"
        "                  at THIS:N in sleeper\n"
        "              cancel scope of 'shielded' (deadline: +5.0 s, shield: no, cancel_called: no)\n"
    )


def test_cancelled_scope_shows_reason_and_its_tasks_become_runnable() -> None:
    async def main() -> str:
        name_this_task("main")
        async with tether.open_nursery() as nursery:
            nursery.start_soon(tether.sleep_forever, name="forever")
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel("enough")
            return tether.debug.format_task_tree()

    tree = tether.run(main, clock=MockClock())
    assert "    task 'main': running\n" in tree
    assert (
        "      nursery (deadline: none, shield: no, cancel_called: yes, "
        "reason: explicit 'enough' by task 'main')\n"
        "        task 'forever': runnable\n"
    ) in tree


def wait_words(tree: str, task_name: str) -> str:
    found = re.search(rf"task '{re.escape(task_name)}': blocked: (.*)\n", tree)
    assert found is not None, tree
    return found.group(1)


def test_waits_are_described_in_words() -> None:
    async def main() -> str:
        event = tether.Event()
        send_channel, receive_channel = tether.open_memory_channel[int](0)
        full_send, _full_receive = tether.open_memory_channel[int](0)
        semaphore = tether.Semaphore(0)

        async def iterate() -> None:
            async for _ in receive_channel:
                pass

        async with tether.open_nursery() as nursery:
            nursery.start_soon(event.wait, name="event")
            nursery.start_soon(receive_channel.receive, name="receive")
            nursery.start_soon(iterate, name="iterate")
            nursery.start_soon(full_send.send, 1, name="send")
            nursery.start_soon(semaphore.acquire, name="semaphore")
            nursery.start_soon(tether.sleep_forever, name="forever")
            nursery.start_soon(wait_all_tasks_blocked, 10, name="idle")
            await wait_all_tasks_blocked()
            tree = tether.debug.format_task_tree()
            nursery.cancel_scope.cancel()
        del send_channel
        return tree

    tree = tether.run(main, clock=MockClock())
    assert wait_words(tree, "event") == "Event.wait"
    assert wait_words(tree, "receive") == "receiving from a memory channel"
    assert wait_words(tree, "iterate") == "receiving from a memory channel"
    assert wait_words(tree, "send") == "sending to a memory channel"
    assert wait_words(tree, "semaphore") == "Semaphore.acquire"
    assert wait_words(tree, "forever") == "sleeping forever"
    assert wait_words(tree, "idle") == "wait_all_tasks_blocked()"
    # A task that is itself a tether function shows that function's frame.
    assert re.search(r"task 'event': .*\n +at tether/_sync.py:\d+ in wait\n", tree)


def test_task_in_nursery_start_waits_for_started() -> None:
    async def server(task_status: tether.TaskStatus[None] = tether.TASK_STATUS_IGNORED) -> None:
        await tether.sleep(1)
        task_status.started()

    async def main() -> str:
        async with tether.open_nursery() as nursery:

            async def starter() -> None:
                await nursery.start(server, name="server")

            nursery.start_soon(starter, name="starter")
            await wait_all_tasks_blocked()
            tree = tether.debug.format_task_tree()
            nursery.cancel_scope.cancel()
        return tree

    tree = normalized(tether.run(main, clock=MockClock()))
    assert (
        "        task 'starter': blocked: "
        "Nursery.start: waiting for the new task to call task_status.started()\n"
        "            at THIS:N in starter\n"
        "          nursery (deadline: none, shield: no, cancel_called: no)\n"
        "            task 'server': blocked: sleeping until +1.0 s\n"
    ) in tree


def test_custom_wait_names_the_function_that_waits() -> None:
    async def park_here() -> None:
        await tether.lowlevel.wait_task_rescheduled(lambda _: tether.lowlevel.Abort.SUCCEEDED)

    async def main() -> str:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(park_here, name="custom")
            await wait_all_tasks_blocked()
            tree = tether.debug.format_task_tree()
            nursery.cancel_scope.cancel()
        return tree

    assert wait_words(tether.run(main, clock=MockClock()), "custom") == "wait_task_rescheduled()"


def test_fds_are_described_by_kind() -> None:
    read_end, write_end = os.pipe()
    left, right = socket.socketpair()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        assert describe_fd(read_end) == "a pipe"
        assert describe_fd(left.fileno()) == "Unix socket pair"
        assert describe_fd(listener.fileno()) == f"listening socket 127.0.0.1:{listener.getsockname()[1]}"
        listener.getsockname()  # describing an fd leaves it open and usable
    finally:
        for fd in (read_end, write_end):
            os.close(fd)
        left.close()
        right.close()
        listener.close()


def test_task_waiting_on_a_plain_fd_shows_it() -> None:
    read_end, write_end = os.pipe()

    async def main() -> str:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(tether.lowlevel.wait_readable, read_end, name="pipe reader")
            await wait_all_tasks_blocked()
            tree = tether.debug.format_task_tree()
            nursery.cancel_scope.cancel()
        return tree

    try:
        tree = tether.run(main, clock=MockClock())
    finally:
        os.close(read_end)
        os.close(write_end)
    assert wait_words(tree, "pipe reader") == f"reading fd {read_end} (a pipe)"


def test_format_task_tree_outside_a_run_raises() -> None:
    with pytest.raises(RuntimeError, match="must be called from async context"):
        tether.debug.format_task_tree()


def test_dump_task_tree_writes_to_stderr_or_the_file_given(capsys: pytest.CaptureFixture[str]) -> None:
    buffer = io.StringIO()

    async def main() -> None:
        tether.debug.dump_task_tree()
        tether.debug.dump_task_tree(buffer)

    tether.run(main)
    assert normalized(capsys.readouterr().err) == normalized(buffer.getvalue())
    assert buffer.getvalue().startswith(f"tether task tree (pid {os.getpid()}): 2 tasks")


def test_dump_on_signal_prints_the_tree_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        tether.debug.dump_on_signal(signal.SIGUSR1)

        async def main() -> None:
            name_this_task("main")
            signal.raise_signal(signal.SIGUSR1)

        tether.run(main)
        inside = capsys.readouterr().err
        signal.raise_signal(signal.SIGUSR1)
        outside = capsys.readouterr().err
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert inside.startswith("tether task tree")
    assert "task 'main': running" in inside
    assert outside == "tether: no run in progress\n"
