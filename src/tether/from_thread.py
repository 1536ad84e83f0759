"""Call into a tether run from other threads (``trio.from_thread``)."""

from ._threads import from_thread_check_cancelled as check_cancelled
from ._threads import from_thread_run as run
from ._threads import from_thread_run_sync as run_sync

__all__ = ["check_cancelled", "run", "run_sync"]
