"""``python -m tether ps [PID]``: list tether processes, or print one's task tree.

The client side of the monitor (``_monitor.py``): it finds sockets named
``<pid>.sock`` (or ``<pid>.<n>.sock``) in the monitor directories, connects,
and prints what the monitor writes.  Plain blocking sockets: this runs
outside any tether run.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from typing import Final, TextIO

from .._core._debug_hooks import MONITOR_VARIABLE
from ._monitor import socket_dirs

PS_USAGE: Final = """\
usage: python -m tether ps          list the tether processes with a monitor
       python -m tether ps PID      print the task tree of process PID
"""
# Seconds to wait for a monitor's answer: it answers from its event loop,
# which a task running without checkpoints keeps busy.
ANSWER_TIMEOUT: Final = 5.0

_SOCKET_NAME = re.compile(r"(\d+)(?:\.(\d+))?\.sock")


def ps_main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``python -m tether ps`` with ``argv`` (the arguments after ``ps``); return the exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if not argv:
        return _list_processes(out)
    if argv[0] in ("-h", "--help"):
        out.write(PS_USAGE)
        return 0
    if len(argv) > 1 or not argv[0].isdigit():
        err.write(f"python -m tether ps: expected a process ID, got {' '.join(argv)!r}\n\n{PS_USAGE}")
        return 2
    return _show_tree(int(argv[0]), out, err)


def monitor_sockets(pid: int | None = None) -> list[tuple[int, str]]:
    """``(pid, socket path)`` of every monitor socket visible to us (of ``pid`` only, if given)."""
    found = []
    seen: set[str] = set()
    for directory in socket_dirs():
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            match = _SOCKET_NAME.fullmatch(name)
            if match is None or name in seen:
                continue
            owner = int(match.group(1))
            if pid is None or owner == pid:
                seen.add(name)
                found.append((owner, os.path.join(directory, name), int(match.group(2) or 0)))
    found.sort(key=lambda entry: (entry[0], entry[2]))
    return [(owner, path) for owner, path, _ in found]


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            raw = file.read()
    except OSError:
        return "?"
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


def _list_processes(out: TextIO) -> int:
    live = [(pid, path) for pid, path in monitor_sockets() if _process_exists(pid)]
    if not live:
        out.write(
            f"no tether process with a monitor found (start one with {MONITOR_VARIABLE}=1 in its "
            "environment, or call tether.debug.serve_monitor() in its run)\n"
        )
        return 0
    out.write(f"{'PID':>7}  COMMAND\n")
    listed: set[int] = set()
    for pid, _ in live:
        if pid not in listed:
            listed.add(pid)
            out.write(f"{pid:>7}  {_command_line(pid)}\n")
    return 0


def _show_tree(pid: int, out: TextIO, err: TextIO) -> int:
    if not _process_exists(pid):
        err.write(f"python -m tether ps: there is no process {pid}\n")
        return 1
    answers = []
    for _, path in monitor_sockets(pid):
        try:
            answers.append(_ask(path))
        except (ConnectionRefusedError, FileNotFoundError):
            continue  # a stale socket, or the run just ended
        except TimeoutError:
            err.write(
                f"python -m tether ps: process {pid} did not answer within {ANSWER_TIMEOUT:g} s: its "
                "event loop is busy (a task running without reaching a checkpoint?)\n"
            )
            return 1
    if not answers:
        err.write(
            f"python -m tether ps: process {pid} has no tether monitor. Start it with "
            f"{MONITOR_VARIABLE}=1 in its environment (or call tether.debug.serve_monitor() "
            "inside its run), then try again.\n"
        )
        return 1
    status = 0
    for answer in answers:
        if answer.startswith("refused:"):
            err.write(f"python -m tether ps: process {pid} {answer}")
            status = 1
        else:
            out.write(answer)
    return status


def _ask(path: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(ANSWER_TIMEOUT)
        client.connect(path)
        chunks = []
        while True:
            chunk = client.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")
