"""Every public name of trio 0.35 exists in tether under the same module path.

``tests/data/trio-0.35-public-api.txt`` lists trio's public names (facts:
names and signatures).  Names that belong to open issues are listed in
``NOT_YET`` with their issue; when an issue lands, its names leave the list
and this test holds them to it.  A name in ``NOT_YET`` that already exists
fails the test too, so the list never goes stale.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

API_FILE = Path(__file__).parent / "data" / "trio-0.35-public-api.txt"

_DTLS = "not yet filed: DTLS (needs pyOpenSSL)"

NOT_YET: dict[str, dict[str, str]] = {
    "trio": {
        **dict.fromkeys(["DTLSChannel", "DTLSChannelStatistics", "DTLSEndpoint"], _DTLS),
    },
    "trio.lowlevel": {},
    "trio.testing": {},
}
MODULES_NOT_YET: dict[str, str] = {}


def _public_names() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    module = None
    for line in API_FILE.read_text().splitlines():
        header = re.match(r"## (trio[\w.]*)$", line)
        if header:
            module = header.group(1)
            names[module] = []
            continue
        if module is None or not line.strip() or line.startswith((" ", "#")):
            continue
        found = re.match(r"(?:async def|def|class)\s+(\w+)", line) or re.match(r"(\w+)\s*=", line)
        if found:
            names[module].append(found.group(1))
    return names


PUBLIC = _public_names()


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_every_public_name_exists(module_name: str) -> None:
    if module_name in MODULES_NOT_YET:
        pytest.skip(f"{module_name}: {MODULES_NOT_YET[module_name]}")
    module = importlib.import_module(module_name.replace("trio", "tether", 1))
    pending = NOT_YET.get(module_name, {})
    missing = [name for name in PUBLIC[module_name] if not hasattr(module, name) and name not in pending]
    assert missing == []
    arrived = [name for name in pending if hasattr(module, name)]
    assert arrived == [], f"remove these from NOT_YET, they exist now: {arrived}"


def test_api_file_lists_the_core_names() -> None:
    # Guards the parser: a few names every version of the list must yield.
    assert {"run", "open_nursery", "CancelScope", "sleep"} <= set(PUBLIC["trio"])
    assert {"checkpoint", "Task", "wait_task_rescheduled"} <= set(PUBLIC["trio.lowlevel"])
