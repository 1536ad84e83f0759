"""The registry of benchmark scenarios and implementations.

To add a scenario (TCP, threads, files, ...): write ``async def name(trio_like, size)``
against the trio API and its asyncio twin ``async def name(size)`` in a module under
``scenarios/``, both returning a ``Sample``, then add one ``Scenario`` entry below.
The driver (``run.py``) and the child (``child.py``) need no change.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Implementations, in column order. "trio_api" ones run the trio-API function with the
# module as ``trio_like``; the others run the asyncio twin on the named event loop.
IMPLEMENTATIONS: tuple[str, ...] = ("tether", "trio", "asyncio", "uvloop")
TRIO_API_IMPLEMENTATIONS = frozenset({"tether", "trio"})
SUBJECT = "tether"  # the implementation the targets are about
BASELINE = "trio"  # the ratio column is SUBJECT relative to BASELINE
TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class Target:
    """What an issue asks of tether in one scenario.

    ``better_than`` maps an implementation to a factor: tether must be at least
    that many times better than it (faster for throughput units, smaller for
    lower-is-better units). ``at_most`` bounds tether's own value (lower-is-better
    units such as B/task). ``overhead_at_most_baseline`` (guest-mode scenarios): tether's
    cost over its plain scenario is at most trio's over trio's, that is tether's
    guest/plain ratio is at least trio's.
    """

    better_than: dict[str, float] = field(default_factory=dict)
    at_most: float | None = None
    overhead_at_most_baseline: bool = False

    def text(self, unit: str = "") -> str:
        parts = []
        for impl, factor in self.better_than.items():
            parts.append(f"≥ {factor:g}{TIMES} {impl}" if factor != 1 else f"≥ {impl}")
        if self.at_most is not None:
            parts.append(f"≤ {self.at_most:,.0f} {unit}".rstrip())
        if self.overhead_at_most_baseline:
            parts.append(f"overhead ≤ {BASELINE}'s")
        return ", ".join(parts)

    def met(
        self,
        medians: dict[str, float],
        higher_is_better: bool,
        plain_medians: dict[str, float] | None = None,
    ) -> bool | None:
        """True/False when every needed median is known, else None.

        ``plain_medians`` are those of the scenario's plain counterpart (guest mode).
        """
        subject = medians.get(SUBJECT)
        if subject is None:
            return None
        ok = True
        if self.overhead_at_most_baseline:
            ratios = guest_to_plain_ratios(medians, plain_medians or {}, higher_is_better)
            if SUBJECT not in ratios or BASELINE not in ratios:
                return None
            ok = ratios[SUBJECT] >= ratios[BASELINE]
        for impl, factor in self.better_than.items():
            other = medians.get(impl)
            if other is None:
                return None
            ratio = subject / other if higher_is_better else other / subject
            ok = ok and ratio >= factor
        if self.at_most is not None:
            ok = ok and subject <= self.at_most
        return ok


def guest_to_plain_ratios(
    guest: dict[str, float], plain: dict[str, float], higher_is_better: bool = True
) -> dict[str, float]:
    """Per implementation, its guest-mode median relative to its plain one (1 = no cost;
    below 1 = slower as a guest), for the implementations that have both."""
    ratios = {}
    for impl in TRIO_API_IMPLEMENTATIONS:
        if guest.get(impl) and plain.get(impl):
            value = guest[impl] / plain[impl]
            ratios[impl] = value if higher_is_better else 1 / value
    return ratios


@dataclass(frozen=True)
class Scenario:
    name: str
    unit: str
    issue: int
    description: str  # one line for BENCHMARKS.md and --list
    trio_api: str  # "module:function" under scenarios/, called as fn(trio_like, size)
    asyncio_twin: str  # "module:function" under scenarios/, called as fn(size)
    size: int  # default size; its meaning (iterations, rounds, tasks) is the function's
    target: Target
    higher_is_better: bool = True
    scalable: bool = True  # False: --scale/--quick leave the size alone
    # Size of the unmeasured warm-up run of the same body; None means half of the
    # measured size. Round-based scenarios warm up with one round.
    warmup_size: int | None = None
    # Guest mode: "asyncio" or "uvloop" makes tether and trio run the trio-API body as a
    # guest of a fresh loop of that kind (lowlevel.start_guest_run) instead of with run().
    host: str | None = None
    # Guest mode: the scenario that times the same body with run(); the driver selects it
    # too and shows each implementation's guest/plain ratio.
    plain: str | None = None

    def scaled_size(self, scale: float) -> int:
        if not self.scalable:
            return self.size
        return max(1, round(self.size * scale))

    def scaled_warmup_size(self, size: int) -> int:
        if self.warmup_size is not None:
            return min(self.warmup_size, size)
        return max(1, size // 2)


SCENARIOS: tuple[Scenario, ...] = (
    # Core scheduling (issue 3).
    Scenario(
        name="checkpoint",
        unit="ops/s",
        issue=3,
        description="one task awaiting `sleep(0)` in a loop",
        trio_api="core:checkpoint",
        asyncio_twin="core_asyncio:checkpoint",
        size=200_000,
        target=Target({"trio": 3, "uvloop": 1}),
    ),
    Scenario(
        name="switch",
        unit="switches/s",
        issue=3,
        description="100 tasks taking turns, each looping `await sleep(0)`",
        trio_api="core:switch",
        asyncio_twin="core_asyncio:switch",
        size=300_000,
        target=Target({"trio": 3}),
    ),
    Scenario(
        name="spawn",
        unit="tasks/s",
        issue=3,
        description="`start_soon` trivial tasks, 10,000 per nursery, until the nursery exits (asyncio: TaskGroup)",
        trio_api="core:spawn",
        asyncio_twin="core_asyncio:spawn",
        size=80_000,
        target=Target({"trio": 2, "uvloop": 1}),
    ),
    Scenario(
        name="nursery_churn",
        unit="nurseries/s",
        issue=3,
        description="open and close a nursery with one trivial child (asyncio: TaskGroup)",
        trio_api="core:nursery_churn",
        asyncio_twin="core_asyncio:nursery_churn",
        size=30_000,
        target=Target({"trio": 2}),
    ),
    Scenario(
        name="timeouts",
        unit="ops/s",
        issue=3,
        description="enter/exit `move_on_after(10)` around one `sleep(0)` (asyncio: `asyncio.timeout(10)`)",
        trio_api="core:timeouts",
        asyncio_twin="core_asyncio:timeouts",
        size=60_000,
        target=Target({"trio": 3}),
    ),
    Scenario(
        name="timers",
        unit="tasks/s",
        issue=3,
        description="10,000 tasks, task i sleeping i µs; wall time from first spawn to nursery exit (repeated in rounds)",
        trio_api="core:timers",
        asyncio_twin="core_asyncio:timers",
        size=2,
        warmup_size=1,
        target=Target({"trio": 4, "asyncio": 1}),
    ),
    Scenario(
        name="cancel_many",
        unit="tasks/s",
        issue=3,
        description="30,000 tasks in `sleep_forever()` cancelled at once by the nursery's cancel scope; time from `cancel()` to nursery exit (asyncio: `Task.cancel()` on each, then TaskGroup exit)",
        trio_api="core:cancel_many",
        asyncio_twin="core_asyncio:cancel_many",
        size=2,
        warmup_size=1,
        target=Target({"asyncio": 1}),
    ),
    Scenario(
        name="memory_per_task",
        unit="B/task",
        issue=3,
        description="traced memory (tracemalloc) per task blocked in `Event.wait()`, 20,000 tasks, after `gc.collect()`",
        trio_api="core:memory_per_task",
        asyncio_twin="core_asyncio:memory_per_task",
        size=20_000,
        warmup_size=1_000,
        target=Target(at_most=1000),
        higher_is_better=False,
        scalable=False,
    ),
    # Synchronisation primitives and channels (issue 4).
    Scenario(
        name="chan_pingpong_unbuffered",
        unit="round trips/s",
        issue=4,
        description="two tasks bouncing an item over two `open_memory_channel(0)` (asyncio: two `Queue(1)`)",
        trio_api="sync:channel_pingpong_unbuffered",
        asyncio_twin="sync_asyncio:channel_pingpong_unbuffered",
        size=40_000,
        target=Target({"trio": 3, "asyncio": 1}),
    ),
    Scenario(
        name="chan_pingpong_unbounded",
        unit="round trips/s",
        issue=4,
        description="two tasks bouncing an item over two `open_memory_channel(math.inf)` (asyncio: two `Queue()`)",
        trio_api="sync:channel_pingpong_unbounded",
        asyncio_twin="sync_asyncio:channel_pingpong_unbounded",
        size=40_000,
        target=Target({"trio": 3}),
    ),
    Scenario(
        name="chan_fan_in",
        unit="items/s",
        issue=4,
        description="10 producers, one consumer, `open_memory_channel(100)` (asyncio: `Queue(100)`)",
        trio_api="sync:channel_fan_in",
        asyncio_twin="sync_asyncio:channel_fan_in",
        size=150_000,
        target=Target({"asyncio": 1}),
    ),
    Scenario(
        name="semaphore",
        unit="acquisitions/s",
        issue=4,
        description="50 tasks contending for `Semaphore(3)`: acquire, `sleep(0)`, release, in a loop",
        trio_api="sync:semaphore",
        asyncio_twin="sync_asyncio:semaphore",
        size=80_000,
        target=Target({"trio": 3, "asyncio": 1}),
    ),
    Scenario(
        name="lock",
        unit="acquisitions/s",
        issue=4,
        description="50 tasks contending for a `Lock`: acquire, `sleep(0)`, release, in a loop",
        trio_api="sync:lock",
        asyncio_twin="sync_asyncio:lock",
        size=60_000,
        target=Target({"trio": 3}),
    ),
    Scenario(
        name="event_wakeup",
        unit="wakeups/s",
        issue=4,
        description="`Event.set()` waking 1,000 waiters; time from `set()` until the last one ran (repeated in rounds)",
        trio_api="sync:event_wakeup",
        asyncio_twin="sync_asyncio:event_wakeup",
        size=100,
        warmup_size=10,
        target=Target({"trio": 2}),
    ),
    # Networking (issue 5): server and clients in one process over 127.0.0.1, except the
    # idle clients, which live in a helper process.
    Scenario(
        name="tcp_echo_roundtrip",
        unit="round trips/s",
        issue=5,
        description="one connection to an echo server (`serve_tcp`, `open_tcp_stream`), 64-byte messages, one at a time (asyncio: streams)",
        trio_api="net:tcp_echo_roundtrip",
        asyncio_twin="net_asyncio:tcp_echo_roundtrip",
        size=10_000,
        target=Target({"trio": 2, "asyncio": 1, "uvloop": 0.75}),
    ),
    Scenario(
        name="tcp_echo_concurrent",
        unit="msgs/s",
        issue=5,
        description="50 concurrent clients of one echo server, each doing round trips of 1 KiB messages (asyncio: streams)",
        trio_api="net:tcp_echo_concurrent",
        asyncio_twin="net_asyncio:tcp_echo_concurrent",
        size=10_000,
        target=Target({"trio": 2, "asyncio": 1, "uvloop": 0.67}),
    ),
    Scenario(
        name="bulk_transfer",
        unit="MiB/s",
        issue=5,
        description="one connection, `send_all` of 64 KiB chunks; timed until the receiving server has it all (size in MiB)",
        trio_api="net:bulk_transfer",
        asyncio_twin="net_asyncio:bulk_transfer",
        size=512,
        target=Target({"trio": 1.5}),
    ),
    Scenario(
        name="connection_churn",
        unit="connections/s",
        issue=5,
        description="`open_tcp_stream`, one 64-byte round trip with the echo server, `aclose`, in a loop",
        trio_api="net:connection_churn",
        asyncio_twin="net_asyncio:connection_churn",
        size=2_000,
        target=Target({"trio": 2}),
    ),
    Scenario(
        name="idle_connections",
        unit="B/conn",
        issue=5,
        description="traced memory (tracemalloc) per connection while one `serve_tcp` server holds 10,000 idle connections (clients in a helper process), handlers blocked in `receive_some`; all must then see EOF and close",
        trio_api="net:idle_connections",
        asyncio_twin="net_asyncio:idle_connections",
        size=10_000,
        warmup_size=1_000,
        target=Target({"trio": 1}),
        higher_is_better=False,
        scalable=False,
    ),
    # Threads, files and subprocesses (issue 6).
    Scenario(
        name="file_lines",
        unit="lines/s",
        issue=6,
        description="`async for line in f` over a 5 MB text file of 100,000 lines, from `open_file` to close (asyncio: a plain sync `for line in f`, the baseline of the 0.25x target)",
        trio_api="blocking:file_lines",
        asyncio_twin="blocking_asyncio:file_lines",
        size=100_000,
        warmup_size=10_000,
        target=Target({"trio": 10, "asyncio": 0.25}),
    ),
    Scenario(
        name="to_thread",
        unit="round trips/s",
        issue=6,
        description="`to_thread.run_sync(lambda: None)`, one call at a time (asyncio: `asyncio.to_thread`)",
        trio_api="blocking:to_thread_round_trip",
        asyncio_twin="blocking_asyncio:to_thread_round_trip",
        size=6_000,
        warmup_size=500,
        target=Target({"trio": 1.5, "asyncio": 1}),
    ),
    Scenario(
        name="run_process",
        unit="processes/s",
        issue=6,
        description='`run_process([sys.executable, "-c", "pass"])`, one at a time (asyncio: `create_subprocess_exec` + `wait`)',
        trio_api="blocking:run_process",
        asyncio_twin="blocking_asyncio:run_process",
        size=20,
        warmup_size=2,
        target=Target({"trio": 1}),
    ),
    # The asyncio bridge (issue 8).
    Scenario(
        name="aio_await",
        unit="round trips/s",
        issue=8,
        description="a tether task doing `await tether.asyncio_bridge.aio_await(coro())` of a coroutine that returns at once, in `asyncio_bridge.run` on asyncio's loop, one at a time (asyncio: `await create_task(coro())`, the same coroutine as a task of its own; trio: no bridge, trio-asyncio is not a dependency). Target: no slower than two native task round trips",
        trio_api="bridge:aio_await_round_trip",
        asyncio_twin="bridge_asyncio:aio_await_round_trip",
        size=30_000,
        target=Target({"asyncio": 0.5}),
    ),
)


def guest_variant(plain_name: str, name: str, host: str, size: int) -> Scenario:
    """The trio-API body of the scenario ``plain_name``, with tether and trio each a guest
    (``lowlevel.start_guest_run``) of a fresh ``host`` loop; the asyncio/uvloop columns are
    the plain scenario's twins. The target is relative: tether's guest/plain ratio at
    least trio's."""
    plain = next(s for s in SCENARIOS if s.name == plain_name)
    loop = "asyncio's loop" if host == "asyncio" else host
    return replace(
        plain,
        name=name,
        issue=8,
        description=f"`{plain_name}`'s body, tether and trio as guests of {loop}",
        size=size,
        warmup_size=None,
        target=Target(overhead_at_most_baseline=True),
        host=host,
        plain=plain_name,
    )


# Guest mode (issue 8).
SCENARIOS += (
    guest_variant("checkpoint", "guest_checkpoint", "asyncio", size=120_000),
    guest_variant("checkpoint", "guest_checkpoint_uvloop", "uvloop", size=120_000),
    guest_variant("tcp_echo_roundtrip", "guest_tcp_echo", "asyncio", size=10_000),
    guest_variant("tcp_echo_roundtrip", "guest_tcp_echo_uvloop", "uvloop", size=10_000),
)

SCENARIOS_BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}
assert len(SCENARIOS_BY_NAME) == len(SCENARIOS), "scenario names must be unique"
assert all(s.plain in SCENARIOS_BY_NAME for s in SCENARIOS if s.plain), "unknown plain scenario"
