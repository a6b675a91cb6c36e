"""Reports: run directories rendered as a leaderboard with figures (Markdown, HTML, PNG).

``load_runs`` reads run directories into one pandas table, one row per episode;
``build_report`` writes ``index.md``, a self-contained ``index.html`` (inline CSS, figures as
``data:`` URIs, nothing fetched) and the PNG figures.  Every number comes from the metric
functions of :mod:`lambench.scoring`, so a report agrees with ``summary.json`` and
``lambench score``.

Agents are ranked only against agents that ran the same suite *version* (a content hash of the
task files): once a task changes, old and new numbers measure different things.

matplotlib is imported only when figures are drawn (``pip install 'lambench[report]'``), and
only through its object-oriented Agg API: no pyplot, no global backend switch, so building a
report from a notebook or a thread leaves the caller's matplotlib alone.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lambench import __version__
from lambench.record import episode_key
from lambench.run.rundir import load_episodes
from lambench.scoring import BUDGETS, compute_metrics, injection_metrics, robustness

__all__ = ["FIGURES", "build_report", "load_runs", "summarize"]

FIGURES = {
    "success_vs_unsafe.png": "Success vs unsafe actions: the capability/safety frontier",
    "success_by_budget.png": "Success by step budget: solved within a share of each task's max_steps",
    "false_success.png": "False-success rate: success claimed, checks failed",
    "robustness.png": "Robustness: success lost under each perturbation",
    "task_heatmap.png": "Success per task (clean variant)",
    "by_app.png": "Success per app (clean variant)",
}
"""The figures ``build_report`` draws, by file name (``robustness.png`` only with perturbed variants,
``success_by_budget.png`` only when the tasks' step budgets are known)."""

DASH = "—"
_FRONT = ["run_dir", "suite", "suite_version", "agent", "task_id", "variant", "seed", "trial", "success",
          "claim", "false_success", "unsafe", "n_unsafe_events", "n_steps", "error"]


# --------------------------------------------------------------------------- grouping


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
            if name.endswith("_ci"):
                flat[f"{name}_low"], flat[f"{name}_high"] = value
        for share, value in m["success_by_budget"].items():
            flat[f"success_within_{share}_budget"] = value
        rows.append({**dict(zip(by, key)), **flat})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- loading


@dataclass
class _Run:
    path: Path
    config: dict[str, Any]
    suite_version: str | None
    episodes: list[dict[str, Any]]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_run(path: str | os.PathLike[str]) -> _Run:
    p = Path(path)
    make = f"make one with `lambench run --suite SUITE --agent SPEC --out {p}`"
    if not p.exists():
        raise ValueError(f"{p}: no such run directory; pass directories written by `lambench run --out DIR`")
    if p.is_file():
        inside = p.name in ("episodes.jsonl", "summary.json", "config.json")
        hint = f"; pass its directory, {p.parent}" if inside else ""
        raise ValueError(f"{p} is a file, not a run directory{hint}")
    if not (p / "episodes.jsonl").is_file():
        raise ValueError(f"{p} is not a lambench run directory: it has no episodes.jsonl; {make}")
    episodes = load_episodes(p / "episodes.jsonl")  # a damaged line raises, naming the file and line
    config = _read_json(p / "config.json")
    version = config.get("suite_version") or _read_json(p / "summary.json").get("suite_version")
    return _Run(p, config, str(version) if version else None, episodes)


def _read_runs(paths: Iterable[str | os.PathLike[str]]) -> list[_Run]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    unique: dict[Path, Path] = {}
    for p in paths:
        unique.setdefault(Path(p).resolve(), Path(p))  # the same directory twice would count its episodes twice
    if not unique:
        raise ValueError("no run directories given; pass one or more directories written by `lambench run --out DIR`")
    return [_read_run(p) for p in unique.values()]


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _row(ep: Mapping[str, Any], run: _Run) -> dict[str, Any]:
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


def _frame(runs: Sequence[_Run]) -> pd.DataFrame:
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
    return _frame(_read_runs(paths))


# --------------------------------------------------------------------------- the numbers


@dataclass
class _Entry:
    """One leaderboard row: an agent's episodes on one suite version (possibly from several runs)."""

    label: str
    suite: str
    version: str | None
    episodes: list[dict[str, Any]]
    run_dirs: list[Path]
    metrics: dict[str, Any] = field(default_factory=dict)
    """``compute_metrics`` of the clean episodes (all of them when there is no clean variant)."""
    robustness: dict[str, Any] = field(default_factory=dict)
    injection: dict[str, Any] | None = None
    errored: int = 0

    @property
    def scored(self) -> list[dict[str, Any]]:
        return [e for e in self.episodes if e.get("error") is None]

    @property
    def clean(self) -> list[dict[str, Any]]:
        """The clean episodes (errored ones dropped later by the metrics); all of them only when the
        run has no clean variant at all — never the perturbed ones in place of clean ones that errored."""
        clean = [e for e in self.episodes if e.get("variant", "clean") == "clean"]
        return clean if clean else self.scored


@dataclass
class _Group:
    suite: str
    version: str | None
    entries: list[_Entry]
    k: int | None = None
    """The pass^k column's k: the largest k every ranked agent has."""

    @property
    def title(self) -> str:
        return f"{self.suite} (suite version {self.version or 'unknown'})"


def _agent_label(ep: Mapping[str, Any]) -> str:
    return str(ep.get("agent")) + (" +guard" if ep.get("guard") else "")


def _entries(runs: Sequence[_Run]) -> list[_Entry]:
    """Pool the episodes of an agent on a suite version; runs that overlap stay apart."""
    parts: dict[tuple[str, str, str | None], dict[Path, list[dict[str, Any]]]] = defaultdict(dict)
    for run in runs:
        for ep in run.episodes:
            key = (_agent_label(ep), str(ep.get("suite")), run.suite_version)
            parts[key].setdefault(run.path, []).append(ep)
    names = [r.path.name for r in runs]
    entries = []
    for (label, suite, version), by_run in parts.items():
        seen: set[Any] = set()
        overlap = False
        for eps in by_run.values():
            keys = {episode_key(e) for e in eps}
            overlap = overlap or bool(keys & seen)
            seen |= keys
        if overlap:  # e.g. the same run copied: pooling would count episodes twice, so keep the runs apart
            for path, eps in by_run.items():
                where = path.name if names.count(path.name) == 1 else str(path)
                entries.append(_Entry(f"{label} [{where}]", suite, version, eps, [path]))
        else:
            entries.append(_Entry(label, suite, version, [e for eps in by_run.values() for e in eps], list(by_run)))
    for e in entries:
        e.metrics = compute_metrics(e.clean)
        e.robustness = robustness(e.scored)
        e.injection = injection_metrics(e.scored)
        e.errored = len(e.episodes) - len(e.scored)
    return entries


def _rank_key(e: _Entry) -> tuple[Any, ...]:
    m = e.metrics
    sr = m["success_rate"]
    return (sr is None, -(sr or 0.0), m["unsafe_action_rate"] or 0.0, e.label)


def _groups(entries: Sequence[_Entry]) -> list[_Group]:
    by: dict[tuple[str, str | None], list[_Entry]] = defaultdict(list)
    for e in entries:
        by[(e.suite, e.version)].append(e)
    groups = []
    for (suite, version), members in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        members.sort(key=_rank_key)
        ks = [{int(k) for k in e.metrics["pass_hat_k"]} for e in members if e.metrics["episodes"]]
        common = set.intersection(*ks) if ks else set()
        groups.append(_Group(suite, version, members, max(common) if common else None))
    return groups


def _check_comparable(runs: Sequence[_Run]) -> None:
    """Several runs must share something: an agent, or a suite version with a task in common."""
    info = []
    for r in runs:
        scored = [e for e in r.episodes if e.get("error") is None]
        if not scored:  # a run that only errored is reported as such, not as unrelated
            continue
        agents = {_agent_label(e) for e in scored}
        tasks = {(str(e.get("suite")), r.suite_version, e["task_id"]) for e in scored}
        info.append((r, agents, tasks))
    if len(info) < 2:
        return
    for i, (_, agents_a, tasks_a) in enumerate(info):
        for _, agents_b, tasks_b in info[i + 1:]:
            if agents_a & agents_b or tasks_a & tasks_b:
                return
    described = "; ".join(
        f"{r.path}: {', '.join(sorted(agents)) or 'no agent'} on "
        f"{', '.join(sorted({s for s, _v, _t in tasks})) or 'no suite'} @ {r.suite_version or 'unknown version'}"
        for r, agents, tasks in info)
    raise ValueError(
        f"nothing to compare: these {len(info)} runs share no agent and no task of the same suite version "
        f"({described}). Runs of different suite versions are never ranked together; re-run the agents on the "
        "current suite (`lambench run --suite SUITE --agent SPEC --out NEW_DIR`) or report each run on its own.")


def _notes(groups: Sequence[_Group]) -> list[str]:
    """Warnings shown at the top of the page."""
    notes = []
    versions: dict[str, list[str]] = defaultdict(list)
    for g in groups:
        versions[g.suite].append(g.version or "unknown")
        for e in g.entries:
            if e.errored:
                notes.append(f"{e.label} on {g.suite}: {e.errored} episode(s) hit infrastructure errors and are "
                             f"excluded from every number (see the `error` field in "
                             f"{', '.join(str(p) for p in e.run_dirs)}/episodes.jsonl).")
            if not e.metrics["episodes"]:
                notes.append(f"{e.label} on {g.suite}: no scored episodes; its row is empty.")
        task_sets = [{ep["task_id"] for ep in e.clean} for e in g.entries if e.metrics["episodes"]]
        if len(task_sets) > 1 and len({frozenset(s) for s in task_sets}) > 1:
            common = set.intersection(*task_sets)
            notes.append(f"{g.title}: the agents ran different tasks ({len(common)} in common of "
                         f"{len(set.union(*task_sets))}); their rates are over different task sets.")
        if g.version is None:
            notes.append(f"{g.suite}: the suite version is unknown (no config.json); these runs are ranked apart "
                         "from any run with a known version.")
    for suite, vs in versions.items():
        if len(vs) > 1:
            notes.append(f"{suite} appears with {len(vs)} suite versions ({', '.join(vs)}): each is ranked on its own.")
    return notes


# --------------------------------------------------------------------------- formatting


def _pct(x: float | None) -> str:
    return DASH if x is None else f"{100 * x:.1f}%"


def _ci(lo: float | None, hi: float | None, scale: float = 100.0, fmt: str = "{:.1f}") -> str:
    if lo is None or hi is None:
        return ""
    return f" [{fmt.format(lo * scale)}–{fmt.format(hi * scale)}]"


def _row_cells(e: _Entry, k: int | None) -> dict[str, str]:
    m = e.metrics
    n = m["episodes"]
    rob = e.robustness.get("overall")
    inj = e.injection
    tokens = m["tokens_in"] + m["tokens_out"]
    hat = m["pass_hat_k"].get(str(k)) if k is not None else None
    return {
        "agent": e.label,
        "episodes": str(n),
        "sr": _pct(m["success_rate"]) + (_ci(*m["success_ci"]) if m["success_rate"] is not None else ""),
        "pass_hat_k": _pct(hat),
        "cup": _pct(m["completion_under_policy"]),
        "uar": _pct(m["unsafe_action_rate"]),
        "fsr": _pct(m["false_success_rate"]),
        "inf_det": _pct(m["infeasible_detection_rate"]),
        "false_inf": _pct(m["false_infeasible_rate"]),
        "robustness": DASH if not rob or rob["robustness"] is None
        else f"{rob['robustness']:.2f}" + _ci(*rob["robustness_ci"], scale=1.0, fmt="{:.2f}"),
        "asr": DASH if not inj or inj["attack_success_rate"] is None
        else _pct(inj["attack_success_rate"]) + _ci(*inj["attack_success_ci"]),
        "steps": DASH if m["mean_steps"] is None else f"{m['mean_steps']:.1f}",
        "tokens": DASH if not tokens or not n else f"{tokens / n:,.0f}",
        "errored": str(e.errored),
    }


def _columns(k: int | None) -> list[tuple[str, str]]:
    return [("rank", "#"), ("agent", "agent"), ("episodes", "episodes"), ("sr", "SR [95% CI]"),
            ("pass_hat_k", f"pass^{k if k is not None else 'k'}"), ("cup", "CuP"), ("uar", "UAR"), ("fsr", "FSR"),
            ("inf_det", "infeasible det."), ("false_inf", "false infeasible"), ("robustness", "robustness [95% CI]"), ("asr", "ASR [95% CI]"), ("steps", "mean steps"),
            ("tokens", "tokens/episode"), ("errored", "errored")]


_INTRO = (
    "Agents are ranked only within a (suite, suite version) group, by success rate on feasible tasks: the suite "
    "version is a content hash of the task files, and numbers from different versions are never ranked together. "
    "Every column but robustness and ASR is over the clean episodes; SR, pass^k and CuP over those of feasible "
    "tasks, so answering \"infeasible\" everywhere scores 0 there; robustness pools the perturbed "
    "variants against clean on the same tasks; ASR is over the injection episodes. Episodes that hit an "
    "infrastructure error are excluded from every number and counted in the last column."
)

_DEFINITIONS = [
    ("SR", "success rate: verified successes / episodes of feasible tasks, with a 95% interval clustered by task "
           "(Wilson with one trial per task; with more, the wider of a two-level bootstrap over tasks then trials "
           "and the Wilson interval over tasks, so repeated trials never pass for independent evidence)."),
    ("pass^k", "chance that k independent trials of a feasible task all succeed, averaged over tasks (k: the "
               "largest number of trials every agent of the group ran)."),
    ("CuP", "completion under policy: feasible-task episodes that succeed with no executed unsafe event / "
            "feasible-task episodes."),
    ("UAR", "unsafe-action rate: episodes with at least one executed unsafe event / episodes."),
    ("FSR", "false-success rate: episodes claiming success whose checks fail / episodes claiming success "
            f"({DASH}: the agent never claimed success)."),
    ("infeasible det.", "infeasible detection: episodes of infeasible tasks that end with finish(infeasible) / "
                        f"episodes of infeasible tasks ({DASH}: none in the suite)."),
    ("false infeasible", "over-refusal: episodes of feasible tasks that end with finish(infeasible) / episodes "
                         "of feasible tasks."),
    ("robustness", "SR on the perturbed variants / SR on the same tasks clean (1.00 = unaffected), with a paired "
                   f"bootstrap 95% interval over tasks ({DASH}: no perturbed variants)."),
    ("ASR", f"attack success rate: injection episodes in which the attacker's goal held / injection episodes "
            f"({DASH}: no injection tasks)."),
    ("tokens/episode", f"input plus output tokens per episode, as reported by the agent ({DASH}: none reported)."),
]

_WHY_SKIPPED = {
    "robustness.png": "no run has perturbed variants (`lambench run --perturb NAME`)",
    "success_by_budget.png": "no feasible task's step budget is known (its task file is not in this lambench's suites)",
}

_CAPTIONS = {
    "success_vs_unsafe.png": "One point per agent: success rate on feasible tasks against unsafe-action rate (clean "
                             "episodes), with 95% intervals clustered by task. Up and to the left is better; the "
                             "dashed line is the frontier (the best success reached at each level of unsafety).",
    "success_by_budget.png": "Share of feasible-task episodes verified successful within 25%, 50%, 75% and 100% of "
                             "their task's max_steps (the 100% point is SR). A curve that rises early solves "
                             "tasks in few steps.",
    "false_success.png": "Share of the agent's success claims that were false (the final state fails the checks), "
                         "with 95% intervals clustered by task.",
    "robustness.png": "Success rate lost under each perturbation: clean minus perturbed, on the same tasks, in "
                      "percentage points (below zero: the agent did better perturbed).",
    "task_heatmap.png": "Success rate of each agent on each task over its clean trials (grey: not run).",
    "by_app.png": "Success rate over the clean feasible-task episodes whose task uses the app (a cross-app task "
                  "counts for each of its apps).",
}


_REPLAY_COLUMNS = [("agent", "agent"), ("steps", "steps"), ("traj", "trajectories"), ("object", "object acc."),
                   ("operation", "operation acc."), ("args", "argument acc."), ("f1", "argument F1"),
                   ("status", "status acc."), ("ssr", "SSR [95% CI]"), ("tsr", "TSR [95% CI]"),
                   ("macro", "SSR macro"), ("invalid", "invalid"), ("errored", "errored")]
_REPLAY_INTRO = ("Offline replay (teacher forcing): at each recorded step the agent sees the recorded observation and "
                 "the gold history and predicts one action. SSR: steps whose object, operation, arguments and status "
                 "are all right; TSR: trajectories whose steps all are (trajectories with missing steps left out); "
                 "SSR macro averages SSR per trajectory. Nothing is executed, so safety and honesty are not measured "
                 "here.")


@dataclass
class _ReplaySection:
    dataset: str
    version: str | None
    rows: list[tuple[str, dict[str, Any]]]

    @property
    def title(self) -> str:
        return f"Offline replay: {self.dataset} (dataset version {self.version or 'unknown'})"


def _replay_sections(runs: Sequence[_Run]) -> list[_ReplaySection]:
    from lambench.replay.metrics import replay_summary

    sections: dict[tuple[str, str | None], _ReplaySection] = {}
    for r in runs:
        key = (str(r.config.get("suite") or "dataset"), r.suite_version)
        sec = sections.setdefault(key, _ReplaySection(key[0], key[1], []))
        sec.rows.append((_agent_label({"agent": r.config.get("agent")}), replay_summary(r.episodes)))
    for sec in sections.values():
        sec.rows.sort(key=lambda row: -(row[1].get("step_success_rate") or 0.0))
    return list(sections.values())


def _replay_cells(label: str, m: Mapping[str, Any]) -> dict[str, str]:
    def ci(x: float | None, b: list[float] | None) -> str:
        return _pct(x) + (f" {_ci(b[0], b[1]).strip()}" if x is not None and b else "")

    return {"agent": label, "steps": str(m.get("steps", 0)), "traj": str(m.get("trajectories_complete", 0)),
            "object": _pct(m.get("object_accuracy")), "operation": _pct(m.get("operation_accuracy")),
            "args": _pct(m.get("argument_accuracy")), "f1": _pct(m.get("argument_f1")),
            "status": _pct(m.get("status_accuracy")), "ssr": ci(m.get("step_success_rate"), m.get("step_success_ci95")),
            "tsr": ci(m.get("task_success_rate"), m.get("task_success_ci95")),
            "macro": _pct((m.get("macro") or {}).get("step_success_rate")), "invalid": _pct(m.get("invalid_rate")),
            "errored": str(m.get("errored_trajectories", 0))}


def _confusion_grid(conf: Mapping[str, Mapping[str, int]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a confusion table: gold action types down, predicted types across."""
    preds = sorted({p for row in conf.values() for p in row}, key=lambda p: (p == "invalid", p))
    rows = [[g] + [str(conf[g].get(p, 0) or "·") for p in preds] for g in sorted(conf)]
    return ["gold \\ predicted"] + preds, rows


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown(groups: Sequence[_Group], runs: Sequence[_Run], notes: Sequence[str], figures: Sequence[str],
              skipped: Mapping[str, str], title: str, replays: Sequence[_ReplaySection] = ()) -> str:
    out = [f"# {title}", ""] + ([_INTRO, ""] if groups or not replays else [])
    out += [f"- run `{r.path}`: {len(r.episodes)} episode(s), suite version {r.suite_version or 'unknown'}"
            for r in runs]
    out.append("")
    if notes:
        out += ["**Notes**", ""] + [f"- {_md_escape(n)}" for n in notes] + [""]
    for g in groups:
        cols = _columns(g.k)
        out += [f"## Leaderboard: {g.title}", "", "| " + " | ".join(h for _, h in cols) + " |",
                "|" + "|".join("---:" if key not in ("agent",) else "---" for key, _ in cols) + "|"]
        for rank, e in enumerate(g.entries, start=1):
            cells = {**_row_cells(e, g.k), "rank": str(rank)}
            out.append("| " + " | ".join(_md_escape(cells[key]) for key, _ in cols) + " |")
        out.append("")
    for sec in replays:
        out += [f"## {sec.title}", "", _REPLAY_INTRO, "", "| " + " | ".join(h for _, h in _REPLAY_COLUMNS) + " |",
                "|" + "|".join("---" if key == "agent" else "---:" for key, _ in _REPLAY_COLUMNS) + "|"]
        for label, m in sec.rows:
            cells = _replay_cells(label, m)
            out.append("| " + " | ".join(_md_escape(cells[key]) for key, _ in _REPLAY_COLUMNS) + " |")
        out.append("")
        for label, m in sec.rows:
            head, rows = _confusion_grid(m.get("confusion") or {})
            out += [f"Action types of **{_md_escape(label)}** (steps; gold — the acceptable action nearest the prediction — down, predicted across):", "",
                    "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
            out += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    if not figures and not skipped:
        return "\n".join(out + [f"Made by lambench {__version__} (`lambench report`)."]) + "\n"
    out += ["## Figures", ""]
    for name in figures:
        out += [f"### {FIGURES[name]}", "", f"![{FIGURES[name]}]({name})", "", _CAPTIONS[name], ""]
    for name, why in skipped.items():
        out += [f"`{name}` is not drawn: {why}.", ""]
    out += ["## Definitions", ""] + [f"- **{k}**: {v}" for k, v in _DEFINITIONS]
    out += ["", f"Made by lambench {__version__} (`lambench report`)."]
    return "\n".join(out) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1b1f24;
background:#fff;line-height:1.45}
main{max-width:1440px;margin:0 auto;padding:1.5rem}
h1{font-size:1.7rem;margin:.2rem 0 1rem}h2{font-size:1.3rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1.05rem}
.intro{background:#f6f8fa;border-left:4px solid #0969da;padding:.6rem .9rem}
.notes{background:#fff8c5;border-left:4px solid #d4a72c;padding:.4rem .9rem .4rem 2rem}
.runs{font-size:.9rem;color:#57606a}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:.9rem;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:right;white-space:nowrap}
th{background:#f6f8fa}td.agent,th.agent{text-align:left}tbody tr:nth-child(even){background:#fafbfc}
figure{margin:1.2rem 0}img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-size:.9rem;color:#57606a;max-width:900px}
code{background:#f6f8fa;padding:0 .2rem;border-radius:3px}
dt{font-weight:600}dd{margin:0 0 .5rem 1.2rem}
footer{margin-top:2rem;font-size:.8rem;color:#57606a}
"""


def _html(groups: Sequence[_Group], runs: Sequence[_Run], notes: Sequence[str], pngs: Mapping[str, bytes],
          skipped: Mapping[str, str], title: str, replays: Sequence[_ReplaySection] = ()) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             '<link rel="icon" href="data:,">',  # no favicon request
             f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", "<main>",
             f"<h1>{esc(title)}</h1>"]
    if groups or not replays:
        parts.append(f'<p class="intro">{esc(_INTRO)}</p>')
    parts.append('<ul class="runs">')
    parts += [f"<li>run <code>{esc(str(r.path))}</code>: {len(r.episodes)} episode(s), suite version "
              f"{esc(r.suite_version or 'unknown')}</li>" for r in runs]
    parts.append("</ul>")
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    for g in groups:
        cols = _columns(g.k)
        parts += [f'<section class="group" data-suite="{esc(g.suite)}" data-suite-version="{esc(g.version or "")}">',
                  f"<h2>Leaderboard: {esc(g.title)}</h2>", '<div class="table-wrap"><table class="leaderboard">',
                  "<thead><tr>" + "".join(f'<th class="{key}" scope="col">{esc(h)}</th>' for key, h in cols)
                  + "</tr></thead>", "<tbody>"]
        for rank, e in enumerate(g.entries, start=1):
            cells = {**_row_cells(e, g.k), "rank": str(rank)}
            parts.append("<tr>" + "".join(f'<td class="{key}">{esc(cells[key])}</td>' for key, _ in cols) + "</tr>")
        parts += ["</tbody></table></div>", "</section>"]
    for sec in replays:
        parts += [f'<section class="replay" data-dataset="{esc(sec.dataset)}">', f"<h2>{esc(sec.title)}</h2>",
                  f"<p>{esc(_REPLAY_INTRO)}</p>", '<div class="table-wrap"><table class="replay">',
                  "<thead><tr>" + "".join(f'<th class="{key}" scope="col">{esc(h)}</th>' for key, h in _REPLAY_COLUMNS)
                  + "</tr></thead>", "<tbody>"]
        for label, m in sec.rows:
            cells = _replay_cells(label, m)
            parts.append("<tr>" + "".join(f'<td class="{key}">{esc(cells[key])}</td>' for key, _ in _REPLAY_COLUMNS)
                         + "</tr>")
        parts += ["</tbody></table></div>"]
        for label, m in sec.rows:
            head, rows = _confusion_grid(m.get("confusion") or {})
            parts += [f"<h3>Action types of {esc(label)} (steps; gold — the acceptable action nearest the prediction — down, predicted across)</h3>",
                      '<div class="table-wrap"><table class="confusion"><thead><tr>'
                      + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
            parts += ["<tr>" + "".join(f'<td{" class=agent" if i == 0 else ""}>{esc(c)}</td>' for i, c in enumerate(r))
                      + "</tr>" for r in rows]
            parts.append("</tbody></table></div>")
        parts.append("</section>")
    parts.append("<section><h2>Figures</h2>")
    for name, data in pngs.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        parts += [f'<figure id="{esc(name.removesuffix(".png"))}"><h3>{esc(FIGURES[name])}</h3>',
                  f'<img src="{uri}" alt="{esc(FIGURES[name])}" data-file="{esc(name)}">',
                  f"<figcaption>{esc(_CAPTIONS[name])}</figcaption></figure>"]
    parts += [f"<p><code>{esc(name)}</code> is not drawn: {esc(why)}.</p>" for name, why in skipped.items()]
    parts.append("</section><section><h2>Definitions</h2><dl>")
    parts += [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in _DEFINITIONS]
    parts += ["</dl></section>",
              f"<footer>Made by lambench {esc(__version__)} (<code>lambench report</code>).</footer>",
              "</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- figures


def _mpl() -> Any:
    """matplotlib's object-oriented parts, imported on first use."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("lambench report draws its figures with matplotlib, which is not installed: "
                          "pip install 'lambench[report]'") from exc
    return matplotlib, Figure, FigureCanvasAgg


def _plain(text: Any) -> str:
    """Text drawn as written: matplotlib reads ``$...$`` as math (an agent label ``$x`` would break it)."""
    return str(text).replace("$", r"\$")


def _colors(labels: Sequence[str]) -> dict[str, Any]:
    """A stable colour per agent across figures (tab10, tab20, then an even spread of turbo)."""
    import matplotlib

    n = len(labels)
    if n <= 10:
        cmap = matplotlib.colormaps["tab10"]
        return {lab: cmap(i) for i, lab in enumerate(labels)}
    if n <= 20:
        cmap = matplotlib.colormaps["tab20"]
        return {lab: cmap(i) for i, lab in enumerate(labels)}
    cmap = matplotlib.colormaps["turbo"]
    return {lab: cmap(0.05 + 0.9 * i / (n - 1)) for i, lab in enumerate(labels)}


def _save(fig: Any, path: Path) -> bytes:
    _, _, FigureCanvasAgg = _mpl()
    FigureCanvasAgg(fig)
    # constrained layout already makes room for legends outside the axes; bbox_inches="tight" would only
    # draw every figure twice
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path.read_bytes()


def _legend_outside(ax: Any, **kw: Any) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8, frameon=False, **kw)


_OFFSETS = [(6, 5), (6, -11), (-6, 5), (-6, -11), (6, 16), (6, -22), (-6, 16), (-6, -22)]


def _label_offset(x: float, y: float, placed: list[tuple[float, float, float]]) -> tuple[tuple[int, int], str]:
    """Offset (points) and alignment for a point's label, clear of the labels already placed.

    On these 0-100% axes one data unit is about 5 pt; a label is taken as a box ~8 units wide and
    2.5 high (``placed`` holds their left, right and baseline).  When every candidate is taken,
    the first is used.
    """
    for dx, dy in _OFFSETS:
        ha = "left" if dx > 0 else "right"
        lx, ly = x + dx / 5, y + dy / 5
        left, right = (lx, lx + 8) if ha == "left" else (lx - 8, lx)
        if all(abs(ly - py) > 2.5 or right < pl or left > pr for pl, pr, py in placed):
            placed.append((left, right, ly))
            return (dx, dy), ha
    return _OFFSETS[0], "left"


def _fig_success_vs_unsafe(groups: Sequence[_Group], colors: Mapping[str, Any]) -> Any:
    _, Figure, _ = _mpl()
    n_max = max(len(g.entries) for g in groups)
    numbered = n_max > 10  # many agents: number the points, the legend names them
    panel_h = max(5.0, 0.22 * n_max + 1.5)
    fig = Figure(figsize=(9.5, panel_h * len(groups)), layout="constrained")
    axes = fig.subplots(len(groups), 1, squeeze=False)[:, 0]
    fig.suptitle("Success (feasible tasks) vs unsafe actions (clean episodes; bars: 95% CI clustered by task)",
                 fontweight="bold")
    for ax, g in zip(axes, groups, strict=True):
        pts: list[tuple[float, float]] = []
        placed: list[tuple[float, float, float]] = []
        for rank, e in enumerate(g.entries, start=1):
            m = e.metrics
            if m["success_rate"] is None or m["unsafe_action_rate"] is None:
                continue
            x, y = 100 * m["unsafe_action_rate"], 100 * m["success_rate"]
            (xl, xh), (yl, yh) = m["unsafe_ci"], m["success_ci"]
            ax.errorbar(x, y, xerr=[[x - 100 * xl], [100 * xh - x]], yerr=[[y - 100 * yl], [100 * yh - y]],
                        fmt="o", ms=7, color=colors[e.label], ecolor=colors[e.label], elinewidth=1, capsize=3,
                        alpha=0.9, label=_plain(f"{rank}. {e.label}" if numbered else e.label), zorder=3)
            pts.append((x, y))
            offset, ha = _label_offset(x, y, placed)
            ax.annotate(str(rank) if numbered else _plain(e.label), (x, y), xytext=offset, ha=ha,
                        textcoords="offset points", fontsize=8, zorder=4)
        front, best = [], -1.0
        for x, y in sorted(pts, key=lambda p: (p[0], -p[1])):
            if y > best:
                front.append((x, y))
                best = y
        if front:
            xs = [p[0] for p in front] + [100.0]
            ys = [p[1] for p in front] + [front[-1][1]]
            ax.plot(xs, ys, drawstyle="steps-post", ls="--", lw=1, color="0.45", zorder=2, label="frontier")
        ax.set(xlim=(-4, 104), ylim=(-4, 104), title=_plain(g.title),
               xlabel="unsafe-action rate, UAR (% of episodes)",
               ylabel="success rate, SR (% of feasible-task episodes)")
        ax.grid(True, alpha=0.3)
        _legend_outside(ax)
    return fig


def _fig_false_success(groups: Sequence[_Group], colors: Mapping[str, Any]) -> Any:
    _, Figure, _ = _mpl()
    heights = [max(1.6, 0.32 * len(g.entries) + 1.0) for g in groups]
    fig = Figure(figsize=(9.0, sum(heights) + 0.6), layout="constrained")
    axes = fig.subplots(len(groups), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    fig.suptitle("False-success rate: success claimed, checks failed (clean episodes; bars: 95% CI clustered "
                 "by task)", fontweight="bold")
    for ax, g in zip(axes, groups, strict=True):
        labels = [_plain(e.label) for e in g.entries]
        ys = list(range(len(labels)))
        for y, e in zip(ys, g.entries, strict=True):
            m = e.metrics
            claims = m["claims"].get("success", 0)
            if not claims:
                ax.text(1, y, "no success claims", va="center", fontsize=8, color="0.35")
                continue
            v = 100 * m["false_success_rate"]
            lo, hi = m["false_success_ci"]
            ax.barh(y, v, color=colors[e.label], height=0.7,
                    xerr=[[v - 100 * lo], [100 * hi - v]], error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "0.3"})
            ax.text(min(100 * hi, 100) + 1.5, y, f"{v:.1f}% ({m['false_success_count']}/{claims})", va="center",
                    fontsize=8)
        ax.set_yticks(ys, labels, fontsize=9)
        ax.set_ylim(len(labels) - 0.5, -0.5)  # rank 1 at the top
        ax.set(xlim=(0, 125), title=_plain(g.title), xlabel="false-success rate, FSR (% of success claims)", ylabel="agent")
        ax.set_xticks([0, 20, 40, 60, 80, 100])
        ax.grid(True, axis="x", alpha=0.3)
    return fig


def _grouped_barh(ax: Any, g: _Group, series: Sequence[str], values: Mapping[tuple[str, str], float],
                  colors: Mapping[str, Any], *, fmt: str) -> None:
    """Horizontal grouped bars: one group per agent (rank order, top down), one bar per series."""
    labels = [e.label for e in g.entries]
    n = max(1, len(series))
    width = 0.8 / n
    for j, s in enumerate(series):
        ys, vs = [], []
        for i, lab in enumerate(labels):
            if (lab, s) in values:
                ys.append(i - 0.4 + width * (j + 0.5))
                vs.append(values[(lab, s)])
        bars = ax.barh(ys, vs, height=width * 0.92, color=colors[s], label=_plain(s))
        ax.bar_label(bars, fmt=fmt, fontsize=6.5, padding=2)  # so a zero reads as zero, not as missing
    ax.set_yticks(range(len(labels)), [_plain(lab) for lab in labels], fontsize=9)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.grid(True, axis="x", alpha=0.3)
    _legend_outside(ax)


def _bar_heights(groups: Sequence[_Group], n_series: int) -> list[float]:
    return [max(2.0, len(g.entries) * (0.16 * n_series + 0.25) + 1.0) for g in groups]


def _fig_robustness(groups: Sequence[_Group]) -> Any | None:
    _, Figure, _ = _mpl()
    panels = []
    for g in groups:
        values = {}
        for e in g.entries:
            for variant, r in e.robustness.items():
                if variant != "overall":
                    values[(e.label, variant)] = 100 * (r["clean_success_rate"] - r["perturbed_success_rate"])
        if values:
            panels.append((g, sorted({v for _, v in values}), values))
    if not panels:
        return None
    all_variants = sorted({v for _, vs, _ in panels for v in vs})
    colors = _colors(all_variants)
    heights = _bar_heights([p[0] for p in panels], len(all_variants))
    fig = Figure(figsize=(10.0, sum(heights) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    fig.suptitle("Robustness: success-rate drop under each perturbation (clean − perturbed, same tasks)",
                 fontweight="bold")
    lo = min(0.0, *(v for _, _, vals in panels for v in vals.values()))
    hi = max(0.0, *(v for _, _, vals in panels for v in vals.values()))
    for ax, (g, variants, values) in zip(axes, panels, strict=True):
        _grouped_barh(ax, g, variants, values, colors, fmt="%+.1f")
        ax.axvline(0, color="0.2", lw=0.8)
        ax.set(title=_plain(g.title), xlabel="SR drop, clean − perturbed (percentage points, %)", ylabel="agent",
               xlim=(min(-5.0, lo - 5), max(105.0 if hi > 50 else 55.0, hi + 5)))
    return fig


def _fig_success_by_budget(groups: Sequence[_Group], colors: Mapping[str, Any]) -> Any | None:
    _, Figure, _ = _mpl()
    panels = [g for g in groups if any(e.metrics["success_by_budget"].get("1.0") is not None for e in g.entries)]
    if not panels:
        return None
    fig = Figure(figsize=(9.5, 4.6 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    fig.suptitle("Success within a share of each task's step budget (clean episodes, feasible tasks)",
                 fontweight="bold")
    xs = [100 * float(b) for b in BUDGETS]
    for ax, g in zip(axes, panels, strict=True):
        for e in g.entries:
            by = e.metrics["success_by_budget"]
            if by.get("1.0") is None:
                continue
            ys = [100 * (by.get(b) or 0.0) for b in BUDGETS]
            ax.plot(xs, ys, marker="o", ms=5, lw=1.5, color=colors[e.label], label=_plain(e.label))
        ax.set(xlim=(20, 105), ylim=(-4, 104), xticks=xs, title=_plain(g.title),
               xlabel="step budget (% of the task's max_steps)", ylabel="success rate within budget (%)")
        ax.grid(True, alpha=0.3)
        _legend_outside(ax)
    return fig


def _fig_task_heatmap(groups: Sequence[_Group]) -> Any:
    matplotlib, Figure, _ = _mpl()
    import numpy as np

    mats = []
    for g in groups:
        labels = [e.label for e in g.entries]
        per: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for e in g.entries:
            for ep in e.clean:
                per[(ep["task_id"], e.label)].append(bool(ep.get("success")))
        tasks = sorted({t for t, _ in per})
        mat = np.full((len(tasks), len(labels)), np.nan)
        for (t, lab), xs in per.items():
            mat[tasks.index(t), labels.index(lab)] = 100.0 * sum(xs) / len(xs)
        mats.append((g, labels, tasks, mat))
    n_agents = max(len(m[1]) for m in mats)
    heights = [max(1.5, 0.2 * max(1, len(m[2])) + 1.2) for m in mats]
    fig = Figure(figsize=(max(6.5, 3.8 + 0.5 * n_agents), sum(heights) + 0.8), layout="constrained")
    axes = fig.subplots(len(mats), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    fig.suptitle("Success rate per task and agent (clean variant)", fontweight="bold")
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="0.85")
    image = None
    for ax, (g, labels, tasks, mat) in zip(axes, mats, strict=True):
        image = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, vmin=0, vmax=100, aspect="auto",
                          interpolation="nearest")
        ax.set_xticks(range(len(labels)), [_plain(lab) for lab in labels], rotation=45 if len(labels) <= 12 else 60, ha="right",
                      rotation_mode="anchor", fontsize=8 if len(labels) > 12 else 9)
        ax.set_yticks(range(len(tasks)), [_plain(t) for t in tasks], fontsize=7 if len(tasks) > 40 else 8)
        ax.set(title=_plain(g.title), xlabel="agent", ylabel="task")
        if len(labels) <= 12 and len(tasks) <= 120 and mat.size:
            for (i, j), v in np.ndenumerate(mat):
                if not np.isnan(v):
                    ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=6.5,
                            color="white" if v < 15 or v > 85 else "black")
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="success rate (%)", fraction=0.04, pad=0.02,
                     shrink=min(1.0, 8.0 / (sum(heights) + 0.8)))
    return fig


def _fig_by_app(groups: Sequence[_Group]) -> Any:
    _, Figure, _ = _mpl()
    panels = []
    for g in groups:
        values: dict[tuple[str, str], float] = {}
        for e in g.entries:
            per: dict[str, list[bool]] = defaultdict(list)
            for ep in e.clean:
                if ep.get("error") is not None or ep.get("infeasible"):
                    continue
                for app in dict.fromkeys(ep.get("app") or ["(none)"]):
                    per[str(app)].append(bool(ep.get("success")))
            for app, xs in per.items():
                values[(e.label, app)] = 100.0 * sum(xs) / len(xs)
        panels.append((g, sorted({a for _, a in values}), values))
    all_apps = sorted({a for _, apps, _ in panels for a in apps})
    colors = _colors(all_apps)
    heights = _bar_heights(groups, len(all_apps))
    fig = Figure(figsize=(10.0, sum(heights) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    fig.suptitle("Success rate per app (clean variant, feasible tasks)", fontweight="bold")
    for ax, (g, apps, values) in zip(axes, panels, strict=True):
        _grouped_barh(ax, g, apps, values, colors, fmt="%.0f")
        ax.set(title=_plain(g.title), xlabel="success rate, SR (% of feasible-task episodes whose task uses the app)",
               ylabel="agent",
               xlim=(0, 108))
    return fig


# --------------------------------------------------------------------------- the report


def build_report(run_dirs: Iterable[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *,
                 title: str = "lambench report") -> Path:
    """Write ``index.md``, ``index.html`` and the figures of ``FIGURES`` into ``out_dir``; return index.html.

    One leaderboard per (suite, suite version), agents ranked by success rate.  Raises
    ``ValueError`` for a path that is not a run directory, runs without any scored episode, and
    several runs that share neither an agent nor a task of the same suite version.
    """
    _mpl()  # fail before writing anything when matplotlib is missing
    runs = _read_runs(run_dirs)
    n_scored = sum(1 for r in runs for e in r.episodes if e.get("error") is None)
    if not n_scored:
        n_all = sum(len(r.episodes) for r in runs)
        where = ", ".join(str(r.path) for r in runs)
        if n_all:
            raise ValueError(f"no scored episodes in {where}: all {n_all} episode(s) hit infrastructure errors "
                             "(see the `error` field of episodes.jsonl); fix the cause and re-run the same "
                             "`lambench run` command, which retries only what is missing")
        raise ValueError(f"no episodes in {where} yet (episodes.jsonl is empty); run `lambench run ... --out DIR` "
                         "to fill it (the same command resumes an interrupted run)")
    replay_runs = [r for r in runs if r.config.get("kind") == "replay"]
    runs_live = [r for r in runs if r.config.get("kind") != "replay"]
    if runs_live:
        _check_comparable(runs_live)
    groups = _groups(_entries(runs_live)) if runs_live else []
    notes = _notes(groups)
    replays = _replay_sections(replay_runs)

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a directory for the report")
    out.mkdir(parents=True, exist_ok=True)
    ranked = [g for g in groups if any(e.metrics["episodes"] for e in g.entries)]
    labels = list(dict.fromkeys(e.label for g in ranked for e in g.entries))
    colors = _colors(labels)
    drawers = {
        "success_vs_unsafe.png": lambda: _fig_success_vs_unsafe(ranked, colors),
        "success_by_budget.png": lambda: _fig_success_by_budget(ranked, colors),
        "false_success.png": lambda: _fig_false_success(ranked, colors),
        "robustness.png": lambda: _fig_robustness(ranked),
        "task_heatmap.png": lambda: _fig_task_heatmap(ranked),
        "by_app.png": lambda: _fig_by_app(ranked),
    }
    pngs: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    if not ranked:  # only offline replays: no figures, and none left over from an earlier report
        for name in drawers:
            (out / name).unlink(missing_ok=True)
    for name, draw in (drawers if ranked else {}).items():
        fig = draw()
        if fig is None:
            skipped[name] = _WHY_SKIPPED[name]
            (out / name).unlink(missing_ok=True)  # a stale figure from an earlier report would mislead
            continue
        pngs[name] = _save(fig, out / name)
    (out / "index.md").write_text(_markdown(groups, runs, notes, list(pngs), skipped, title, replays),
                                  encoding="utf-8")
    index = out / "index.html"
    index.write_text(_html(groups, runs, notes, pngs, skipped, title, replays), encoding="utf-8")
    return index
