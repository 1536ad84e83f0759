"""tether demo: the seed's five programs, then structured concurrency in a few lines.

First the five programs of the project's seed (examples/seeds/: a TCP
client, async file lines, concurrent HTTP fetches with httpx, a semaphore,
a nursery), each written for trio and run unchanged on tether with
``python -m tether``; each starts the local server or makes the file it
needs.  Then a short tether program: a timeout, and a failing child
cancelling its sibling in a nursery.

    python examples/demo.py
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import tether

SEEDS = ["tcp_client.py", "log_file.py", "http_fetch.py", "semaphore.py", "structured.py"]


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


SAMPLE_LOG = "boot: ok\n\nnetwork: up\n   \nservice: listening on 127.0.0.1\n"


def run_seed_programs() -> None:
    folder = Path(__file__).parent / "seeds"
    with tempfile.TemporaryDirectory() as workdir:
        # log_file.py reads ./system.log, as in the seed: give it one.
        (Path(workdir) / "system.log").write_text(SAMPLE_LOG)
        for name in SEEDS:
            print(f"--- {name} (python -m tether examples/seeds/{name})", flush=True)
            command = [sys.executable, "-m", "tether", str(folder / name)]
            subprocess.run(command, check=True, cwd=workdir)


if __name__ == "__main__":
    run_seed_programs()
    print("--- a tether program", flush=True)
    tether.run(main)
