"""Black-box tests of run_process, lowlevel.open_process and Process.

Children are ``sys.executable -c ...``; every wait is bounded by ``fail_after``
on the real clock (a child takes real time to start).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

TIMEOUT = 20.0
PY = sys.executable


def python(code: str) -> list[str]:
    return [PY, "-c", code]


SLEEP_FOREVER = python("import time\nwhile True: time.sleep(1)")
ECHO_STDIN = python("import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())")


@pytest.fixture
def rrun(impl) -> Callable[..., Any]:
    """``run`` on the real clock, the whole run bounded by ``TIMEOUT``."""

    def _run(async_fn: Callable[..., Any], *args: Any) -> Any:
        async def bounded():
            with impl.fail_after(TIMEOUT):
                return await async_fn(*args)

        return impl.run(bounded)

    return _run


def zombie_free(pid: int) -> bool:
    """True if ``pid`` is not an unreaped child of ours."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


# ---------------------------------------------------------------- run_process


def test_run_process_returns_a_completed_process(rrun, impl) -> None:
    async def main():
        return await impl.run_process(python("pass"))

    result = rrun(main)
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 0
    assert result.stdout is None and result.stderr is None
    assert result.args == python("pass")


def test_run_process_captures_stdout_and_stderr(rrun, impl) -> None:
    code = "import sys; sys.stdout.write('out'); sys.stderr.write('err')"

    async def main():
        return await impl.run_process(python(code), capture_stdout=True, capture_stderr=True)

    result = rrun(main)
    assert (result.stdout, result.stderr) == (b"out", b"err")


def test_run_process_feeds_stdin(rrun, impl) -> None:
    data = b"x" * 200_000  # more than a pipe buffer

    async def main():
        return await impl.run_process(ECHO_STDIN, stdin=data, capture_stdout=True)

    assert rrun(main).stdout == data


def test_run_process_default_stdin_is_empty(rrun, impl) -> None:
    async def main():
        return await impl.run_process(ECHO_STDIN, capture_stdout=True)

    assert rrun(main).stdout == b""


def test_run_process_stderr_to_stdout(rrun, impl) -> None:
    code = "import sys; sys.stdout.write('a'); sys.stdout.flush(); sys.stderr.write('b')"

    async def main():
        return await impl.run_process(python(code), capture_stdout=True, stderr=subprocess.STDOUT)

    assert rrun(main).stdout == b"ab"


def test_run_process_nonzero_exit_raises_called_process_error_with_output(rrun, impl) -> None:
    code = "import sys; sys.stdout.write('partial'); sys.stderr.write('why'); sys.exit(3)"

    async def main():
        await impl.run_process(python(code), capture_stdout=True, capture_stderr=True)

    with pytest.raises(subprocess.CalledProcessError) as info:
        rrun(main)
    assert info.value.returncode == 3
    assert info.value.output == b"partial"
    assert info.value.stderr == b"why"
    assert info.value.cmd == python(code)


def test_run_process_check_false_returns_the_status(rrun, impl) -> None:
    async def main():
        return await impl.run_process(python("raise SystemExit(5)"), check=False)

    assert rrun(main).returncode == 5


def test_run_process_with_shell(rrun, impl) -> None:
    async def main():
        return await impl.run_process("echo shell-ok", shell=True, capture_stdout=True)

    assert rrun(main).stdout == b"shell-ok\n"


def test_run_process_passes_popen_options(rrun, impl, tmp_path) -> None:
    code = "import os; print(os.getcwd(), os.environ['TETHER_TEST_VAR'])"

    async def main():
        env = dict(os.environ, TETHER_TEST_VAR="yes")
        return await impl.run_process(python(code), cwd=tmp_path, env=env, capture_stdout=True)

    assert rrun(main).stdout.decode().split() == [str(tmp_path), "yes"]


def test_run_process_string_without_shell_raises_type_error(rrun, impl) -> None:
    async def main():
        await impl.run_process("ls -l")

    with pytest.raises(TypeError, match="shell"):
        rrun(main)


@pytest.mark.tether_only
def test_run_process_string_error_shows_both_fixes(rrun, impl) -> None:
    async def main():
        await impl.run_process("ls -l")

    with pytest.raises(TypeError) as info:
        rrun(main)
    assert "['ls', '-l']" in str(info.value)
    assert "shell=True" in str(info.value)


def test_run_process_sequence_with_shell_raises_type_error(rrun, impl) -> None:
    async def main():
        await impl.run_process(["echo", "x"], shell=True)

    with pytest.raises(TypeError):
        rrun(main)


def test_run_process_text_options_raise_type_error(rrun, impl) -> None:
    async def main():
        await impl.run_process(python("pass"), text=True)

    with pytest.raises(TypeError):
        rrun(main)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stdin": subprocess.PIPE},
        {"stdout": subprocess.PIPE},
        {"stderr": subprocess.PIPE},
        {"capture_stdout": True, "stdout": subprocess.DEVNULL},
        {"capture_stderr": True, "stderr": subprocess.DEVNULL},
    ],
)
def test_run_process_conflicting_arguments_raise_value_error(rrun, impl, kwargs) -> None:
    async def main():
        await impl.run_process(python("pass"), **kwargs)

    with pytest.raises(ValueError):
        rrun(main)


def test_run_process_str_stdin_raises_unicode_error(rrun, impl) -> None:
    async def main():
        await impl.run_process(python("pass"), stdin="text")

    with pytest.raises(UnicodeError):
        rrun(main)


def test_run_process_missing_program_raises_os_error(rrun, impl, tmp_path) -> None:
    async def main():
        await impl.run_process([str(tmp_path / "no-such-program")])

    with pytest.raises(FileNotFoundError):
        rrun(main)


def test_cancelled_run_process_terminates_and_reaps_the_child(rrun, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            process = await nursery.start(impl.run_process, SLEEP_FOREVER)
            nursery.cancel_scope.cancel()
        return process

    process = rrun(main)
    assert process.returncode == -signal.SIGTERM
    assert zombie_free(process.pid)


def test_cancelled_run_process_uses_deliver_cancel(rrun, impl) -> None:
    calls = []

    async def deliver_cancel(process):
        calls.append(process.pid)
        process.kill()

    async def main():
        async with impl.open_nursery() as nursery:
            process = await nursery.start(
                lambda task_status: impl.run_process(
                    SLEEP_FOREVER, deliver_cancel=deliver_cancel, task_status=task_status
                )
            )
            nursery.cancel_scope.cancel()
        return process

    process = rrun(main)
    assert calls == [process.pid]
    assert process.returncode == -signal.SIGKILL


def test_cancelled_run_process_kills_after_sigterm_is_ignored(impl) -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(1)"
    )

    async def main():
        async with impl.open_nursery() as nursery:
            process = await nursery.start(
                lambda task_status: impl.run_process(
                    python(code), stdout=subprocess.PIPE, task_status=task_status
                )
            )
            await process.stdout.receive_some()  # SIGTERM is ignored from now on
            nursery.cancel_scope.cancel()
        await process.stdout.aclose()
        return process

    clock = impl.testing.MockClock(autojump_threshold=0.1)  # skips the 5 s grace
    with pytest.warns(RuntimeWarning, match="SIGKILL"):
        process = impl.run(main, clock=clock)
    assert process.returncode == -signal.SIGKILL
    assert zombie_free(process.pid)


def test_run_process_with_nursery_start_gives_the_process(rrun, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            process = await nursery.start(
                lambda task_status: impl.run_process(
                    ECHO_STDIN,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    task_status=task_status,
                )
            )
            assert isinstance(process, impl.Process)
            await process.stdin.send_all(b"via pipe")
            await process.stdin.aclose()
            received = b""
            async for chunk in process.stdout:
                received += chunk
        return received, process.returncode

    assert rrun(main) == (b"via pipe", 0)


def test_run_process_leaks_no_fds(rrun, impl) -> None:
    async def main():
        await impl.run_process(ECHO_STDIN, stdin=b"x", capture_stdout=True, capture_stderr=True)

    rrun(main)
    before = open_fds()
    rrun(main)
    assert open_fds() - before == set()


# ---------------------------------------------------------------- open_process and Process


def test_open_process_with_pipes(rrun, impl) -> None:
    async def main():
        process = await impl.lowlevel.open_process(
            ECHO_STDIN, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        async with process.stdin, process.stdout:
            await process.stdin.send_all(b"ping")
            await process.stdin.aclose()
            data = b""
            while chunk := await process.stdout.receive_some():
                data += chunk
        return data, await process.wait()

    assert rrun(main) == (b"ping", 0)


def test_process_stdio_is_a_two_way_stream(rrun, impl) -> None:
    async def main():
        process = await impl.lowlevel.open_process(
            ECHO_STDIN, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert isinstance(process.stdio, impl.StapledStream)
        await process.stdio.send_all(b"both")
        await process.stdin.aclose()
        data = await process.stdio.receive_some()
        await process.stdio.aclose()
        await process.wait()
        return data

    assert rrun(main) == b"both"


def test_process_attributes(rrun, impl) -> None:
    async def main():
        process = await impl.lowlevel.open_process(python("pass"))
        assert process.stdin is None and process.stdout is None
        assert process.stderr is None and process.stdio is None
        assert isinstance(process.pid, int)
        assert process.args == python("pass")
        assert process.universal_newlines is False
        assert process.encoding is None and process.errors is None
        return await process.wait(), process.returncode, process.poll()

    assert rrun(main) == (0, 0, 0)


def test_wait_is_a_checkpoint_even_after_exit(rrun, impl) -> None:
    async def main():
        process = await impl.lowlevel.open_process(python("pass"))
        await process.wait()
        with impl.testing.assert_checkpoints():
            assert await process.wait() == 0

    rrun(main)


def test_returncode_is_none_while_running_and_updates_by_itself(rrun, impl) -> None:
    async def main():
        process = await impl.lowlevel.open_process(SLEEP_FOREVER)
        running = process.returncode
        process.kill()
        await process.wait()
        return running, process.returncode

    assert rrun(main) == (None, -signal.SIGKILL)


@pytest.mark.parametrize("method", ["terminate", "kill", "send_signal"])
def test_signalling_methods(rrun, impl, method) -> None:
    expected = {"terminate": -signal.SIGTERM, "kill": -signal.SIGKILL, "send_signal": -signal.SIGUSR1}

    async def main():
        process = await impl.lowlevel.open_process(SLEEP_FOREVER)
        if method == "send_signal":
            process.send_signal(signal.SIGUSR1)
        else:
            getattr(process, method)()
        return await process.wait()

    assert rrun(main) == expected[method]


def test_cancelled_wait_leaves_the_process_running(rrun, impl) -> None:
    async def main():
        process = await impl.lowlevel.open_process(SLEEP_FOREVER)
        with impl.move_on_after(0.05) as scope:
            await process.wait()
        still_running = process.returncode is None
        process.kill()
        return scope.cancelled_caught, still_running, await process.wait()

    assert rrun(main) == (True, True, -signal.SIGKILL)


def test_two_tasks_can_wait_for_one_process(rrun, impl) -> None:
    async def main():
        process = await impl.lowlevel.open_process(SLEEP_FOREVER)
        results = []

        async def waiter():
            results.append(await process.wait())

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter)
            nursery.start_soon(waiter)
            await impl.testing.wait_all_tasks_blocked()
            process.kill()
        return results

    assert rrun(main) == [-signal.SIGKILL, -signal.SIGKILL]


def test_process_has_no_public_constructor(impl) -> None:
    with pytest.raises(TypeError):
        impl.Process(None, None, None, None)


def test_process_repr_shows_state(rrun, impl) -> None:
    async def main():
        process = await impl.lowlevel.open_process(python("raise SystemExit(2)"))
        running = repr(process)
        await process.wait()
        return running, repr(process)

    running, done = rrun(main)
    assert "running" in running or "exited" in running
    assert "exited with status 2" in done


def test_open_process_missing_program_leaks_no_fds(rrun, impl, tmp_path) -> None:
    async def main():
        with pytest.raises(FileNotFoundError):
            await impl.lowlevel.open_process(
                [str(tmp_path / "missing")], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )

    rrun(main)
    before = open_fds()
    rrun(main)
    assert open_fds() - before == set()


@pytest.mark.tether_only
def test_wait_without_a_pidfd_falls_back_to_a_waitid_thread(rrun, impl, monkeypatch) -> None:
    import tether._subprocess

    monkeypatch.setattr(tether._subprocess, "_open_pidfd", lambda pid: None)

    async def main():
        quick = await impl.lowlevel.open_process(python("raise SystemExit(4)"))
        slow = await impl.lowlevel.open_process(SLEEP_FOREVER)
        with impl.move_on_after(0.05):
            await slow.wait()  # cancelled: the waiting thread stays for the retry
        slow.kill()
        return await quick.wait(), await slow.wait()

    assert rrun(main) == (4, -signal.SIGKILL)
