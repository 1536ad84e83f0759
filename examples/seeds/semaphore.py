"""The seed's concurrency limiting: 8 tasks, at most 3 at a time.

python -m tether examples/seeds/semaphore.py
"""

import trio

# Limit concurrent access to 3 tasks
rate_limiter = trio.Semaphore(3)


async def restricted_task(task_id: int) -> None:
    async with rate_limiter:
        print(f"Task {task_id} acquired lock")
        await trio.sleep(1)
        print(f"Task {task_id} released lock")


async def manager() -> None:
    async with trio.open_nursery() as nursery:
        for i in range(8):
            nursery.start_soon(restricted_task, i)


if __name__ == "__main__":
    trio.run(manager)
