"""lambench: an evaluation and safety benchmark harness for Large Action Models.

Importing the package registers a Gymnasium environment per sandbox (``lambench/MockOS-v0``,
``lambench/Shell-v0``, ``lambench/WebApp-v0``, and those of third-party sandbox plugins).
Heavy optional parts (docker, transformers, ray) are imported only where used.
"""

from __future__ import annotations

__version__ = "0.1.0"

import gymnasium as _gym

from lambench.action import Action, ParseResult, parse_action
from lambench.sandboxes import registry as _sandboxes
from lambench.task import Task, TaskError, get_task, load_suite, load_task, suite_version

__all__ = [
    "__version__",
    "Action",
    "ParseResult",
    "Task",
    "TaskError",
    "get_task",
    "load_suite",
    "load_task",
    "parse_action",
    "suite_version",
    "load_runs",
    "summarize",
]


def __getattr__(name: str):
    # Results as data, imported on first use (pandas-heavy; not needed to run episodes).
    if name in ("load_runs", "summarize"):
        from lambench.results import frame

        return getattr(frame, name)
    raise AttributeError(f"module 'lambench' has no attribute {name!r}")

for _spec in _sandboxes.specs():  # one Gymnasium id per sandbox plugin
    if _spec.env_id not in _gym.registry:
        _gym.register(id=_spec.env_id, entry_point="lambench.env:LamEnv", kwargs={"sandbox": _spec.name})
