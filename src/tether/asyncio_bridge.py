"""Run asyncio and tether code together in one thread (tether-only; not part of trio's API).

``tether.asyncio_bridge.run(main)`` runs an asyncio event loop with tether
as its guest; inside it, tether code awaits asyncio code with ``aio_await``
(``aio_context``, ``aio_iter``) and asyncio code awaits tether code with
``tether_await``.  See docs/asyncio_bridge.md.
"""

from ._bridge._aio import aio_await as aio_await
from ._bridge._aio import aio_context as aio_context
from ._bridge._aio import aio_iter as aio_iter
from ._bridge._run import run as run
from ._bridge._state import AsyncioCancelledError as AsyncioCancelledError
from ._bridge._tether import tether_await as tether_await

__all__ = ["AsyncioCancelledError", "aio_await", "aio_context", "aio_iter", "run", "tether_await"]
