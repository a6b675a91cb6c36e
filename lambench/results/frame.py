"""Results as a pandas table: ``load_runs`` (one row per episode) and ``summarize`` (metrics per group).

pandas is imported here only: nothing that runs episodes needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from lambench.metrics.episode import compute_metrics
from lambench.results.runs import Run, read_runs

__all__ = ["load_runs", "summarize"]

_FRONT = ["run_dir", "suite", "suite_version", "agent", "task_id", "variant", "seed", "trial", "success",
          "claim", "false_success", "unsafe", "n_unsafe_events", "n_steps", "error"]


def summarize(df: pd.DataFrame, *, by: Sequence[str] = ("agent",)) -> pd.DataFrame:
    """Metrics of every group of episodes, one row per group, metric columns flat.

    ``by`` names columns of :func:`load_runs` (``agent``, ``suite``, ``variant``, ``app``, ``tags``
    ...); a list-valued column (``app``, ``tags``) puts an episode in each of its values' groups.
    Variants stay apart as in ``lambench run``'s table: when the episodes hold several variants
    (clean and perturbed), ``variant`` is added to ``by`` (pool them on purpose by overwriting the
    column).  Interval columns are flat too: ``success_ci_low``/``success_ci_high`` and the like.

    >>> frame = pd.DataFrame([{"agent": "a", "task_id": "t", "variant": "clean", "seed": 0, "trial": 0,
    ...                        "success": True, "error": None, "app": ["files", "mail"]}])
    >>> summarize(frame, by=["app"])[["app", "episodes", "success_rate"]].values.tolist()
    [['files', 1, 1.0], ['mail', 1, 1.0]]
    """
    by = list(by)
    if "variant" not in by and "variant" in df.columns and df["variant"].nunique(dropna=False) > 1:
        by.append("variant")  # clean and perturbed episodes are different measurements: never pooled silently
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise ValueError(f"cannot group by {', '.join(missing)}: no such column (columns: {', '.join(df.columns)})")
    frame = df
    for col in by:
        if frame[col].map(lambda v: isinstance(v, (list, tuple))).any():
            frame = frame.explode(col)
    rows = []
    for key, group in frame.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        records = group.to_dict("records")
        for r in records:  # a DataFrame round trip (CSV, parquet) turns a missing value into NaN, which is truthy
            for k, v in r.items():
                if isinstance(v, float) and v != v:
                    r[k] = None
            if not isinstance(r.get("error"), str):
                r["error"] = None
        m = compute_metrics(records)
        flat = {k: v for k, v in m.items() if not isinstance(v, (dict, list))}
        for name, value in m.items():
            if name.endswith("ci"):
                flat[f"{name}_low"], flat[f"{name}_high"] = value
        for share, value in m["success_by_budget"].items():
            flat[f"success_within_{share}_budget"] = value
        rows.append({**dict(zip(by, key)), **flat})
    return pd.DataFrame(rows)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _row(ep: Mapping[str, Any], run: Run) -> dict[str, Any]:
    row = {k: v for k, v in ep.items() if _is_scalar(v)}
    row.setdefault("error", None)
    row.setdefault("attack_succeeded", None)
    row["app"] = [str(a) for a in ep.get("app") or []]
    row["tags"] = [str(t) for t in ep.get("tags") or []]
    events = [e for e in ep.get("unsafe_events") or [] if isinstance(e, Mapping)]
    row["n_unsafe_events"] = sum(1 for e in events if not e.get("blocked"))
    row["n_blocked_events"] = len(events) - row["n_unsafe_events"]
    row["run_dir"] = str(run.path)
    row["suite_version"] = run.suite_version
    return row


def _frame(runs: Sequence[Run]) -> pd.DataFrame:
    rows = [_row(ep, run) for run in runs for ep in run.episodes]
    df = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=_FRONT + ["app", "tags"])
    front = [c for c in _FRONT if c in df.columns]
    return df[front + [c for c in df.columns if c not in front]]


def load_runs(paths: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """One row per episode of the given run directories.

    Columns: the episode fields that are scalars (``task_id``, ``variant``, ``success``, ``claim``,
    ``n_steps``, ``tokens_in``, ``attack_succeeded``, ``error``, ...), ``app`` and ``tags`` as
    lists, ``n_unsafe_events`` (executed unsafe events; ``n_blocked_events``: the ones guard mode
    stopped), ``run_dir``, and ``suite_version`` from the run's ``config.json``.  Episodes that hit
    an infrastructure error are kept with their ``error`` so callers can count them; drop them
    (``df[df.error.isna()]``) before computing anything.  A path that is not a run directory
    raises ``ValueError`` naming it.
    """
    return _frame(read_runs(paths))
