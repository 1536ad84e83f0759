"""``tether.install()``: tether registers itself in ``sys.modules`` as ``trio``.

After ``install()``, ``import trio`` anywhere in the process, and ``import
trio.lowlevel``, ``from trio.testing import MockClock`` and so on, give
tether's modules: the same objects as ``import tether``, not copies, so
``trio.Cancelled is tether.Cancelled`` and an exception raised by a library
that imported ``trio`` is caught by code that imported ``tether``.

Who calls it: user code (first thing in a program), ``python -m tether``
(``__main__.py``) and the start-up hook in ``tether-as-trio.pth`` when
``TETHER_AS_TRIO=1``.
"""

from __future__ import annotations

import importlib
import sys
import types

# The trio release whose API tether implements.  Under install(),
# ``trio.__version__`` reports it, so version checks written for trio pass;
# tether's own version stays available as importlib.metadata.version("tether").
TRIO_API_VERSION = "0.35.0"

# The public namespaces of trio, in the order they are registered.  A name
# whose tether module does not exist yet (a part still being built) is skipped;
# it is registered by the first install() after its module lands.
PUBLIC_SUBMODULES = ("abc", "from_thread", "lowlevel", "socket", "testing", "to_thread")

# The environment variable read by the start-up hook (tether-as-trio.pth).
ENVIRONMENT_VARIABLE = "TETHER_AS_TRIO"


def install() -> None:
    """Make ``import trio`` give tether, for the rest of this process.

    Registers ``tether`` and every tether module under the matching ``trio``
    name in ``sys.modules``: ``trio``, ``trio.lowlevel``, ``trio.abc``,
    ``trio.testing``, ``trio.socket``, ``trio.to_thread``, ``trio.from_thread``
    (those that exist in this version of tether), and the private modules
    behind them, so a library that reaches into ``trio._core`` finds tether's.
    Afterwards ``trio.__version__`` is ``"0.35.0"``, the trio release tether
    implements; ``sniffio.current_async_library()`` already answers
    ``"trio"`` inside ``tether.run``.

    Call it before anything imports trio: first thing in the program, or run
    the program with ``python -m tether script.py``, or set
    ``TETHER_AS_TRIO=1`` to have it called at interpreter start.  Calling it
    again is harmless (and registers any tether module imported since).

    Raises:
        RuntimeError: the real trio was imported before ``install()`` was
            called; code holding it would mix two incompatible runtimes.
    """
    import tether

    current = sys.modules.get("trio")
    if current is not tether:
        imported_already = sorted(name for name in sys.modules if name == "trio" or name.startswith("trio."))
        if imported_already:
            origin = getattr(sys.modules.get(imported_already[0]), "__file__", None)
            where = f" (from {origin})" if origin else ""
            raise RuntimeError(
                f"tether.install() was called after trio was imported: {imported_already[0]!r} is "
                f"already in sys.modules{where}.\n"
                "Call tether.install() first, before any module imports trio, or start the program "
                f"with `python -m tether script.py` or with {ENVIRONMENT_VARIABLE}=1 in the environment."
            )
    for name in PUBLIC_SUBMODULES:
        _import_if_present(f"tether.{name}")
    tether.__version__ = TRIO_API_VERSION
    for name, module in list(sys.modules.items()):
        if isinstance(module, types.ModuleType) and (name == "tether" or name.startswith("tether.")):
            sys.modules["trio" + name.removeprefix("tether")] = module


def _import_if_present(module_name: str) -> None:
    # Only a missing module is tolerated; an error inside one that exists
    # is a bug to show, not a part to skip.
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
