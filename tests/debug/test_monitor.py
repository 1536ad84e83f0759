"""The monitor socket and ``python -m tether ps``.

Every test points ``XDG_RUNTIME_DIR`` at a fresh directory (the
``runtime_dir`` fixture), so sockets of other processes never interfere.
The suite runs as root, so refusing another user is tested by changing the
uid the monitor believes it runs as.
"""

from __future__ import annotations

import io
import os
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import tether
import tether.debug
from tether.debug import _monitor
from tether.debug._ps import ANSWER_TIMEOUT, ps_main
from tether.testing import MockClock


def ask(path: str) -> str:
    """What the monitor at ``path`` answers (blocking: call it in a thread)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(ANSWER_TIMEOUT)
        client.connect(path)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def mode_of(path: str | Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_monitor_answers_with_the_task_tree_and_removes_its_socket(runtime_dir: Path) -> None:
    async def main() -> tuple[str, str]:
        path = tether.debug.serve_monitor()
        assert tether.debug.serve_monitor() == path  # once per run
        return path, await tether.to_thread.run_sync(ask, path)

    path, answer = tether.run(main)
    assert path == str(runtime_dir / "tether" / f"{os.getpid()}.sock")
    assert answer.startswith(f"tether task tree (pid {os.getpid()})")
    assert "task 'tether.debug monitor' (system): running" in answer
    assert not os.path.exists(path)


def test_socket_is_private_to_the_user(runtime_dir: Path) -> None:
    async def main() -> tuple[int, int]:
        path = tether.debug.serve_monitor()
        return mode_of(path), mode_of(os.path.dirname(path))

    assert tether.run(main) == (0o600, 0o700)


def test_directory_with_loose_permissions_is_tightened(runtime_dir: Path) -> None:
    directory = runtime_dir / "tether"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    assert _monitor.private_dir(str(directory)) == str(directory)
    assert mode_of(directory) == 0o700


def test_directory_owned_by_another_user_is_refused(runtime_dir: Path) -> None:
    directory = runtime_dir / "tether"
    directory.mkdir(mode=0o700)
    os.chown(directory, 12345, 12345)
    with pytest.raises(PermissionError, match="is not a directory owned by uid"):
        _monitor.private_dir(str(directory))


def test_symlink_in_place_of_the_directory_is_refused(runtime_dir: Path, tmp_path: Path) -> None:
    (runtime_dir / "tether").symlink_to(tmp_path)
    with pytest.raises(PermissionError, match="is not a directory owned by uid"):
        _monitor.private_dir(str(runtime_dir / "tether"))


def test_without_a_runtime_dir_the_sockets_go_to_a_private_temp_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert _monitor.socket_dirs() == [os.path.join(tempfile.gettempdir(), f"tether-{os.geteuid()}")]


def test_peer_of_another_uid_is_not_allowed() -> None:
    assert _monitor.peer_allowed(1000, 1000)
    assert not _monitor.peer_allowed(1001, 1000)
    assert not _monitor.peer_allowed(0, 1000)


def test_monitor_refuses_a_client_of_another_uid(runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_monitor, "own_uid", lambda: os.geteuid() + 1)

    async def main() -> str:
        path = tether.debug.serve_monitor()
        return await tether.to_thread.run_sync(ask, path)

    uid = os.geteuid()
    answer = tether.run(main)
    assert answer == f"refused: uid {uid} may not read the task tree of a process of uid {uid + 1}\n"


def test_monitor_peer_uid_comes_from_the_kernel(runtime_dir: Path) -> None:
    left, right = socket.socketpair()
    with left, right:
        assert _monitor.peer_uid(tether.socket.from_stdlib_socket(left)) == os.geteuid()


def test_stale_socket_of_a_dead_process_is_replaced(runtime_dir: Path) -> None:
    directory = Path(_monitor.private_dir(_monitor.socket_dirs()[0]))
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(directory / f"{os.getpid()}.sock"))
    stale.close()  # the file stays, nobody listens

    async def main() -> str:
        return tether.debug.serve_monitor()

    assert tether.run(main) == str(directory / f"{os.getpid()}.sock")


def test_second_concurrent_run_in_the_process_gets_its_own_socket(runtime_dir: Path) -> None:
    async def serve() -> str:
        return tether.debug.serve_monitor()

    async def main() -> tuple[str, str]:
        first = tether.debug.serve_monitor()
        second = await tether.to_thread.run_sync(tether.run, serve)
        return first, second

    first, second = tether.run(main)
    assert os.path.basename(first) == f"{os.getpid()}.sock"
    assert os.path.basename(second) == f"{os.getpid()}.1.sock"


def test_environment_variable_starts_the_monitor_in_every_run(
    runtime_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_MONITOR", "1")

    async def main() -> list[str]:
        return os.listdir(runtime_dir / "tether")

    assert tether.run(main) == [f"{os.getpid()}.sock"]
    assert os.listdir(runtime_dir / "tether") == []


def test_monitor_never_keeps_the_run_from_finishing(runtime_dir: Path) -> None:
    async def main() -> float:
        tether.debug.serve_monitor()
        await tether.sleep(10)
        return tether.current_time()

    assert tether.run(main, clock=MockClock(autojump_threshold=0)) == 10.0


# ---- python -m tether ps -------------------------------------------------------------

# Waits until the test closes its stdin; the monitor starts with the run.
WAITING_PROGRAM = """\
import tether

async def main():
    event = tether.Event()
    async with tether.open_nursery() as nursery:
        nursery.start_soon(event.wait, name="waiting for godot")
        await tether.sleep(0)
        print("ready", flush=True)
        await tether.lowlevel.wait_readable(0)  # until the test closes our stdin
        nursery.cancel_scope.cancel()

tether.run(main)
"""


def run_ps(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tether", "ps", *args], capture_output=True, text=True, env=env, timeout=30
    )


@pytest.fixture
def child_env(runtime_dir: Path) -> dict[str, str]:
    return {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)}


def test_ps_prints_the_tree_of_a_live_process_and_lists_it(child_env: dict[str, str]) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", WAITING_PROGRAM],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**child_env, "TETHER_MONITOR": "1"},
    ) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
            tree = run_ps(str(child.pid), env=child_env)
            listing = run_ps(env=child_env)
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=30)
    assert (tree.returncode, tree.stderr) == (0, "")
    assert tree.stdout.startswith(f"tether task tree (pid {child.pid}): 4 tasks")
    assert "task 'waiting for godot': blocked: Event.wait" in tree.stdout
    assert "blocked: reading fd 0 (a pipe)" in tree.stdout
    assert listing.returncode == 0
    assert listing.stdout.splitlines()[0].split() == ["PID", "COMMAND"]
    assert any(line.split()[0] == str(child.pid) for line in listing.stdout.splitlines()[1:])
    assert child.returncode == 0
    assert os.listdir(Path(child_env["XDG_RUNTIME_DIR"]) / "tether") == []


def test_ps_of_a_process_without_monitor_names_the_variable(child_env: dict[str, str]) -> None:
    result = run_ps(str(os.getpid()), env=child_env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "has no tether monitor" in result.stderr
    assert "TETHER_MONITOR=1" in result.stderr


def test_ps_of_a_missing_process_fails() -> None:
    err = io.StringIO()
    assert ps_main(["999999999"], io.StringIO(), err) == 1
    assert err.getvalue() == "python -m tether ps: there is no process 999999999\n"


def test_ps_with_a_bad_argument_is_a_usage_error() -> None:
    err = io.StringIO()
    assert ps_main(["nope"], io.StringIO(), err) == 2
    assert err.getvalue().startswith("python -m tether ps: expected a process ID, got 'nope'\n\nusage:")


def test_ps_without_monitored_processes_says_how_to_start_one(runtime_dir: Path) -> None:
    out = io.StringIO()
    assert ps_main([], out, io.StringIO()) == 0
    assert "TETHER_MONITOR=1" in out.getvalue()
