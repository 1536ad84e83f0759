"""tether's pytest plugin, driven through pytester.

In-process runs pass ``-p no:trio`` so that pytest-trio (installed for the
tests at the end) does not make the plugin step aside.  Runs that need
``install()`` go to a subprocess, so ``trio`` is never replaced here.
"""

from __future__ import annotations

import textwrap

import pytest

NO_PYTEST_TRIO = ("-p", "no:trio")


def run_tests(pytester: pytest.Pytester, source: str, *args: str, ini: str = "") -> pytest.RunResult:
    pytester.makepyfile(textwrap.dedent(source))
    if ini:
        pytester.makeini("[pytest]\n" + textwrap.dedent(ini))
    return pytester.runpytest(*NO_PYTEST_TRIO, *args)


def test_marked_async_test_runs_in_a_tether_run(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        @pytest.mark.trio
        async def test_inside():
            assert tether.lowlevel.in_trio_run()
            await tether.sleep(0)
        """,
    )
    result.assert_outcomes(passed=1)


def test_async_test_without_mark_fails_naming_the_fix(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        ran = []

        async def test_unmarked():
            ran.append(1)

        def test_never_ran():
            assert ran == []
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_unmarked is an async test function, but no plugin ran it.",
            "To run it with tether, mark it with @pytest.mark.trio, or set trio_mode = true*",
        ]
    )


def test_trio_mode_runs_every_async_test(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import tether

        async def test_unmarked():
            await tether.sleep(0)

        def test_sync_left_alone():
            assert not tether.lowlevel.in_trio_run()
        """,
        ini="trio_mode = true\n",
    )
    result.assert_outcomes(passed=2)


def test_marked_sync_test_fails_clearly(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest

        @pytest.mark.trio
        def test_sync():
            pass
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*marked @pytest.mark.trio, but it is not an async function*"])


def test_yield_fixture_sets_up_and_tears_down_in_the_tests_run(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        seen = []

        @pytest.fixture
        async def resource():
            seen.append(("setup", tether.lowlevel.current_root_task()))
            yield "value"
            await tether.sleep(0)
            seen.append(("teardown", tether.lowlevel.current_root_task()))

        @pytest.mark.trio
        async def test_uses(resource):
            assert resource == "value"
            seen.append(("test", tether.lowlevel.current_root_task()))

        def test_check():
            assert [step for step, _ in seen] == ["setup", "test", "teardown"]
            assert len({id(root) for _, root in seen}) == 1
        """,
    )
    result.assert_outcomes(passed=2)


def test_independent_fixtures_set_up_concurrently(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        @pytest.fixture
        async def slow_one():
            await tether.sleep(1)

        @pytest.fixture
        async def slow_two():
            await tether.sleep(1)

        @pytest.mark.trio
        async def test_both(slow_one, slow_two, autojump_clock):
            assert tether.current_time() == 1.0
        """,
    )
    result.assert_outcomes(passed=1)


def test_dependent_fixtures_set_up_in_order_and_tear_down_in_reverse(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        events = []

        @pytest.fixture
        async def first():
            await tether.sleep(1)
            events.append("first up")
            yield 1
            events.append("first down")

        @pytest.fixture
        async def second(first):
            events.append("second up")
            yield first + 1
            await tether.sleep(1)
            events.append("second down")

        @pytest.fixture
        def plain(second):
            events.append("plain (sync, depends on async)")
            return second + 1

        @pytest.mark.trio
        async def test_chain(plain, autojump_clock):
            assert plain == 3
            events.append("test")

        def test_check():
            assert events == [
                "first up", "second up", "plain (sync, depends on async)",
                "test", "second down", "first down",
            ]
        """,
    )
    result.assert_outcomes(passed=2)


def test_fixture_setup_error_fails_the_test_and_names_the_fixture(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest

        ran = []

        @pytest.fixture
        async def broken():
            raise KeyError("no database")
            yield

        @pytest.fixture
        async def dependent(broken):
            ran.append("dependent")

        @pytest.mark.trio
        async def test_needs_it(dependent):
            ran.append("test")

        def test_nothing_ran():
            assert ran == []
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*KeyError: 'no database'", "*(in the setup of the async fixture 'broken')"])


def test_fixture_teardown_error_names_the_fixture(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest

        @pytest.fixture
        async def leaky():
            yield
            raise ValueError("close failed")

        @pytest.mark.trio
        async def test_fine(leaky):
            pass
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ValueError: close failed", "*(in the teardown of the async fixture 'leaky')"]
    )


def test_crash_in_a_nursery_fixture_task_cancels_the_test_and_fails_it(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        @pytest.fixture
        async def failing_service(nursery):
            async def serve():
                await tether.sleep(1)
                raise ConnectionError("service died")
            nursery.start_soon(serve)

        @pytest.mark.trio
        async def test_waits_forever(failing_service, autojump_clock):
            await tether.sleep_forever()
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ConnectionError: service died*"])


def test_fixture_that_cancels_the_test_without_error_fails_it(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        @pytest.fixture
        async def times_out():
            with tether.move_on_after(1):
                yield

        @pytest.mark.trio
        async def test_waits_forever(times_out, autojump_clock):
            await tether.sleep_forever()
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the async fixture 'times_out' was cancelled while the test ran*"])


def test_nursery_fixture_tasks_are_cancelled_after_the_test(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        log = []

        async def background(task_status=tether.TASK_STATUS_IGNORED):
            task_status.started()
            try:
                await tether.sleep_forever()
            except tether.Cancelled:
                log.append("cancelled")
                raise

        @pytest.mark.trio
        async def test_starts(nursery):
            await nursery.start(background)
            log.append("test done")

        def test_check():
            assert log == ["test done", "cancelled"]
        """,
    )
    result.assert_outcomes(passed=2)


def test_mock_clock_fixture_is_the_runs_clock(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        @pytest.mark.trio
        async def test_jump(mock_clock):
            assert tether.lowlevel.current_clock() is mock_clock
            mock_clock.jump(5)
            assert tether.current_time() == 5.0
        """,
    )
    result.assert_outcomes(passed=1)


def test_two_clocks_fail_the_test(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest

        @pytest.mark.trio
        async def test_clocks(mock_clock, autojump_clock):
            pass
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*a test run has one clock, but the test and its fixtures use 2*"])


def test_context_variable_set_by_a_fixture_is_seen_by_the_test(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import contextvars, pytest

        user = contextvars.ContextVar("user", default="nobody")

        @pytest.fixture
        async def logged_in():
            user.set("alice")

        @pytest.mark.trio
        async def test_sees(logged_in):
            assert user.get() == "alice"
        """,
    )
    result.assert_outcomes(passed=1)


def test_skip_inside_a_nursery_skips_the_test(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        @pytest.mark.trio
        async def test_skips():
            async with tether.open_nursery() as nursery:
                nursery.start_soon(pytest.skip, "not today")
        """,
    )
    result.assert_outcomes(skipped=1)


def test_run_argument_of_the_mark_picks_the_runner(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether

        calls = []

        def my_run(async_fn, **kwargs):
            calls.append(sorted(kwargs))
            return tether.run(async_fn, **kwargs)

        @pytest.mark.trio(run=my_run)
        async def test_custom():
            pass

        def test_check():
            assert calls == [["clock", "instruments"]]
        """,
    )
    result.assert_outcomes(passed=2)


def test_trio_run_setting_accepts_tether(pytester: pytest.Pytester) -> None:
    source = "import pytest\n\n@pytest.mark.trio\nasync def test_ok():\n    pass\n"
    run_tests(pytester, source, ini="trio_run = tether\n").assert_outcomes(passed=1)


def test_trio_run_setting_rejects_an_unknown_runner(pytester: pytest.Pytester) -> None:
    source = "import pytest\n\n@pytest.mark.trio\nasync def test_ok():\n    pass\n"
    result = run_tests(pytester, source, ini="trio_run = asyncio\n")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*'asyncio' is not a valid trio_run setting*"])


def test_hypothesis_examples_each_get_fresh_async_fixtures(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest, tether
        from hypothesis import HealthCheck, given, settings, strategies

        log = []

        @pytest.fixture
        async def counter():
            log.append("setup")
            yield
            log.append("teardown")

        @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
        @given(strategies.integers())
        @pytest.mark.trio
        async def test_examples(counter, number):
            await tether.sleep(0)

        def test_check():
            assert log == ["setup", "teardown"] * 4
        """,
    )
    result.assert_outcomes(passed=2)


def test_nursery_fixture_in_a_sync_test_fails_clearly(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        def test_sync(nursery):
            pass
        """,
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot use the async fixture 'nursery'*@pytest.mark.trio*"])


def test_async_fixture_with_a_wider_scope_fails_clearly(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import pytest

        @pytest.fixture(scope="module")
        async def shared():
            return 1

        @pytest.mark.trio
        async def test_it(shared):
            pass
        """,
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*'shared' has scope 'module'*must be function-scoped*"])


def test_plugin_steps_aside_when_pytest_trio_is_active(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_trio")
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest, trio

            def test_who_is_active(request):
                manager = request.config.pluginmanager
                assert manager.get_plugin("tether-test-runner") is None
                assert manager.get_plugin("trio") is not None

            @pytest.mark.trio
            async def test_runs_on_pytest_trio(nursery):
                assert type(nursery) is trio.Nursery  # real trio: install() was not called
            """
        )
    )
    pytester.runpytest().assert_outcomes(passed=2)


PYTEST_TRIO_STYLE_TESTS = """
import pytest, tether, trio
from hypothesis import HealthCheck, given, settings, strategies

@pytest.fixture
async def server(nursery):
    ready = trio.Event()

    async def serve():
        ready.set()
        await trio.sleep_forever()

    nursery.start_soon(serve)
    await ready.wait()
    yield "server"

@pytest.mark.trio
async def test_trio_is_tether(server, autojump_clock):
    assert trio is tether and server == "server"
    await trio.sleep(10)
    assert trio.current_time() == 10.0

@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(strategies.integers())
@pytest.mark.trio
async def test_with_hypothesis(number):
    await trio.sleep(0)
"""


def test_pytest_trio_runs_on_tether_under_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pytest_trio")
    monkeypatch.setenv("TETHER_AS_TRIO", "1")
    pytester.makepyfile(PYTEST_TRIO_STYLE_TESTS)
    pytester.makepyfile(
        test_plugins="def test_pytest_trio_is_in_charge(request):\n"
        "    assert request.config.pluginmanager.get_plugin('tether-test-runner') is None\n"
    )
    result = pytester.runpytest_subprocess("-p", "trio", timeout=60)
    result.assert_outcomes(passed=3)


def test_tether_plugin_runs_trio_style_tests_under_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_AS_TRIO", "1")
    pytester.makepyfile(PYTEST_TRIO_STYLE_TESTS)
    result = pytester.runpytest_subprocess(*NO_PYTEST_TRIO, timeout=60)
    result.assert_outcomes(passed=2)
