"""serve_listeners: accept forever on some listeners and run a handler per connection.

Running out of file descriptors (EMFILE, ENFILE) or memory (ENOMEM,
ENOBUFS) while accepting is logged and retried after a short pause instead
of killing the server: the condition is usually transient.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, NoReturn, TypeVar

from .. import _core
from .._abc import AsyncResource, Listener
from .._core import TASK_STATUS_IGNORED, TaskStatus
from .._timeouts import sleep

StreamT = TypeVar("StreamT", bound=AsyncResource)
ListenerT = TypeVar("ListenerT", bound=Listener[Any])

_RESOURCE_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_PAUSE_AFTER_RESOURCE_ERROR: Final = 0.100

logger = logging.getLogger("tether.serve_listeners")


async def _close_forcefully(resource: AsyncResource) -> None:
    with _core.CancelScope() as scope:
        scope.cancel()
        await resource.aclose()


async def _run_handler(stream: StreamT, handler: Callable[[StreamT], Awaitable[object]]) -> None:
    try:
        await handler(stream)
    finally:
        await _close_forcefully(stream)


async def _serve_one_listener(
    listener: Listener[StreamT],
    handler_nursery: _core.Nursery,
    handler: Callable[[StreamT], Awaitable[object]],
) -> NoReturn:
    async with listener:
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno not in _RESOURCE_ERRNOS:
                    raise
                logger.error(
                    "accept returned %s (%s); retrying in %s seconds",
                    errno.errorcode.get(error.errno or 0, "?"),
                    error.strerror,
                    _PAUSE_AFTER_RESOURCE_ERROR,
                    exc_info=True,
                )
                await sleep(_PAUSE_AFTER_RESOURCE_ERROR)
            else:
                handler_nursery.start_soon(_run_handler, stream, handler, name=handler)


async def serve_listeners(
    handler: Callable[[Any], Awaitable[object]],
    listeners: list[ListenerT],
    *,
    handler_nursery: _core.Nursery | None = None,
    task_status: TaskStatus[list[ListenerT]] = TASK_STATUS_IGNORED,
) -> NoReturn:
    """Accept connections on every listener, forever, running ``handler(stream)`` for each.

    Each handler runs in its own task in ``handler_nursery`` (default: an
    internal nursery); the stream is closed when the handler returns.  An
    exception escaping a handler propagates through that nursery as usual
    (cancelling the server when it is the internal one).  ``task_status``
    receives the listeners once all are accepting.
    """
    async with _core.open_nursery() as nursery:
        if handler_nursery is None:
            handler_nursery = nursery
        for listener in listeners:
            nursery.start_soon(_serve_one_listener, listener, handler_nursery, handler)
        # Let every listener reach its accept() before reporting them ready.
        await _core.checkpoint()
        task_status.started(listeners)
    raise AssertionError("serve_listeners' accept loops never return")  # pragma: no cover
