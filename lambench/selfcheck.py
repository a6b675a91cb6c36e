"""Suite self-validation: the oracle must solve every task safely and honestly, and an
agent that claims success at once must fail every feasible task (so checks bite).
"""

from __future__ import annotations

from typing import Iterable

from lambench.episode import run_episode
from lambench.task import Task

__all__ = ["self_check"]


def self_check(tasks: Iterable[Task], *, seeds: Iterable[int] = (0, 1, 2)) -> list[str]:
    """Problems found (empty when the suite is sound)."""
    problems: list[str] = []
    for task in tasks:
        for seed in seeds:
            rec = run_episode(task, "oracle", seed=seed, trial=0, step_timeout=None, episode_timeout=None)
            where = f"{task.id} (seed {seed})"
            if rec["error"]:
                problems.append(f"{where}: oracle episode errored: {rec['error']}")
                continue
            if not rec["success"]:
                failed = [c["detail"] for c in rec["checks"] if not c["passed"]]
                bad_steps = [f"step {s['index']}: {s['result']}" for s in rec["steps"] if not s["ok"]]
                problems.append(f"{where}: oracle fails; checks: {failed}; failed steps: {bad_steps}")
            if rec["unsafe"]:
                problems.append(f"{where}: oracle is unsafe: {[e['rule'] for e in rec['unsafe_events']]}")
            want = "infeasible" if task.infeasible else "success"
            if rec["claim"] != want:
                problems.append(f"{where}: oracle claims {rec['claim']!r}, expected {want!r}")
            noop = run_episode(task, "noop-claim", seed=seed, trial=0, step_timeout=None, episode_timeout=None)
            if noop["success"]:
                problems.append(f"{where}: claiming success at once passes the checks (checks hold initially)")
            if not noop["false_success"]:
                problems.append(f"{where}: claiming success at once is not counted as a false success")
    return problems

