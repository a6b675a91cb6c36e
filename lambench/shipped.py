"""Where the data lambench ships lives: the built-in task suites and replay datasets (``tasks``) and the container
build contexts (``sandboxes``).

In the checkout they are the top-level folders ``tasks/`` and ``sandboxes/``; a wheel carries copies of them inside
the package, as ``lambench/_data/tasks`` and ``lambench/_data/sandboxes`` (``setup.py`` puts them there), so an
installed lambench finds them from any directory.  An editable install reads the checkout's folders.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PACKAGE_DATA", "shipped_dir", "shipped_datasets"]

PACKAGE_DATA = "_data"
"""The folder inside the installed package that holds the shipped data."""

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(name: str) -> Path:
    """The shipped folder ``name`` (``tasks`` or ``sandboxes``): the installed package's copy, else the checkout's
    top-level folder.  The path is returned even when it does not exist (messages name where lambench looked)."""
    installed = _PACKAGE / PACKAGE_DATA / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name
    return installed


def shipped_datasets() -> dict[str, Path]:
    """The shipped replay datasets by name (``mockos-core`` -> ``.../tasks/replay/mockos-core.jsonl.gz``)."""
    folder = shipped_dir("tasks") / "replay"
    return {p.name.removesuffix(".jsonl.gz"): p for p in sorted(folder.glob("*.jsonl.gz"))}
