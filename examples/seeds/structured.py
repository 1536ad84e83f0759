"""The seed's structured task management: the nursery waits for its background task.

python -m tether examples/seeds/structured.py
"""

import trio


async def background_process() -> None:
    await trio.sleep(0.5)
    print("Background operation finalized")


async def primary_process() -> None:
    print("Primary operation started")
    await trio.sleep(1)
    print("Primary operation finished")


async def orchestrator() -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(background_process)
        await primary_process()


if __name__ == "__main__":
    trio.run(orchestrator)
