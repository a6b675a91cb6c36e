"""A run directory's summary (``summary.json``), computed from its episodes alone, by the run's kind."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from lambench import __version__
from lambench.metrics.replay import replay_summary
from lambench.run.rundir import RunDir, RunDirError
from lambench.metrics.episode import compute_metrics, grouped_metrics, injection_metrics, robustness
from lambench.metrics.per_task import per_task_values
from lambench.task import TaskError, load_suite

__all__ = ["SUMMARIES", "score_run_dir", "write_summary"]


def write_summary(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Recompute ``summary.json`` from ``episodes.jsonl`` (and ``config.json`` if present)."""
    summary = score_run_dir(run_dir)
    RunDir(run_dir).write_summary(summary)
    return summary


def score_run_dir(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The summary of a run directory, computed from its episodes alone."""
    rd = RunDir(run_dir)
    episodes = rd.load()
    bad = [i for i, e in enumerate(episodes, 1) if not isinstance(e.get("agent"), str)
           or not isinstance(e.get("unsafe_events", []), list)]
    if bad:
        raise RunDirError(f"{rd.episodes}: episode {bad[0]} is malformed (no agent, or unsafe_events is not a list); "
                          "was it written by lambench?")
    cfg = rd.config()
    return SUMMARIES.get(cfg.get("kind", "live"), live_summary)(rd.path, cfg, episodes)


def _one_or_all(values: set[str]) -> Any:
    """The one value every episode has, or the sorted list of them."""
    ordered = sorted(values)
    return ordered[0] if len(ordered) == 1 else ordered


def _suite_size(suite: Any) -> int | None:
    """How many tasks the suite has now (to tell partial runs from full ones)."""
    try:
        return len(load_suite(suite)) if isinstance(suite, str) else None
    except TaskError:
        return None


def _common(run_dir: Path, cfg: dict[str, Any], episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The head of every summary: which run, of what, when."""
    return {
        "run_dir": str(run_dir),
        "agent": cfg.get("agent", _one_or_all({e["agent"] for e in episodes})),
        "suite": cfg.get("suite", _one_or_all({e["suite"] for e in episodes})),
        "suite_version": cfg.get("suite_version"),
    }


def _stamped() -> dict[str, Any]:
    return {"lambench_version": __version__, "computed": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def live_summary(run_dir: Path, cfg: dict[str, Any], episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary of a live run: headline numbers on the clean episodes; each variant, and all of them pooled,
    kept apart."""
    suites = sorted({e["suite"] for e in episodes})
    breakdown = grouped_metrics(episodes, by=["app", "tags", "variant", "difficulty"])["groups"]
    return {
        **_common(run_dir, cfg, episodes),
        "guard": bool(cfg.get("guard", any(e.get("guard") for e in episodes))),
        "observation": str(cfg.get("observation") or next((e["observation"] for e in episodes if e.get("observation")),
                                                          "text")),
        "tasks_in_suite": _suite_size(cfg.get("suite", suites[0] if len(suites) == 1 else None)),
        **_stamped(),
        "metrics": compute_metrics([e for e in episodes if e.get("variant", "clean") == "clean"] or episodes),
        "metrics_all_variants": compute_metrics(episodes),
        "by_app": breakdown.get("app", {}),
        "by_tag": breakdown.get("tags", {}),
        "by_variant": breakdown.get("variant", {}),
        "by_difficulty": (breakdown.get("difficulty", {}) if any(e.get("difficulty") for e in episodes)
                          else {}),
        "robustness": robustness(episodes),
        "injection": injection_metrics(episodes),
        "per_task": per_task_values(episodes),
    }


def replay_run_summary(run_dir: Path, cfg: dict[str, Any], episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary of an offline replay run: the LAM paper's metrics under ``replay``; ``metrics`` treats each
    complete trajectory as an episode (success = every step right, i.e. TSR)."""
    complete = [e for e in episodes if (e.get("replay") or {}).get("complete", True)]
    common = _common(run_dir, cfg, episodes)
    return {
        "kind": "replay",
        **common,
        "dataset": cfg.get("dataset"),
        "guard": False,
        "tasks_in_suite": cfg.get("trajectories_in_dataset"),
        **_stamped(),
        "replay": replay_summary(episodes),
        "metrics": compute_metrics(complete),
        "metrics_all_variants": compute_metrics(complete),
        "by_variant": grouped_metrics(complete, by=["variant"])["groups"].get("variant", {}),
        # trajectories with missing steps are in no success number (their TSR is undefined)
        "per_task": per_task_values(complete),
    }


SUMMARIES: dict[str, Callable[[Path, dict[str, Any], list[dict[str, Any]]], dict[str, Any]]] = {
    "live": live_summary,
    "replay": replay_run_summary,
}
"""Run kind (``config.json``'s ``kind``; a live run has none) -> the summary of its run directory."""
