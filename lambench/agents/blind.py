"""``blind-replay``: replays a solution it remembers without looking at the screen — the memorization baseline.

On an instance of a template it replays the gold of the *recorded* instance (seed :data:`RECORDED_SEED`) of the
same template, whatever it observes; on a fixed task, that task's own gold. A suite whose tasks a blind replay
solves measures memory, not action: the self-check reports the share of templated instances (other than the
recorded one) it solves, and a template it solves on most seeds fails validation (its parameters do not reach
what the agent must do).
"""

from __future__ import annotations

from typing import Any

from lambench.agents.base import BaseAgent, Observation
from lambench.task import Task, TaskView
from lambench.task.loader import instance_of

__all__ = ["BlindReplayAgent", "RECORDED_SEED"]

RECORDED_SEED = 0
"""The instance whose gold the blind replay remembers."""


class BlindReplayAgent(BaseAgent):
    """Plays the recorded instance's gold action by action, ignoring every observation; privileged (it is given
    the task to find the recording, never this instance's gold)."""

    privileged = True

    def __init__(self) -> None:
        self._plan: list[dict[str, Any]] = []
        self._i = 0
        self._task: Task | None = None

    def bind(self, task: Task, variant: Any = None) -> None:
        self._task = task

    def reset(self, task: TaskView) -> None:
        if self._task is None or self._task.id != task.id:
            raise RuntimeError("blind-replay needs the full task: the runner calls bind(task) before reset()")
        bound = self._task
        recorded = bound if bound.instance is None or bound.instance.seed == RECORDED_SEED else \
            instance_of(bound, RECORDED_SEED)
        self._plan = list(recorded.gold)
        if not self._plan or self._plan[-1].get("type") != "finish":
            self._plan.append({"type": "finish", "status": "success"})
        self._i = 0

    def act(self, observation: Observation) -> dict[str, Any]:
        action = self._plan[min(self._i, len(self._plan) - 1)]
        self._i += 1
        return action
