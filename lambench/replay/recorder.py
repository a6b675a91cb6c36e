"""``lambench record``: turn the episodes of a live run into a trajectory dataset.

Every step of a recorded episode becomes a dataset record: the observation the agent saw
(from ``observations.jsonl``), the actions before it (the history), and the action it took
as the gold, with the equivalent actions of the sandbox as alternatives.  By default only
verified successes are kept; ``include_all`` keeps every scored episode, with its outcome in
``meta.outcome`` (a dataset of what an agent *did*, not of what is right).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambench.replay.dataset import DatasetError
from lambench.images import file_inside
from lambench.replay.screens import check_png
from lambench.replay.split import split_of, template_of
from lambench.run.rundir import ObservationsFormatError, load_episodes, load_observations
from lambench.sandboxes import registry

__all__ = ["record_run", "RecordReport", "trajectory_id"]


@dataclass
class RecordReport:
    episodes: int = 0
    """Episodes turned into trajectories."""
    steps: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    """Why other episodes were left out, and how many."""

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def trajectory_id(rec: dict[str, Any]) -> str:
    """``suite/task/variant/s<seed>/t<trial>``: unique within a run."""
    return f"{rec['suite']}/{rec['task_id']}/{rec.get('variant', 'clean')}/s{rec['seed']}/t{rec['trial']}"


def record_run(run_dir: str | os.PathLike, *, include_all: bool = False, dataset: str | None = None
               ) -> tuple[list[dict[str, Any]], RecordReport]:
    """The dataset records of a run directory's episodes, and what was kept or skipped."""
    from lambench.run.rundir import OBSERVATIONS

    run_dir = Path(run_dir)
    ep_path = run_dir / "episodes.jsonl"
    if not ep_path.exists():
        raise DatasetError(run_dir, ["no episodes.jsonl here"],
                           hint="Give a run directory made by `lambench run` (e.g. runs/mockos-core__oracle__s0).")
    cfg: dict[str, Any] = {}
    try:
        cfg = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        pass
    if cfg.get("kind") == "replay":
        raise DatasetError(run_dir, ["this is a replay run; record a live run (its steps are already a dataset)"])
    try:
        observations = load_observations(run_dir / OBSERVATIONS)
    except ObservationsFormatError as exc:
        raise DatasetError(exc.path, [f"line {exc.lineno}: not a valid observations record"]) from None
    if not observations:
        raise DatasetError(run_dir, [f"no {OBSERVATIONS}: the run kept no observations"],
                           hint="Run it again without --no-observations (a new --out), then record that run.")
    report = RecordReport()
    records: list[dict[str, Any]] = []
    checked: dict[Path, str | None] = {}  # screenshots already looked at (a screen is shared by many steps)
    for ep in load_episodes(ep_path):
        if ep.get("error") is not None:
            report.skip("infrastructure error")
            continue
        if not include_all and not ep.get("success"):
            report.skip("not a verified success (use --all to keep it)")
            continue
        steps = ep.get("steps") or []
        if not steps:
            report.skip("no steps")
            continue
        if any(not s.get("valid") or not s.get("action") for s in steps):
            report.skip("has invalid actions (no gold action for them)")
            continue
        key = (ep["task_id"], ep.get("variant", "clean"), int(ep["seed"]), int(ep["trial"]))
        seen = observations.get(key)
        if seen is None or len(seen) != len(steps):
            report.skip("observations missing")
            continue
        if any(obs.get("screenshot") for obs in seen):  # image observation modes
            shots = [file_inside(run_dir, o["screenshot"]) if isinstance(o.get("screenshot"), str) else None for o in seen]
            for p in shots:
                if p is not None and p not in checked:
                    checked[p] = check_png(p)
            if any(p is None or checked[p] for p in shots):
                report.skip("a screenshot is missing, outside the run directory or not a PNG")
                continue
            for obs, p in zip(seen, shots):
                obs["screenshot"] = str(p)  # by its path in the run directory, until the dataset is written
        records.extend(_episode_records(ep, seen, cfg, dataset or str(ep["suite"])))
        report.episodes += 1
        report.steps += len(steps)
    return records, report


def _episode_records(ep: dict[str, Any], seen: list[dict[str, Any]], cfg: dict[str, Any], dataset: str
                     ) -> list[dict[str, Any]]:
    steps = ep["steps"]
    sandbox = ep.get("sandbox", registry.default_name())
    # the actions equivalent to an action in an observed state (acceptable alternatives), as the sandbox declares
    equivalents = registry.get(sandbox).equivalents if sandbox in registry.names() else None
    tid = trajectory_id(ep)
    outcome = {k: ep.get(k) for k in ("success", "claim", "false_success", "unsafe", "termination")}
    out = []
    history: list[dict[str, Any]] = []
    n = len(steps)
    for i, (step, obs) in enumerate(zip(steps, seen)):
        action = step["action"]
        alts = equivalents(action, obs) if equivalents else []
        meta = {"source": "lambench record", "agent": ep.get("agent"), "seed": ep["seed"], "trial": ep["trial"],
                "sandbox": sandbox, "suite_version": cfg.get("suite_version"),
                "template": template_of(ep["task_id"]), "split": split_of(ep["task_id"]),
                "step_ok": bool(step.get("ok")), "outcome": outcome}
        if ep.get("observation"):  # an image mode (text-mode records stay as they were)
            meta["observation"] = ep["observation"]
        out.append({
            "dataset": dataset, "trajectory_id": tid, "task_id": ep["task_id"], "suite": ep["suite"],
            "variant": ep.get("variant", "clean"), "request": ep.get("instruction", ""), "step": i, "n_steps": n,
            "observation": {k: obs.get(k) for k in ("text", "controls", "focused", "error", "result", "data",
                                                    "screenshot") if k != "screenshot" or obs.get(k)},
            "history": list(history),
            "gold": {"action": action, "alternatives": alts,
                     "status": "finish" if action.get("type") == "finish" else "continue"},
            "meta": meta,
        })
        history.append(action)
    return out
