"""tether demo: structured concurrency in a few lines.

A nursery runs a background and a primary task (as in the seed's last
program), a timeout abandons a slow operation, and a failing child cancels
its siblings and surfaces as an ExceptionGroup.

    python examples/demo.py
"""

import tether


async def background_process() -> None:
    await tether.sleep(0.2)
    print("Background operation finalized")


async def primary_process() -> None:
    print("Primary operation started")
    await tether.sleep(0.4)
    print("Primary operation finished")


async def slow_operation() -> str:
    await tether.sleep(10)
    return "too late"


async def failing_child() -> None:
    await tether.sleep(0.1)
    raise ValueError("child failed")


async def sibling() -> None:
    try:
        await tether.sleep(10)
    finally:
        print("Sibling cancelled when its neighbour failed")


async def main() -> None:
    async with tether.open_nursery() as nursery:
        nursery.start_soon(background_process)
        await primary_process()

    with tether.move_on_after(0.1) as scope:
        await slow_operation()
    print(f"Slow operation abandoned after 0.1 s: cancelled_caught={scope.cancelled_caught}")

    try:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(failing_child)
            nursery.start_soon(sibling)
    except* ValueError as group:
        print(f"Caught {group.exceptions!r} from the nursery")
    print("No task left behind.")


if __name__ == "__main__":
    tether.run(main)
