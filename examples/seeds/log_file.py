"""The seed's asynchronous file processing: prints the non-empty lines of ./system.log.

python -m tether examples/seeds/log_file.py
"""

import trio


async def process_log_file(file_path: str) -> None:
    async with await trio.open_file(file_path) as f:
        async for line in f:
            cleaned = line.strip()
            if cleaned:
                print(f"Log Entry: {cleaned}")


async def entry_point() -> None:
    await process_log_file("system.log")


if __name__ == "__main__":
    trio.run(entry_point)
