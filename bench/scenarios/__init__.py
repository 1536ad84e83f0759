"""Benchmark scenarios.

Each scenario exists twice: once written against the trio API (``core.py``,
``sync.py``; every function takes the implementation module ``trio_like``, so
the same code runs on trio and on tether) and once as an asyncio twin
(``core_asyncio.py``, ``sync_asyncio.py``; run on asyncio's own loop and on
uvloop). Every scenario is an ``async def name(trio_like, size)`` (or
``name(size)`` for a twin) returning a :class:`~scenarios._common.Sample`;
it times only the interval it claims to measure, with ``time.perf_counter``.
"""
