"""Build hook: a wheel carries the built-in task suites and replay datasets (``tasks/``) and the container build
contexts (``sandboxes/``) inside the package, as ``lambench/_data/tasks`` and ``lambench/_data/sandboxes``.

The folders stay at the top of the checkout (the layout docs/ and the leaderboards name); an installed lambench
finds its copies through :mod:`lambench.shipped`.  An editable install copies nothing: it reads the checkout.
Everything else about the package is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("tasks", "sandboxes")
SKIP = {"__pycache__", ".pytest_cache"}


class BuildWithShippedData(build_py):
    """``build_py`` that also copies the shipped folders into ``lambench/_data/`` of the build."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = Path(__file__).resolve().parent
        for name in SHIPPED:
            for src in sorted((here / name).rglob("*")):
                rel = src.relative_to(here)
                if src.is_file() and not SKIP.intersection(rel.parts) and src.suffix != ".pyc":
                    dst = Path(self.build_lib, "lambench", "_data", rel)
                    self.mkpath(str(dst.parent))
                    self.copy_file(str(src), str(dst))


setup(cmdclass={"build_py": BuildWithShippedData})
