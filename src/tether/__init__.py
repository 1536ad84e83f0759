"""tether: structured concurrency and async I/O for Python, with trio's API.

``import tether as trio`` works: every public name of trio 0.35 lives under
the same module path here.
"""

from . import abc as abc
from . import from_thread as from_thread
from . import lowlevel as lowlevel
from . import socket as socket
from . import testing as testing
from . import to_thread as to_thread
from ._channel import MemoryChannelStatistics as MemoryChannelStatistics
from ._channel import MemoryReceiveChannel as MemoryReceiveChannel
from ._channel import MemorySendChannel as MemorySendChannel
from ._channel import as_safe_channel as as_safe_channel
from ._channel import open_memory_channel as open_memory_channel
from ._compat import install as install
from ._core import TASK_STATUS_IGNORED as TASK_STATUS_IGNORED
from ._core import BrokenResourceError as BrokenResourceError
from ._core import BusyResourceError as BusyResourceError
from ._core import Cancelled as Cancelled
from ._core import CancelScope as CancelScope
from ._core import ClosedResourceError as ClosedResourceError
from ._core import EndOfChannel as EndOfChannel
from ._core import Nursery as Nursery
from ._core import RunFinishedError as RunFinishedError
from ._core import TaskStatus as TaskStatus
from ._core import TrioDeprecationWarning as TrioDeprecationWarning
from ._core import TrioInternalError as TrioInternalError
from ._core import WouldBlock as WouldBlock
from ._core import current_effective_deadline as current_effective_deadline
from ._core import current_time as current_time
from ._core import open_nursery as open_nursery
from ._core import run as run
from ._file_io import open_file as open_file
from ._file_io import wrap_file as wrap_file
from ._net._serve import serve_listeners as serve_listeners
from ._net._socket_stream import SocketListener as SocketListener
from ._net._socket_stream import SocketStream as SocketStream
from ._net._ssl import NeedHandshakeError as NeedHandshakeError
from ._net._ssl import SSLListener as SSLListener
from ._net._ssl import SSLStream as SSLStream
from ._net._ssl_tcp import open_ssl_over_tcp_listeners as open_ssl_over_tcp_listeners
from ._net._ssl_tcp import open_ssl_over_tcp_stream as open_ssl_over_tcp_stream
from ._net._ssl_tcp import serve_ssl_over_tcp as serve_ssl_over_tcp
from ._net._tcp import open_tcp_listeners as open_tcp_listeners
from ._net._tcp import open_tcp_stream as open_tcp_stream
from ._net._tcp import serve_tcp as serve_tcp
from ._net._unix import open_unix_socket as open_unix_socket
from ._path import Path as Path
from ._path import PosixPath as PosixPath
from ._path import WindowsPath as WindowsPath
from ._signals import open_signal_receiver as open_signal_receiver
from ._streams import StapledStream as StapledStream
from ._streams import aclose_forcefully as aclose_forcefully
from ._subprocess import Process as Process
from ._subprocess import run_process as run_process
from ._sync import CapacityLimiter as CapacityLimiter
from ._sync import CapacityLimiterStatistics as CapacityLimiterStatistics
from ._sync import Condition as Condition
from ._sync import ConditionStatistics as ConditionStatistics
from ._sync import Event as Event
from ._sync import EventStatistics as EventStatistics
from ._sync import Lock as Lock
from ._sync import LockStatistics as LockStatistics
from ._sync import Semaphore as Semaphore
from ._sync import StrictFIFOLock as StrictFIFOLock
from ._timeouts import TooSlowError as TooSlowError
from ._timeouts import fail_after as fail_after
from ._timeouts import fail_at as fail_at
from ._timeouts import move_on_after as move_on_after
from ._timeouts import move_on_at as move_on_at
from ._timeouts import sleep as sleep
from ._timeouts import sleep_forever as sleep_forever
from ._timeouts import sleep_until as sleep_until

__version__ = "0.1.0"


def _import_debug_if_asked() -> None:
    # tether.debug's environment variables act on every run, even in a
    # program that never imports tether.debug; without them it is imported
    # on first use (``tether.debug`` below), which keeps ``import tether``
    # lighter (a socket server, a task-tree formatter...).
    import os

    from ._core import ENVIRONMENT_VARIABLES

    if any(os.environ.get(name) for name in ENVIRONMENT_VARIABLES):
        from . import debug  # noqa: F401


def __getattr__(name: str) -> object:
    if name == "debug":
        import importlib

        return importlib.import_module(".debug", __name__)
    raise AttributeError(f"module 'tether' has no attribute {name!r}")


_import_debug_if_asked()
