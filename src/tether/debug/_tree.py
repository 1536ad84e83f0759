"""The task-tree dump: every task of a run, under the nursery that owns it.

The tree follows the cancel-scope tree from the root task down.  A task's
own scopes (the ones it entered) form one chain, outermost first, and each
scope in it is printed one level deeper than the last; under a nursery's
scope come the nursery's children, each with its own chain.  So indentation
means "inside": a task is inside every scope printed above it at a smaller
indentation.
"""

from __future__ import annotations

import math
import os
import re
import signal
import sys
from collections import Counter
from typing import TYPE_CHECKING, TextIO

from .._core import RUN, current_runner
from ._waits import TaskState, await_frames, describe_wait, format_delta, shown_frames, task_state

if TYPE_CHECKING:
    from .._core import CancelScope, Runner, Task

_INDENT = "  "
_TASK_REPR = re.compile(r"<Task (.*) at 0x[0-9a-f]+>")


def format_task_tree() -> str:
    """Return a picture of the current run: every task, grouped under the nursery that owns it.

    For each nursery and cancel scope: its deadline (seconds from now),
    whether it is shielded, whether it was cancelled and why.  For each task:
    its name, its state (running, runnable or blocked), what it waits on in
    words, and its innermost frames outside tether (``file:line in function``,
    innermost first).

    Raises:
        RuntimeError: called outside a tether run.
    """
    return format_runner_tree(current_runner())


def dump_task_tree(file: TextIO | None = None) -> None:
    """Write ``format_task_tree()`` to ``file`` (default: ``sys.stderr``).

    Raises:
        RuntimeError: called outside a tether run.
    """
    text = format_task_tree()
    out = sys.stderr if file is None else file
    out.write(text)
    out.flush()


def dump_on_signal(signum: int = signal.SIGUSR1) -> None:
    """From now on, print the task tree to stderr whenever signal ``signum`` arrives.

    ``kill -USR1 <pid>`` then shows what a stuck program is doing, even if a
    task is stuck in a loop without checkpoints (the handler runs between
    two bytecodes of the main thread).  Outside a run the handler says so.
    Replaces the signal's previous handler for the rest of the process.

    Args:
        signum: the signal to handle (default ``signal.SIGUSR1``).

    Raises:
        ValueError: not called from the main thread (Python's rule for
            signal handlers), or ``signum`` is not a valid signal.
    """
    signal.signal(signum, _dump_from_signal)


def _dump_from_signal(signum: int, frame: object) -> None:
    # In the main thread, between two bytecodes: possibly in the middle of
    # the loop's own code.  Formatting only reads; a failure is reported,
    # never raised into the interrupted code.
    runner = RUN.runner
    try:
        text = format_runner_tree(runner) if runner is not None else "tether: no run in progress\n"
    except Exception as error:
        text = f"tether: could not format the task tree: {error!r}\n"
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:
        pass


def format_runner_tree(runner: Runner) -> str:
    tree = _TreeWriter(runner)
    root = runner.init_task
    if root is not None:
        tree.task(root, 0)
    counts = tree.counts
    total = sum(counts.values())
    header = (
        f"tether task tree (pid {os.getpid()}): {total} task{'' if total == 1 else 's'} "
        f"({counts[TaskState.RUNNING]} running, {counts[TaskState.RUNNABLE]} runnable, "
        f"{counts[TaskState.BLOCKED]} blocked)"
    )
    lines = [header, *tree.lines]
    missing = runner.tasks_living - total
    if missing > 0:
        lines.append(f"({missing} more task{'' if missing == 1 else 's'} not reachable from the root)")
    return "\n".join(lines) + "\n"


class _TreeWriter:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.now = runner.clock.current_time()
        self.lines: list[str] = []
        self.counts: Counter[TaskState] = Counter()

    def task(self, task: Task, depth: int) -> None:
        runner = self.runner
        state = task_state(runner, task)
        self.counts[state] += 1
        frames = await_frames(task)
        system = " (system)" if _is_system(runner, task) else ""
        line = f"{_INDENT * depth}task {task.name!r}{system}: {state.value}"
        if state is TaskState.BLOCKED:
            line += f": {describe_wait(runner, task, frames)}"
        self.lines.append(line)
        for location in shown_frames(frames):
            self.lines.append(f"{_INDENT * (depth + 2)}at {location}")
        depth += 1
        # Below a nursery, the task's further scopes sit beside the
        # nursery's children: they are named with their task.
        owner = ""
        for scope in _own_scopes(task):
            self.scope(scope, depth, owner)
            nursery = scope._nursery
            if nursery is not None:
                for child in list(nursery._children):
                    self.task(child, depth + 1)
                owner = f" of {task.name!r}"
            depth += 1

    def scope(self, scope: CancelScope, depth: int, owner: str) -> None:
        nursery = scope._nursery
        if nursery is None:
            kind = "cancel scope"
        elif nursery is self.runner.system_nursery:
            kind = "system nursery"
        else:
            kind = "nursery"
        self.lines.append(f"{_INDENT * depth}{kind}{owner} ({self.scope_facts(scope)})")

    def scope_facts(self, scope: CancelScope) -> str:
        deadline = scope._deadline
        facts = [
            f"deadline: {'none' if deadline == math.inf else format_delta(deadline - self.now)}",
            f"shield: {'yes' if scope._shield else 'no'}",
            f"cancel_called: {'yes' if scope._cancel_called else 'no'}",
        ]
        info = scope._cancel_info
        if info is not None:
            source, source_task, reason = info
            words: str = source
            if reason:
                words += f" {reason!r}"
            if source_task:
                found = _TASK_REPR.fullmatch(source_task)
                words += f" by task {found.group(1) if found else source_task}"
            facts.append(f"reason: {words}")
        return ", ".join(facts)


def _own_scopes(task: Task) -> list[CancelScope]:
    # The scopes ``task`` entered, outermost first (the root scope, which has
    # no parent, is the run's and is not shown).
    chain = []
    scope: CancelScope | None = task._cancel_status
    while scope is not None and scope._task is task and scope._parent is not None:
        chain.append(scope)
        scope = scope._parent
    chain.reverse()
    return chain


def _is_system(runner: Runner, task: Task) -> bool:
    if task is runner.init_task:
        return True
    nursery = task._parent_nursery
    return nursery is not None and nursery is runner.system_nursery and task is not runner.main_task
