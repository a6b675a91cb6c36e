"""A task's difficulty label and the time a person would take, derived from its gold and its apps.

Difficulty (``easy``, ``medium``, ``hard``) reads how much must be done: the number of gold actions (the final
``finish`` not counted) and the number of apps involved (the task's ``apps``, or the apps its API calls name).
A task may declare either value instead (``difficulty:``, ``human_time_s:``) where the rule misjudges it — an
infeasible task, whose gold is a single ``finish``, is rated by what the agent must find out, not by its gold.

The estimated human time is a reading of the request plus a per-action cost (a click is quicker than typing a
paragraph); it is a scale for comparing tasks, not a measurement.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LEVELS", "derived_difficulty", "derived_human_time_s", "difficulty", "human_time_s", "multi_step"]

LEVELS = ("easy", "medium", "hard")

READ_S = 15.0
"""Reading the request."""
ACTION_S = {"click": 3.0, "select": 4.0, "scroll": 2.0, "hotkey": 2.0, "open_app": 3.0, "wait": 2.0,
            "type": 3.0, "call": 10.0, "shell": 8.0}
"""A person's time per action, before the text they type (a ``call`` stands for the GUI steps it replaces)."""
CHAR_S = 0.3
"""Per character typed (about 40 words a minute)."""


def _actions(gold: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in gold if a.get("type") != "finish"]


def _operations(action: dict[str, Any]) -> int:
    """One, or for a shell command the commands it chains (``a && b | c`` is three)."""
    if action.get("type") != "shell":
        return 1
    return 1 + len(re.findall(r"&&|\|\||;|\||\n", str(action.get("command", "")).strip()))


def _apps(task: Any) -> int:
    named = set(task.apps)
    named |= {str(a["tool"]).split(".")[0] for a in _actions(task.gold)
              if a.get("type") == "call" and "." in str(a.get("tool", ""))}
    return len(named)


def derived_difficulty(task: Any) -> str:
    """``easy``: at most 3 actions in one app; ``hard``: 8 or more actions, 3 or more apps, or 6 or more
    actions across 2 apps; ``medium`` otherwise. A shell command counts the commands it chains."""
    n, apps = sum(_operations(a) for a in _actions(task.gold)), _apps(task)
    if n >= 8 or apps >= 3 or (n >= 6 and apps >= 2):
        return "hard"
    if n <= 3 and apps <= 1:
        return "easy"
    return "medium"


def derived_human_time_s(task: Any) -> int:
    """Seconds, rounded to 5: reading the request, then each gold action and the text it types."""
    total = READ_S + len(task.instruction) / 50
    for action in _actions(task.gold):
        total += ACTION_S.get(action.get("type", ""), 5.0)
        typed = action.get("text") or action.get("command") or ""
        if action.get("type") == "call":
            typed = " ".join(str(v) for v in (action.get("args") or {}).values() if isinstance(v, str) and len(v) > 20)
        total += CHAR_S * len(str(typed))
    return int(5 * round(total / 5))


def difficulty(task: Any) -> str:
    """The task's declared difficulty, or the derived one."""
    return task.difficulty or derived_difficulty(task)


def human_time_s(task: Any) -> int:
    """The task's declared estimate, or the derived one."""
    return task.human_time_s if task.human_time_s is not None else derived_human_time_s(task)



_READS = re.compile(r"(list|read|get|search|contacts|who)", re.IGNORECASE)
"""API tools that only read (``calendar.list``, ``files.read``, ``getClaim``, ``searchCustomers``, ...)."""


def _writes(task: Any) -> int:
    """How many API calls of the gold change something (calls of tools that do not only read)."""
    return sum(1 for a in _actions(task.gold) if a.get("type") == "call"
               and not _READS.match(str(a.get("tool", "")).rpartition(".")[2]))


def multi_step(task: Any) -> bool:
    """Whether the task is multi-step across apps or records: at least 3 gold actions (``finish`` not counted)
    and either 2 or more apps, or 2 or more API calls that change records (not ``list``/``read``/``get``/...)."""
    return len(_actions(task.gold)) >= 3 and (_apps(task) >= 2 or _writes(task) >= 2)
