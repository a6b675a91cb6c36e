"""The run: configuration and planning, the run directory's one owner, the loop, summaries.

Names are loaded on first use: ``lambench.run.rundir`` is imported by the scorers, which the loop and the
summaries import in turn, so this package imports nothing eagerly.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "rundir": ["CONFIG", "EPISODES", "OBSERVATIONS", "SUMMARY", "Appender", "EpisodeFormatError", "RunDir",
               "RunDirError", "atomic_write", "load_episodes", "repair_jsonl", "validate_episode"],
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'lambench.run' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lambench.run.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
