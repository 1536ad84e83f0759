"""tether's pytest plugin: async tests and their async fixtures run in one ``tether.run``.

Registered through the ``pytest11`` entry point ``tether``, so it is active
wherever tether is installed.  What it does (what pytest-trio does for trio):

- an ``async def`` test marked ``@pytest.mark.trio`` (or any async test, with
  ``trio_mode = true`` in the pytest configuration) runs in a fresh
  ``tether.run``; ``@pytest.mark.trio(run=fn)`` or the ``trio_run`` option
  (``trio``, ``tether`` or ``qtrio``) chooses another runner;
- the async fixtures of such a test (and the sync fixtures that depend on
  them) are set up, used and torn down inside that same run, each in its own
  task, so independent fixtures set up concurrently, a fixture may yield from
  inside a nursery, and a fixture's error names the fixture;
- fixtures ``nursery`` (a nursery that lives for the test and is cancelled
  after it), ``mock_clock`` and ``autojump_clock``; a clock among a test's
  fixtures becomes the run's clock, instruments join its instruments;
- ``tether.debug`` in every test's ``tether.run``: deadlock detection (a
  test that can never wake up fails with DeadlockError instead of hanging;
  ``--tether-no-deadlock-detection`` turns it off) and seeded schedule
  shuffling (a failing test notes its seed; ``--tether-seed N`` replays it,
  ``--tether-seed none`` runs tasks in FIFO order, ``--tether-shuffle-runs K``
  runs each test under K seeds).

It only touches tests that ask for it (the ``trio`` marker, or trio mode), and
an async test that nobody ran fails with a message that names the fix.

The rule with pytest-trio: when pytest-trio is active in the same session
(installed, or loaded with ``-p`` or ``pytest_plugins``), this plugin steps
aside completely and pytest-trio owns the ``trio`` marker, the ini options and
the fixtures.  Under ``tether.install()`` (``TETHER_AS_TRIO=1``) pytest-trio's
``import trio`` gives tether, so its tests run on tether either way.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import os
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import Any

import pytest
from _pytest.fixtures import SubRequest, resolve_fixture_function

from ._core import (
    Cancelled,
    CancelScope,
    Clock,
    Instrument,
    MockClock,
    Nursery,
    cancel_shielded_checkpoint,
    current_task,
    open_nursery,
    run,
)
from ._core._debug_hooks import SEED_VARIABLE
from ._sync import Event
from .debug import detect_deadlocks
from .debug._settings import seeded

MARKER = "trio"
MARKER_HELP = (
    "trio: run this async test and its async fixtures in tether.run (trio(run=fn) picks another runner)"
)
# Names of the plugins that make this one step aside (module names of pytest-trio).
PYTEST_TRIO_MODULES = ("pytest_trio.plugin", "pytest_trio.enable_trio_mode")

RunFunction = Callable[..., object]
# Set on the sync wrapper of a test function (found again when hypothesis reruns a test).
RUNS_IN_TETHER = "_tether_runs_it"
# The fixture that --tether-shuffle-runs parametrizes with one seed per copy of a test.
SEED_FIXTURE = "tether_schedule_seed"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare ``trio_mode`` and ``trio_run`` (the same names and types as pytest-trio)."""
    parser.addini(
        "trio_mode", "run every async test function with tether (or trio)", type="bool", default=False
    )
    parser.addini("trio_run", "the runner of async tests: trio (tether.run), tether or qtrio", default="trio")
    group = parser.getgroup("tether", "tether.debug in async tests")
    group.addoption(
        "--tether-seed",
        metavar="N",
        type=_parse_seed,
        default=None,
        help="shuffle runnable tasks from seed N in every test's run (replays a failure); 'none': "
        "run them in FIFO order. Default: $TETHER_SCHEDULE_SEED, else a random seed per test",
    )
    group.addoption(
        "--tether-shuffle-runs",
        metavar="K",
        type=int,
        default=1,
        help="run each async test K times, under K different schedule seeds",
    )
    group.addoption(
        "--tether-no-deadlock-detection",
        action="store_true",
        help="let a test whose tasks are all blocked for good hang instead of failing with DeadlockError",
    )


def _parse_seed(text: str) -> int | str:
    if text.lower() == "none":
        return "none"
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"--tether-seed expects an integer or 'none', not {text!r}") from None


def pytest_configure(config: pytest.Config) -> None:
    """Activate the plugin, unless pytest-trio is active: then step aside."""
    if is_pytest_trio_active(config):
        return
    config.addinivalue_line("markers", MARKER_HELP)
    config.pluginmanager.register(TetherTestRunner(config), "tether-test-runner")


def is_pytest_trio_active(config: pytest.Config) -> bool:
    """Whether pytest-trio is registered in this session (entry point, ``-p`` or ``pytest_plugins``)."""
    return any(
        getattr(plugin, "__name__", None) in PYTEST_TRIO_MODULES
        for plugin in config.pluginmanager.get_plugins()
    )


class AsyncFixture:
    """What pytest holds as the value of a fixture that runs inside the test's run.

    A recipe, never changed once built: the fixture function and its
    arguments, some of which are other ``AsyncFixture`` objects.  Each run of
    the test (each hypothesis example, too) cooks it afresh.
    """

    __slots__ = ("function", "kwargs", "name")

    def __init__(self, name: str, function: Callable[..., object], kwargs: dict[str, object]) -> None:
        self.name = name
        self.function = function
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"<async fixture {self.name!r}: set up inside the test's tether.run>"


class TetherTestRunner:
    """The active part of the plugin, registered at configure time when pytest-trio is absent."""

    OWN_RUN_FIXTURES = frozenset({"nursery"})

    def __init__(self, config: pytest.Config) -> None:
        self.trio_mode = bool(config.getini("trio_mode"))
        self.run_setting = str(config.getini("trio_run"))
        self.debug = DebugOptions(config)

    # -- fixtures ---------------------------------------------------------------

    @pytest.fixture
    def mock_clock(self) -> MockClock:
        """A ``MockClock`` that the test's run uses: time moves only by ``jump()``."""
        return MockClock()

    @pytest.fixture
    def autojump_clock(self) -> MockClock:
        """A ``MockClock(autojump_threshold=0)``: sleeps take no real time."""
        return MockClock(autojump_threshold=0)

    @pytest.fixture
    async def nursery(self) -> AsyncIterator[Nursery]:
        """A nursery that lives as long as the test; its tasks are cancelled after the test."""
        async with open_nursery() as nursery:
            yield nursery
            nursery.cancel_scope.cancel()

    @pytest.fixture
    def tether_schedule_seed(self, request: pytest.FixtureRequest) -> int | None:
        """The schedule seed of this copy of the test (``--tether-shuffle-runs``)."""
        return getattr(request, "param", None)

    # -- hooks --------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """With ``--tether-shuffle-runs K``, make K copies of each async test, one seed each."""
        runs = self.debug.shuffle_runs
        function = metafunc.function
        is_run_test = metafunc.definition.get_closest_marker(MARKER) is not None or (
            self.trio_mode and inspect.iscoroutinefunction(function)
        )
        if runs <= 1 or not is_run_test or SEED_FIXTURE in metafunc.fixturenames:
            return
        seeds = self.debug.seeds_for_copies(runs)
        metafunc.fixturenames.append(SEED_FIXTURE)
        metafunc.parametrize(SEED_FIXTURE, seeds, indirect=True, ids=[f"seed={seed}" for seed in seeds])

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """In trio mode, mark every async test function ``trio``."""
        if not self.trio_mode:
            return
        for item in items:
            if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(_test_function(item)):
                item.add_marker(pytest.mark.trio)

    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any], request: SubRequest) -> object | None:
        """Hold back the fixtures that must run inside the test's run: return an :class:`AsyncFixture`."""
        item = getattr(request, "_pyfuncitem", request.node)
        is_run_test = item.get_closest_marker(MARKER) is not None
        function = fixturedef.func
        is_own = fixturedef.argname in self.OWN_RUN_FIXTURES and getattr(function, "__self__", None) is self
        is_async = inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
        if not is_run_test:
            if is_own or (is_async and self.trio_mode):
                raise RuntimeError(
                    f"{item.name} is not an async test run by tether, so it cannot use the async fixture "
                    f"{fixturedef.argname!r}: make the test `async def` and mark it @pytest.mark.{MARKER} "
                    "(or set trio_mode = true)"
                )
            return None  # another plugin's async fixture, or a plain one
        kwargs = {name: request.getfixturevalue(name) for name in fixturedef.argnames}
        if not (is_async or is_own or any(isinstance(value, AsyncFixture) for value in kwargs.values())):
            return None
        if request.scope != "function":
            raise RuntimeError(
                f"the fixture {fixturedef.argname!r} has scope {request.scope!r}, but it runs inside each "
                "test's tether.run, so it must be function-scoped (the default)"
            )
        fixture = AsyncFixture(fixturedef.argname, resolve_fixture_function(fixturedef, request), kwargs)
        fixturedef.cached_result = (fixture, fixturedef.cache_key(request), None)
        return fixture

    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        """Run a test marked ``trio`` with its async fixtures in one run."""
        if pyfuncitem.get_closest_marker(MARKER) is None:
            return None
        runner = self._choose_run(pyfuncitem)
        # tether.debug only in tether's own run (run=trio.run gets none of it).
        debug = self.debug.for_test(pyfuncitem) if runner is run else None
        hypothesis_handle = getattr(pyfuncitem.obj, "hypothesis", None)
        if hypothesis_handle is not None:
            # @given wraps the test; each example calls inner_test, which
            # becomes one run.  pytest then calls the wrapper as usual.
            inner = hypothesis_handle.inner_test
            _require_async(pyfuncitem, inner)
            if not getattr(inner, RUNS_IN_TETHER, False):
                hypothesis_handle.inner_test = _run_in_tether(inner, runner, debug)
            return None
        _require_async(pyfuncitem, pyfuncitem.obj)
        argnames = pyfuncitem._fixtureinfo.argnames
        test = _run_in_tether(pyfuncitem.obj, runner, debug)
        test(**{name: pyfuncitem.funcargs[name] for name in argnames})
        return True

    @pytest.hookimpl(specname="pytest_pyfunc_call", wrapper=True)
    def pytest_pyfunc_call_unhandled_async(
        self, pyfuncitem: pytest.Function
    ) -> Generator[None, object, object]:
        """An async test that no plugin ran fails, and the message names the fix.

        (A second implementation of ``pytest_pyfunc_call``: pytest only looks at
        methods whose names start with ``pytest_``.)

        pytest fails (older versions: skips) such a test, but lists other
        plugins; the test was never run either way, never silently passed.
        """
        try:
            return (yield)
        except (pytest.fail.Exception, pytest.skip.Exception) as exc:
            if not (_is_async_test(pyfuncitem) and str(exc.msg).startswith("async def function")):
                raise
            message = (
                f"{pyfuncitem.nodeid} is an async test function, but no plugin ran it.\n"
                f"To run it with tether, mark it with @pytest.mark.{MARKER}, or set trio_mode = true in the "
                "pytest configuration to run every async test that way."
            )
            raise pytest.fail.Exception(message, pytrace=False) from None

    def _choose_run(self, item: pytest.Function) -> RunFunction:
        for marker in item.iter_markers(MARKER):
            chosen = marker.kwargs.get("run")
            if chosen is not None:
                if not callable(chosen):
                    raise TypeError(f"@pytest.mark.{MARKER}(run=...) must be a function, not {chosen!r}")
                return chosen  # type: ignore[no-any-return]
        if self.run_setting in ("trio", "tether"):
            return run
        if self.run_setting == "qtrio":
            import qtrio  # type: ignore[import-not-found]

            return qtrio.run  # type: ignore[no-any-return]
        raise ValueError(
            f"{self.run_setting!r} is not a valid trio_run setting: "
            "use 'trio' (tether.run), 'tether' or 'qtrio'"
        )


class DebugOptions:
    """The command line's ``--tether-*`` options: what tether.debug does in each test's run."""

    def __init__(self, config: pytest.Config) -> None:
        self.seed: int | str | None = config.getoption("--tether-seed", None)
        self.shuffle_runs = int(config.getoption("--tether-shuffle-runs", 1) or 1)
        self.detect_deadlocks = not config.getoption("--tether-no-deadlock-detection", False)

    def default_seed(self) -> int | None:
        """The seed a test runs under: ``--tether-seed``, ``$TETHER_SCHEDULE_SEED``, or a random one."""
        if self.seed == "none":
            return None
        if isinstance(self.seed, int):
            return self.seed
        text = os.environ.get(SEED_VARIABLE)
        if text:
            try:
                return int(text)
            except ValueError:
                pass  # tether.debug complains about it at run start
        return random.SystemRandom().randrange(2**32)

    def seeds_for_copies(self, copies: int) -> list[int | None]:
        first = self.default_seed()
        if first is None:
            return [None] * copies
        return [(first + number) % 2**32 for number in range(copies)]

    def for_test(self, item: pytest.Function) -> TestDebug:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and SEED_FIXTURE in callspec.params:
            seed = callspec.params[SEED_FIXTURE]
        else:
            seed = self.default_seed()
        return TestDebug(seed, self.detect_deadlocks)


class TestDebug:
    """What tether.debug does in one test's run(s): a schedule seed, deadlock detection."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, seed: int | None, detect_deadlocks: bool) -> None:
        self.seed = seed
        self.detect_deadlocks = detect_deadlocks

    def run(
        self,
        runner: RunFunction,
        main: Callable[[], object],
        clock: Clock | None,
        instruments: list[Instrument],
    ) -> None:
        __tracebackhide__ = True
        if self.detect_deadlocks:
            instruments = [*instruments, detect_deadlocks()]
        with seeded(self.seed):
            try:
                runner(main, clock=clock, instruments=instruments)
            except BaseException as error:
                outcome = isinstance(error, (pytest.skip.Exception, pytest.xfail.Exception))
                if self.seed is not None and not outcome:
                    error.add_note(
                        f"tether schedule seed: {self.seed} (replay with: pytest --tether-seed {self.seed})"
                    )
                raise


def _test_function(item: pytest.Function) -> object:
    hypothesis_handle = getattr(item.obj, "hypothesis", None)
    return hypothesis_handle.inner_test if hypothesis_handle is not None else item.obj


def _is_async_test(item: pytest.Function) -> bool:
    function = _test_function(item)
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def _require_async(item: pytest.Function, function: object) -> None:
    if not inspect.iscoroutinefunction(function):
        pytest.fail(
            f"{item.nodeid} is marked @pytest.mark.{MARKER}, but it is not an async function: "
            "make it `async def`, or remove the mark",
            pytrace=False,
        )


def _run_in_tether(
    test_function: Callable[..., object], runner: RunFunction, debug: TestDebug | None
) -> Callable[..., None]:
    """A sync function that runs async ``test_function`` and its :class:`AsyncFixture` kwargs in one run.

    A real function, not a callable object: hypothesis rewrites the code object
    of what it calls per example.
    """

    @functools.wraps(test_function)
    def run_test(*args: object, **kwargs: object) -> None:
        __tracebackhide__ = True
        clock, instruments = _clock_and_instruments(kwargs)
        test_run = _TestRun(test_function, args, kwargs)
        if debug is None:
            runner(test_run.main, clock=clock, instruments=instruments)
        else:
            debug.run(runner, test_run.main, clock, instruments)

    setattr(run_test, RUNS_IN_TETHER, True)
    return run_test


def _clock_and_instruments(kwargs: dict[str, object]) -> tuple[Clock | None, list[Instrument]]:
    # Look through the whole fixture graph: a clock that any fixture of the
    # test depends on drives the run.
    clocks: dict[int, Clock] = {}
    instruments: dict[int, Instrument] = {}
    for value in _graph_values(kwargs):
        if isinstance(value, Clock):
            clocks[id(value)] = value
        elif isinstance(value, Instrument):
            instruments[id(value)] = value
    if len(clocks) > 1:
        raise ValueError(
            f"a test run has one clock, but the test and its fixtures use {len(clocks)}: {clocks!r}"
        )
    return next(iter(clocks.values()), None), list(instruments.values())


def _graph_values(kwargs: dict[str, object]) -> Iterator[object]:
    seen: set[int] = set()
    pending = list(kwargs.values())
    while pending:
        value = pending.pop()
        if isinstance(value, AsyncFixture):
            if id(value) not in seen:
                seen.add(id(value))
                pending.extend(value.kwargs.values())
        else:
            yield value


class _Node:
    """One fixture (or the test itself) in one run: its task's state."""

    __slots__ = (
        "dependencies",
        "done",
        "fixture",
        "function",
        "generator",
        "kwargs",
        "name",
        "ready",
        "scope",
        "users",
        "value",
    )

    def __init__(self, name: str, function: Callable[..., object], kwargs: dict[str, object]) -> None:
        self.name = name
        self.function = function
        self.kwargs = kwargs
        self.dependencies: list[_Node] = []
        self.users: list[_Node] = []
        # Set once the value is there, or once setting up was given up.
        self.ready = Event()
        # Set once the node is finished: torn down, or for the test, returned.
        self.done = Event()
        # Entered for the node's whole life (a fixture's own scopes nest
        # inside it until its teardown); cancelled only if the run crashes
        # while the node sets up (or, for the test, runs).
        self.scope = CancelScope()
        self.value: object = None
        self.generator: Generator[object, None, None] | AsyncGenerator[object, None] | None = None


class _TestRun:
    """Sets up the fixture graph, runs the test, tears the graph down: inside one run.

    Every node runs in its own task, so a fixture that yields from inside a
    nursery or a cancel scope keeps them in its own task.  A node waits for
    the nodes it depends on to be set up; a fixture is torn down once every
    node that uses it is done.  An error anywhere *crashes* the run: nodes
    still setting up, and the test, are cancelled, and nodes not yet started
    never start; teardown then proceeds normally.  All errors are raised at
    the end (one alone, several as a group), each noting its fixture.
    """

    def __init__(
        self, test_function: Callable[..., object], args: tuple[object, ...], kwargs: dict[str, object]
    ):
        self.args = args
        self.nodes: dict[int, _Node] = {}
        self.test = _Node(
            f"test {getattr(test_function, '__name__', test_function)!r}", test_function, kwargs
        )
        self._add_dependencies(self.test)
        self.errors: list[BaseException] = []
        self.nodes_with_errors: set[_Node] = set()
        self.silent_cancellers: list[_Node] = []
        self.crashed = False
        # Nodes in their setup, and the test while it runs: what a crash cancels.
        self.setting_up: set[_Node] = set()

    def _add_dependencies(self, node: _Node) -> None:
        for value in node.kwargs.values():
            if isinstance(value, AsyncFixture):
                dependency = self.nodes.get(id(value))
                if dependency is None:
                    dependency = _Node(value.name, value.function, value.kwargs)
                    self.nodes[id(value)] = dependency
                    self._add_dependencies(dependency)
                dependency.users.append(node)
                node.dependencies.append(dependency)

    async def main(self) -> None:
        """The run's main task: one task per node, then the errors, if any."""
        __tracebackhide__ = True
        # Fixtures and the test share one contextvars context, so a context
        # variable that a fixture sets is seen by the test.
        shared_context = contextvars.copy_context()
        async with open_nursery() as nursery:
            for node in [*self.nodes.values(), self.test]:
                nursery.start_soon(self._run_node, node, shared_context, name=node.name)
        error = self._final_error()
        if error is not None:
            raise error

    async def _run_node(self, node: _Node, shared_context: contextvars.Context) -> None:
        current_task().context = shared_context
        await cancel_shielded_checkpoint()  # the next step runs in shared_context
        try:
            with node.scope:
                self.setting_up.add(node)
                try:
                    is_set_up = await self._set_up(node)
                finally:
                    self.setting_up.discard(node)
                if is_set_up and node is not self.test:
                    node.ready.set()
                    await self._wait_for_users(node)
                    await self._tear_down(node)
        finally:
            node.ready.set()
            node.done.set()

    async def _set_up(self, node: _Node) -> bool:
        for dependency in node.dependencies:
            await dependency.ready.wait()
        if self.crashed:
            return False
        kwargs = {
            name: self.nodes[id(value)].value if isinstance(value, AsyncFixture) else value
            for name, value in node.kwargs.items()
        }
        try:
            if node is self.test:
                await node.function(*self.args, **kwargs)  # type: ignore[misc]
            else:
                node.value = await self._call_fixture(node, kwargs)
        except BaseException as exc:
            # Cancelled from node.scope (the run crashed) is no error; drop it
            # here rather than in the scope: the scope stays cancelled anyway.
            error = exc.split(Cancelled)[1] if isinstance(exc, BaseExceptionGroup) else exc
            if isinstance(error, Cancelled) and node.scope.cancel_called:
                error = None
            if error is not None:
                self._record(node, error, "setup")
            return False
        return True

    async def _call_fixture(self, node: _Node, kwargs: dict[str, object]) -> object:
        result = node.function(**kwargs)
        if isinstance(result, AsyncGenerator):
            node.generator = result
            try:
                return await result.asend(None)
            except StopAsyncIteration:
                raise RuntimeError(
                    f"the async fixture {node.name!r} returned without yielding a value"
                ) from None
        if inspect.iscoroutine(result):
            return await result
        if isinstance(result, Generator):
            node.generator = result
            try:
                return next(result)
            except StopIteration:
                raise RuntimeError(f"the fixture {node.name!r} returned without yielding a value") from None
        return result

    async def _wait_for_users(self, node: _Node) -> None:
        try:
            for user in node.users:
                await user.done.wait()
        except BaseException as exc:
            # Cancelled here comes from a cancel scope the fixture entered
            # before yielding (a nursery whose task crashed, a timeout): it
            # cannot reach that scope now.  Cancel the test; the fixture sees
            # the cancellation again at its teardown (cancellation is
            # level-triggered) and reports any error from there.
            if isinstance(exc, Cancelled):
                self.silent_cancellers.append(node)
                self._crash()
            else:
                self._record(node, exc, "wait for the test")
            with CancelScope(shield=True):
                for user in node.users:
                    await user.done.wait()

    async def _tear_down(self, node: _Node) -> None:
        generator = node.generator
        try:
            if isinstance(generator, Generator):
                try:
                    next(generator)
                except StopIteration:
                    return
                generator.close()
            elif generator is not None:
                try:
                    await generator.__anext__()
                except StopAsyncIteration:
                    return
                await generator.aclose()
            else:
                return
            raise RuntimeError(
                f"the fixture {node.name!r} yielded more than once; a fixture yields exactly once"
            )
        except BaseException as exc:
            self._record(node, exc, "teardown")

    def _record(self, node: _Node, exc: BaseException, phase: str) -> None:
        if node is not self.test:
            exc.add_note(f"(in the {phase} of the async fixture {node.name!r})")
        self.errors.append(exc)
        self.nodes_with_errors.add(node)
        self._crash()

    def _crash(self) -> None:
        self.crashed = True
        for node in self.setting_up:
            node.scope.cancel()

    def _final_error(self) -> BaseException | None:
        errors = list(self.errors)
        for node in self.silent_cancellers:
            if node not in self.nodes_with_errors:
                errors.append(
                    RuntimeError(
                        f"the async fixture {node.name!r} was cancelled while the test ran (a cancel scope "
                        "around its yield), which cancelled the test, but it raised no error"
                    )
                )
        if not errors:
            return None
        error = (
            errors[0]
            if len(errors) == 1
            else BaseExceptionGroup("errors in an async test and its fixtures", errors)
        )
        # pytest.skip() or pytest.xfail() inside a nursery arrives in a group:
        # hand pytest the bare outcome so it skips or xfails the test.
        if isinstance(error, BaseExceptionGroup):
            leaves = list(_leaves(error))
            if len(leaves) == 1 and isinstance(leaves[0], (pytest.skip.Exception, pytest.xfail.Exception)):
                return leaves[0]
        return error


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc
