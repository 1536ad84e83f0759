"""Build hook: ship ``tether-as-trio.pth`` at the root of site-packages.

Everything else about the package is declared in pyproject.toml.  A ``.pth``
file runs its ``import`` lines at every interpreter start, so this one does
nothing but read one environment variable unless ``TETHER_AS_TRIO=1`` is set;
then it calls ``tether.install()``, and ``import trio`` gives tether in that
process (``TETHER_AS_TRIO=1 pytest`` runs a trio project's tests on tether).

setuptools has no declarative way to put a file at the root of a wheel, so
``build_py`` writes it: into the build directory for a regular wheel, and
straight into the editable wheel for ``pip install -e .``.
"""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "tether-as-trio.pth"
# One line, run by the `site` module: it must stay cheap and never fail.
PTH_LINE = 'import os; os.environ.get("TETHER_AS_TRIO") == "1" and __import__("tether").install()\n'


class BuildPyWithPth(build_py):
    """``build_py`` that also writes ``tether-as-trio.pth`` at the wheel's root."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            # An editable wheel is assembled from the install directory, not build_lib.
            target_dir = self.get_finalized_command("install").install_lib
        else:
            target_dir = self.build_lib
        os.makedirs(target_dir, exist_ok=True)
        with open(os.path.join(target_dir, PTH_NAME), "w", encoding="utf-8") as file:
            file.write(PTH_LINE)


setup(cmdclass={"build_py": BuildPyWithPth})
