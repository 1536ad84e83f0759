"""Measure one (scenario, implementation) pair in this fresh process.

Usage: python bench/child.py SCENARIO IMPLEMENTATION [--size N] [--warmup-size N]

Warms up exactly as for every implementation (allocate and free a few MiB, run the
scenario body once unmeasured, collect garbage), measures once, and prints one JSON
line on stdout: {"status": "ok" | "n/a" | "error", "value": ..., "seconds": ..., ...}.
"n/a" means the implementation lacks something the scenario uses (ImportError,
AttributeError or NotImplementedError); "reason" says what.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

from registry import IMPLEMENTATIONS, SCENARIOS_BY_NAME, TRIO_API_IMPLEMENTATIONS, Scenario
from scenarios._common import Sample

REPO = Path(__file__).resolve().parent.parent
MISSING_FEATURE = (ImportError, AttributeError, NotImplementedError)


def warm_allocator() -> None:
    """Allocate and free a few MiB, small objects and large buffers, so that no
    implementation pays for a cold allocator inside the timed interval."""
    small = [(i, str(i), [i]) for i in range(40_000)]  # ~5 MiB through pymalloc
    large = [bytearray(64 * 1024) for _ in range(64)]  # 4 MiB through malloc
    del small, large
    gc.collect()


def resolve(ref: str) -> Callable[..., Any]:
    module_name, _, function_name = ref.partition(":")
    module = importlib.import_module(f"scenarios.{module_name}")
    return getattr(module, function_name)  # type: ignore[no-any-return]


def implementation_version(impl: str) -> str:
    if impl == "asyncio":
        return sys.version.split()[0]
    module = sys.modules.get(impl)
    return str(getattr(module, "__version__", "?"))


def make_runner(scenario: Scenario, impl: str) -> Callable[[int], Sample]:
    """Import the implementation and return ``size -> Sample``; raises ImportError if absent."""
    if impl in TRIO_API_IMPLEMENTATIONS:
        if impl == "tether":
            sys.path.insert(0, str(REPO / "src"))  # measure the working tree, installed or not
        trio_like = importlib.import_module(impl)
        function = resolve(scenario.trio_api)
        if scenario.host is not None:
            return guest_runner(trio_like, function, scenario.host)
        run = trio_like.run
        return lambda size: run(function, trio_like, size)

    import asyncio

    twin = resolve(scenario.asyncio_twin)
    loop_factory = event_loop_factory(impl)

    def run_twin(size: int) -> Sample:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(twin(size))  # type: ignore[no-any-return]

    return run_twin


def event_loop_factory(name: str) -> Callable[[], Any] | None:
    """The loop_factory for asyncio.Runner: None for asyncio's own loop, uvloop's for "uvloop"."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def guest_runner(trio_like: Any, function: Callable[..., Any], host: str) -> Callable[[int], Sample]:
    """``size -> Sample`` running ``function(trio_like, size)`` as a guest of a fresh ``host`` loop."""
    import asyncio

    start_guest_run = importlib.import_module(f"{trio_like.__name__}.lowlevel").start_guest_run
    loop_factory = event_loop_factory(host)

    async def host_main(size: int) -> Sample:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        start_guest_run(
            function,
            trio_like,
            size,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=done.set_result,
            # uvloop sets a signal wake-up fd of its own; asyncio's loop only with signal handlers.
            host_uses_signal_set_wakeup_fd=host == "uvloop",
        )
        return (await done).unwrap()  # type: ignore[no-any-return]

    def run_guest(size: int) -> Sample:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(host_main(size))

    return run_guest


def is_missing_feature(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(is_missing_feature(inner) for inner in exc.exceptions)
    return isinstance(exc, MISSING_FEATURE)


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return describe(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}"


def measure(scenario: Scenario, impl: str, size: int, warmup_size: int) -> dict[str, Any]:
    result: dict[str, Any] = {"scenario": scenario.name, "impl": impl, "size": size}
    try:
        runner = make_runner(scenario, impl)
        result["version"] = implementation_version(impl)
        warm_allocator()
        t0 = perf_counter()
        runner(warmup_size)  # warm-up: the same body, unmeasured
        result["warmup_seconds"] = perf_counter() - t0
        gc.collect()
        sample = runner(size)
    except BaseException as exc:  # report every failure as data; the parent decides
        if isinstance(exc, KeyboardInterrupt):
            raise
        if is_missing_feature(exc):
            result.update(status="n/a", reason=describe(exc))
        else:
            result.update(status="error", reason=describe(exc), traceback=traceback.format_exc())
        return result
    result.update(status="ok", value=sample.value, seconds=sample.seconds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS_BY_NAME))
    parser.add_argument("impl", choices=IMPLEMENTATIONS)
    parser.add_argument("--size", type=int, help="override the scenario's default size")
    parser.add_argument("--warmup-size", type=int, help="override the warm-up run's size")
    args = parser.parse_args()
    scenario = SCENARIOS_BY_NAME[args.scenario]
    size = args.size if args.size is not None else scenario.size
    warmup_size = args.warmup_size
    if warmup_size is None:
        warmup_size = scenario.scaled_warmup_size(size)
    print(json.dumps(measure(scenario, args.impl, size, warmup_size)), flush=True)


if __name__ == "__main__":
    main()
