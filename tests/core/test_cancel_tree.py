"""The cancel-status tree, checked on the objects themselves.

Invariant (``_cancel.py``): for every active scope, ``effectively_cancelled
== cancel_called or (not shield and parent.effectively_cancelled)``; every
child scope points back at its parent; every living task's innermost scope
is an active node of the one tree.
"""

from __future__ import annotations

from typing import Any

import pytest

import tether
from tether import _core
from tether._core._cancel import _ScopeState
from tether.testing import wait_all_tasks_blocked


def tree_root() -> _core.CancelScope:
    scope: _core.CancelScope | None = _core.current_root_task()._cancel_status  # type: ignore[union-attr]
    assert scope is not None
    while scope._parent is not None:
        scope = scope._parent
    return scope


def all_tasks() -> list[_core.Task]:
    root = _core.current_root_task()
    assert root is not None
    found, pending = [], [root]
    while pending:
        task = pending.pop()
        found.append(task)
        for nursery in task._child_nurseries or ():
            pending.extend(nursery._children)
    return found


def assert_tree_consistent() -> None:
    root = tree_root()
    nodes: set[int] = set()
    stack = [root]
    while stack:
        scope = stack.pop()
        nodes.add(id(scope))
        assert scope._state is _ScopeState.ACTIVE, scope
        parent = scope._parent
        expected = scope._cancel_called or (
            not scope._shield and parent is not None and parent.effectively_cancelled
        )
        assert scope.effectively_cancelled == expected, scope
        for child in scope._children or ():
            assert child._parent is scope
            stack.append(child)
    for task in all_tasks():
        assert id(task._cancel_status) in nodes, task


async def blocked_until_cancelled(record: list[str], label: str) -> None:
    try:
        await tether.sleep_forever()
    except tether.Cancelled:
        record.append(label)
        raise


# ---------------------------------------------------------------- nested scopes


def test_cancel_outer_marks_every_nested_scope(run) -> None:
    async def main() -> None:
        with _core.CancelScope() as outer:
            with _core.CancelScope() as middle:
                with _core.CancelScope() as inner:
                    assert_tree_consistent()
                    outer.cancel()
                    assert (outer.effectively_cancelled, middle.effectively_cancelled) == (True, True)
                    assert inner.effectively_cancelled
                    assert not inner.cancel_called
                    assert_tree_consistent()

    run(main)


def test_cancel_inner_leaves_outer_alone(run) -> None:
    async def main() -> None:
        with _core.CancelScope() as outer:
            with _core.CancelScope() as inner:
                inner.cancel()
                assert inner.effectively_cancelled
                assert not outer.effectively_cancelled
                assert_tree_consistent()
            assert not outer.effectively_cancelled

    run(main)


def test_shield_toggling_recomputes_subtree(run) -> None:
    async def main() -> None:
        with _core.CancelScope() as outer:
            with _core.CancelScope(shield=True) as shielded:
                with _core.CancelScope() as inner:
                    outer.cancel()
                    assert not shielded.effectively_cancelled
                    assert not inner.effectively_cancelled
                    assert_tree_consistent()
                    shielded.shield = False
                    assert shielded.effectively_cancelled and inner.effectively_cancelled
                    assert_tree_consistent()
                    shielded.shield = True
                    assert not shielded.effectively_cancelled and not inner.effectively_cancelled
                    assert_tree_consistent()

    run(main)


def test_scope_entered_under_cancelled_parent(run) -> None:
    async def main() -> None:
        with _core.CancelScope() as outer:
            outer.cancel()
            with _core.CancelScope() as plain:
                assert plain.effectively_cancelled
            with _core.CancelScope(shield=True) as shielded:
                assert not shielded.effectively_cancelled
                assert_tree_consistent()

    run(main)


def test_scope_cancelled_before_entry_is_cancelled_on_entry(run) -> None:
    async def main() -> None:
        scope = _core.CancelScope()
        scope.cancel()
        assert scope.effectively_cancelled is False  # not in the tree yet
        with scope:
            assert scope.effectively_cancelled
            assert_tree_consistent()
            await _core.checkpoint()
        assert scope.cancelled_caught

    run(main)


def test_deadline_expiry_recomputes_subtree(run) -> None:
    async def main() -> None:
        with tether.move_on_after(5) as outer:
            with _core.CancelScope() as inner:
                try:
                    await tether.sleep_forever()
                finally:
                    assert outer.effectively_cancelled and inner.effectively_cancelled
                    assert_tree_consistent()
        assert outer.cancelled_caught

    run(main)


def test_exited_scope_leaves_the_tree(run) -> None:
    async def main() -> None:
        with _core.CancelScope() as outer:
            with _core.CancelScope() as inner:
                pass
            assert inner._state is _ScopeState.EXITED
            assert not outer._children
            assert _core.current_task()._cancel_status is outer
            assert_tree_consistent()

    run(main)


# ---------------------------------------------------------------- nurseries


def test_nursery_children_use_the_nursery_scope(run) -> None:
    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(tether.sleep_forever)
            nursery.start_soon(tether.sleep_forever)
            await wait_all_tasks_blocked()
            for task in nursery.child_tasks:
                assert task._cancel_status is nursery.cancel_scope
            assert_tree_consistent()
            nursery.cancel_scope.cancel()

    run(main)


def test_outer_cancel_reaches_nursery_children_but_not_shielded_ones(run) -> None:
    record: list[str] = []
    shields: list[_core.CancelScope] = []

    async def shielded_child() -> None:
        with _core.CancelScope(shield=True) as shield:
            shields.append(shield)
            await blocked_until_cancelled(record, "shielded")

    async def main() -> None:
        with _core.CancelScope() as outer:
            async with tether.open_nursery() as nursery:
                nursery.start_soon(blocked_until_cancelled, record, "plain")
                nursery.start_soon(shielded_child)
                await wait_all_tasks_blocked()
                outer.cancel()
                assert nursery.cancel_scope.effectively_cancelled
                assert not shields[0].effectively_cancelled
                with _core.CancelScope(shield=True):
                    await wait_all_tasks_blocked()
                    assert record == ["plain"]
                    [survivor] = nursery.child_tasks
                    assert survivor._cancel_status is shields[0]
                    assert survivor._abort_func is not None  # still blocked
                    assert_tree_consistent()
                    shields[0].cancel()
        assert outer.cancelled_caught

    run(main)
    assert record == ["plain", "shielded"]


def test_unshielding_wakes_the_blocked_task(run) -> None:
    record: list[str] = []
    shields: list[_core.CancelScope] = []

    async def child() -> None:
        with _core.CancelScope(shield=True) as shield:
            shields.append(shield)
            await blocked_until_cancelled(record, "child")

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(child)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            with _core.CancelScope(shield=True):
                await wait_all_tasks_blocked()
                assert record == []
                shields[0].shield = False
                assert shields[0].effectively_cancelled
                assert_tree_consistent()

    run(main)
    assert record == ["child"]


# ---------------------------------------------------------------- nursery.start()


def test_start_moves_task_into_the_target_nursery_scope(run) -> None:
    async def child(task_status: Any) -> None:
        task_status.started(_core.current_task())
        await tether.sleep_forever()

    async def main() -> None:
        async with tether.open_nursery() as target:
            task = await target.start(child)
            assert task._cancel_status is target.cancel_scope
            assert task in target._children
            assert task.parent_nursery is target
            assert task.eventual_parent_nursery is None
            assert_tree_consistent()
            target.cancel_scope.cancel()

    run(main)


def test_start_reparents_childs_inner_scope_into_target(run) -> None:
    record: list[str] = []

    async def child(task_status: Any) -> None:
        with _core.CancelScope() as inner:
            task_status.started(inner)
            await blocked_until_cancelled(record, "child")

    async def main() -> None:
        async with tether.open_nursery() as target:
            with _core.CancelScope() as caller_scope:
                inner = await target.start(child)
                assert inner._parent is target.cancel_scope
                assert inner in target.cancel_scope._children
                assert_tree_consistent()
                # The caller's scope no longer reaches the child.
                caller_scope.cancel()
                assert not inner.effectively_cancelled
            await wait_all_tasks_blocked()
            assert record == []
            target.cancel_scope.cancel()
            assert inner.effectively_cancelled
            assert_tree_consistent()

    run(main)
    assert record == ["child"]


def test_start_reparents_nested_scopes_and_child_nurseries(run) -> None:
    record: list[str] = []

    async def child(task_status: Any) -> None:
        with _core.CancelScope() as outer_own:
            async with tether.open_nursery() as own_nursery:
                own_nursery.start_soon(blocked_until_cancelled, record, "grandchild")
                with _core.CancelScope():
                    task_status.started(outer_own)
                    await blocked_until_cancelled(record, "child")

    async def main() -> None:
        async with tether.open_nursery() as target:
            outer_own = await target.start(child)
            assert outer_own._parent is target.cancel_scope
            await wait_all_tasks_blocked()
            assert_tree_consistent()
            target.cancel_scope.cancel()
            assert_tree_consistent()

    run(main)
    assert sorted(record) == ["child", "grandchild"]


def test_start_into_cancelled_target_cancels_child_at_once(run) -> None:
    record: list[str] = []

    async def child(task_status: Any) -> None:
        with _core.CancelScope() as inner:
            task_status.started(inner)
            await blocked_until_cancelled(record, "child")

    async def main() -> None:
        async with tether.open_nursery() as target:
            target.cancel_scope.cancel()
            with _core.CancelScope(shield=True):
                inner = await target.start(child)
                assert inner.effectively_cancelled
                assert_tree_consistent()

    run(main)
    assert record == ["child"]


def test_start_caller_cancelled_before_started_keeps_child_in_place(run) -> None:
    record: list[str] = []

    async def child(task_status: Any) -> None:
        await blocked_until_cancelled(record, "child")

    async def main() -> None:
        async with tether.open_nursery() as target:
            with tether.move_on_after(5):
                await target.start(child)
            assert not target.child_tasks
            assert_tree_consistent()

    run(main)
    assert record == ["child"]


# ---------------------------------------------------------------- repair after corruption


def test_exiting_outer_scope_first_repairs_the_stack(run) -> None:
    async def main() -> None:
        task = _core.current_task()
        home = task._cancel_status
        first, second = _core.CancelScope(), _core.CancelScope()
        first.__enter__()
        second.__enter__()
        with pytest.raises(RuntimeError, match="Cancel scope stack corrupted"):
            first.__exit__(None, None, None)
        assert task._cancel_status is home
        assert first._state is _ScopeState.EXITED
        assert second._state is _ScopeState.ABANDONED
        assert not home._children or (first not in home._children and second not in home._children)
        assert_tree_consistent()
        # The late __exit__ of the abandoned scope is a quiet no-op.
        assert second.__exit__(None, None, None) is False
        assert second._state is _ScopeState.EXITED
        assert task._cancel_status is home
        await _core.checkpoint()

    run(main)


def test_repaired_task_still_sees_outer_cancellation(run) -> None:
    async def main() -> None:
        with _core.CancelScope() as outer:
            first, second = _core.CancelScope(), _core.CancelScope()
            first.__enter__()
            second.__enter__()
            with pytest.raises(RuntimeError):
                first.__exit__(None, None, None)
            outer.cancel()
            assert_tree_consistent()
            with pytest.raises(tether.Cancelled):
                await _core.checkpoint()
            assert _core.current_task()._cancel_status is outer

    run(main)


def test_exit_from_another_task_reattaches_orphans(run) -> None:
    record: list[str] = []
    scopes: list[_core.CancelScope] = []

    async def owner() -> None:
        first, second = _core.CancelScope(), _core.CancelScope()
        first.__enter__()
        second.__enter__()
        scopes.extend([first, second])
        try:
            await tether.sleep_forever()
        except tether.Cancelled:
            record.append("owner cancelled")
        assert second.__exit__(None, None, None) is False

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(owner)
            await wait_all_tasks_blocked()
            first, second = scopes
            with pytest.raises(RuntimeError, match="from unrelated"):
                first.__exit__(None, None, None)
            assert second._parent is nursery.cancel_scope
            assert second in nursery.cancel_scope._children
            assert_tree_consistent()
            nursery.cancel_scope.cancel()
            assert second.effectively_cancelled

    run(main)
    assert record == ["owner cancelled"]


def test_task_exiting_inside_its_scope_is_repaired(run) -> None:
    async def leaves_scope_open() -> None:
        _core.CancelScope().__enter__()

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as caught:
            async with tether.open_nursery() as nursery:
                nursery.start_soon(leaves_scope_open)
                with _core.CancelScope(shield=True):
                    await wait_all_tasks_blocked()
                assert not nursery.cancel_scope._children
                assert_tree_consistent()
        [error] = caught.value.exceptions
        assert isinstance(error, RuntimeError)
        assert "still open" in str(error)

    run(main)


def test_nursery_scope_exit_in_nested_order_keeps_tree_consistent(run) -> None:
    async def main() -> None:
        for _ in range(3):
            async with tether.open_nursery() as outer:
                async with tether.open_nursery() as inner:
                    inner.start_soon(tether.sleep, 1)
                    outer.start_soon(tether.sleep, 2)
                    assert_tree_consistent()
        root = tree_root()
        assert _core.current_task()._cancel_status._parent is not None
        assert_tree_consistent()
        assert root is tree_root()

    run(main)


def test_unshielding_wakes_children_of_a_nursery_inside(run) -> None:
    record: list[str] = []

    async def main() -> None:
        with _core.CancelScope() as outer:
            with _core.CancelScope(shield=True) as shield:
                async with tether.open_nursery() as nursery:
                    nursery.start_soon(blocked_until_cancelled, record, "a")
                    nursery.start_soon(blocked_until_cancelled, record, "b")
                    await wait_all_tasks_blocked()
                    outer.cancel()
                    assert not nursery.cancel_scope.effectively_cancelled
                    await wait_all_tasks_blocked()
                    assert record == []
                    shield.shield = False
                    assert nursery.cancel_scope.effectively_cancelled
                    assert_tree_consistent()
        assert outer.cancelled_caught

    run(main)
    assert sorted(record) == ["a", "b"]


def test_children_of_nursery_abandoned_by_stack_repair_are_cancelled(run) -> None:
    # User code that reaches the branch:
    #     outer.__enter__(); nursery = await manager.__aenter__()
    #     nursery.start_soon(child); outer.__exit__(...)   # wrong order
    record: list[str] = []
    observed: list[list[str]] = []

    async def main() -> None:
        outer = _core.CancelScope()
        outer.__enter__()
        manager = tether.open_nursery()
        nursery = await manager.__aenter__()
        nursery.start_soon(blocked_until_cancelled, record, "child")
        await wait_all_tasks_blocked()
        with pytest.raises(RuntimeError, match="Cancel scope stack corrupted"):
            outer.__exit__(None, None, None)
        await wait_all_tasks_blocked()
        observed.append(list(record))
        # Unstick the child by hand if the repair left it blocked, so that
        # this test ends either way.
        runner = _core.current_runner()
        for task in nursery.child_tasks:
            if task._abort_func is not None:
                runner.try_abort(task)
        try:
            await manager.__aexit__(None, None, None)
        except BaseException:
            pass

    run(main)
    assert observed == [["child"]]
