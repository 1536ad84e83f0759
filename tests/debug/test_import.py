"""``import tether`` loads tether.debug only when asked to (an environment variable, or use)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = """
import sys
import tether
print('tether.debug' in sys.modules)
print(tether.debug.format_task_tree.__name__)
try:
    tether.no_such_name
except AttributeError as error:
    print(error)
"""


def _run(env_extra: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(env_extra)
    done = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.splitlines()


def test_import_tether_leaves_debug_for_first_use() -> None:
    assert _run({}) == [
        "False",
        "format_task_tree",
        "module 'tether' has no attribute 'no_such_name'",
    ]


@pytest.mark.parametrize(
    "variable",
    ["TETHER_MONITOR", "TETHER_SCHEDULE_SEED", "TETHER_DETECT_DEADLOCKS", "TETHER_TRACE_CANCEL"],
)
def test_a_debug_environment_variable_imports_debug_with_tether(variable: str) -> None:
    value = "7" if variable == "TETHER_SCHEDULE_SEED" else "0"  # "0": set, though not enabling
    assert _run({variable: value})[0] == "True"
