"""Results as data: run directories read into tables and ranked groups, never rendered here.

- :mod:`lambench.results.runs`: run directories as ``Run`` records (config, suite version, episodes);
- :mod:`lambench.results.frame`: ``load_runs`` (one pandas row per episode) and ``summarize`` (metrics
  of every group of episodes, one row per group);
- :mod:`lambench.results.board`: agents pooled per suite version and ranked, with notes; replay sections.

``lambench.results.frame`` imports pandas; import it (or ``lambench.summarize``) only where tables are wanted.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {"load_runs": "frame", "summarize": "frame", "Run": "runs", "read_runs": "runs",
         "Entry": "board", "Group": "board", "ReplaySection": "board"}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    # pandas is imported on first use only (the board and the runs do not need it)
    if name not in _HOME:
        raise AttributeError(f"module 'lambench.results' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lambench.results.{_HOME[name]}"), name)
