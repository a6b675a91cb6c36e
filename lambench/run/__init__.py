"""The run: configuration and planning (:mod:`.config`), the run directory's one owner (:mod:`.rundir`), the loop
(:mod:`.loop`) and summaries by run kind (:mod:`.summary`).

Names are loaded on first use: the scorers import ``lambench.run.rundir``, and the loop and the summaries import
the scorers, so this package imports nothing eagerly.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "config": ["ConfigError", "Job", "RunConfig", "config_diffs", "default_run_dir", "plan_jobs", "redacted",
               "select_tasks"],
    "loop": ["RunResult", "error_record", "run", "run_job"],
    "rundir": ["CONFIG", "EPISODES", "OBSERVATIONS", "SUMMARY", "Appender", "EpisodeFormatError", "RunDir",
               "RunDirError", "atomic_write", "load_episodes", "repair_jsonl", "validate_episode"],
    "summary": ["SUMMARIES", "score_run_dir", "write_summary"],
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'lambench.run' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lambench.run.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
