"""The asyncio bridge: an asyncio event loop as host, tether as its guest, and calls both ways.

Published as ``tether.asyncio_bridge``; ``docs/asyncio_bridge.md`` is the
user's guide.  ``_state`` holds the per-run record and how each side finds
it, ``_aio`` tether code awaiting asyncio, ``_tether`` asyncio code awaiting
tether, ``_run`` the lifecycle.
"""
