"""``replay:RUN_DIR`` — re-run the outputs an agent gave in an earlier run, at zero cost.

For each episode (task, variant, seed, trial) the agent returns, step by step, exactly what the
recorded agent returned (its raw output, so invalid outputs stay invalid).  The mock OS is
deterministic, so re-running a run this way reproduces its records — a check that a harness or
task change did not change the verdicts of a recorded evaluation.  An episode the earlier run
does not have is an infrastructure error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lambench.agents.base import BaseAgent
from lambench.agents.clients import InfraError

__all__ = ["ReplayRunAgent"]

_RUNS: dict[str, dict[tuple[str, str, int, int], list[Any]]] = {}


def _load(run_dir: Path) -> dict[tuple[str, str, int, int], list[Any]]:
    key = str(run_dir.resolve())
    if key not in _RUNS:
        from lambench.record import episode_key
        from lambench.run.rundir import load_episodes

        path = run_dir / "episodes.jsonl"
        if not path.is_file():
            raise ValueError(f"replay:{run_dir}: no episodes.jsonl there; give a run directory of `lambench run`")
        runs = {}
        for ep in load_episodes(path):
            if ep.get("error") is None and ep.get("sandbox") != "replay":
                # a valid step replays its parsed action (the stored raw text may be cut at 4000
                # characters); an invalid one its raw output, so it stays invalid
                runs[episode_key(ep)] = [s["action"] if s.get("valid") and s.get("action") else s.get("raw")
                                         for s in ep.get("steps") or []]
        if not runs:
            raise ValueError(f"replay:{run_dir}: the run has no scored live episodes to replay")
        _RUNS[key] = runs
    return _RUNS[key]


class ReplayRunAgent(BaseAgent):
    """Returns the recorded outputs of the same episode of an earlier run, in order."""

    def __init__(self, run_dir: str, *, seed: int = 0, **unknown: Any):
        if unknown:
            raise ValueError(f"unknown option(s) for replay: {', '.join(sorted(unknown))}")
        self.run_dir = Path(run_dir)
        self.episodes = _load(self.run_dir)
        self.seed = seed
        self._outputs: list[Any] = []
        self._i = 0
        self._key: tuple[str, str, int, int] | None = None

    def bind_episode(self, task_id: str, variant: str, seed: int, trial: int) -> None:
        self._key = (task_id, variant, seed, trial)

    def reset(self, task: Any) -> None:
        key = self._key or (task.id, "clean", self.seed, 0)
        if key not in self.episodes:
            raise InfraError(f"replay:{self.run_dir} has no episode for task {key[0]!r}, variant {key[1]!r}, seed "
                             f"{key[2]}, trial {key[3]}: replay the same suite, seeds, trials and perturbations")
        self._outputs = self.episodes[key]
        self._i = 0

    def act(self, observation: Any) -> Any:
        if self._i >= len(self._outputs):
            # the recorded episode ended here (max steps or a timeout): nothing more was said
            raise InfraError(f"replay:{self.run_dir}: the recorded episode has only {len(self._outputs)} steps; "
                             "the environment asks for more (did the task or the harness change?)")
        out = self._outputs[self._i]
        self._i += 1
        return json.loads(json.dumps(out)) if isinstance(out, (dict, list)) else out
