"""The CI regression gate: is a candidate run worse than a baseline, beyond noise?

Each metric is compared task by task (paired): with one episode per task on both sides, by an
exact one-sided McNemar test on the discordant tasks; with several trials per task, by a paired
bootstrap over tasks.  A metric *regresses* when the candidate is worse with p < alpha, or when
an absolute limit is broken (``max_drop`` of the success rate, ``max_unsafe`` unsafe-action
rate, ``max_false_success`` false-success rate).  Differences of the size of noise pass.

>>> round(mcnemar_one_sided(worse=6, better=0), 4)
0.0156
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambench.scoring import PER_TASK_FIELDS, load_episodes, per_task_values

__all__ = ["GateError", "GateResult", "MetricCheck", "gate", "load_side", "mcnemar_one_sided", "paired_bootstrap"]

_HEADLINE = {"success_rate": "success", "unsafe_action_rate": "unsafe", "false_success_rate": "false_success"}


class GateError(ValueError):
    """Bad gate input (exit code 2): unreadable files, mismatched suites, nothing to compare."""


def mcnemar_one_sided(*, worse: int, better: int) -> float:
    """Exact one-sided McNemar p-value: the chance of ``worse`` or more of the discordant tasks
    going the candidate's bad way if both were equally good."""
    n = worse + better
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(worse, n + 1)) / 2 ** n


def paired_bootstrap(diffs: list[float], *, resamples: int = 10000, seed: int = 0) -> float:
    """One-sided p-value that the mean of per-task differences (candidate worse > 0) is noise."""
    import numpy as np

    if not diffs or all(d == 0 for d in diffs):
        return 1.0
    arr = np.asarray(diffs, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(arr), size=(resamples, len(arr)))
    not_worse = int((arr[idx].sum(axis=1) <= 0).sum())
    return (not_worse + 1) / (resamples + 1)


@dataclass
class Side:
    """One side of a comparison: per (task, variant) lists of per-episode values, and the metadata."""

    label: str
    suite: Any
    suite_version: str | None
    metrics: dict[str, Any]
    per_task: dict[str, dict[str, list[float]]]


def load_side(path: str | os.PathLike, label: str) -> Side:
    """Read a run directory or a ``summary.json`` (which must carry ``per_task``)."""
    from lambench.runner import RunDirError, score_run_dir

    p = Path(path)
    try:
        if p.is_dir():
            summary = score_run_dir(p)
            per_task = per_task_values(load_episodes(p / "episodes.jsonl"))
        elif p.is_file():
            summary = json.loads(p.read_text())
            if not isinstance(summary, dict) or "metrics" not in summary:
                raise GateError(f"{p} is not a lambench summary.json (no 'metrics'); give a run directory or the "
                                "summary.json that `lambench run`/`lambench score` wrote")
            per_task = summary.get("per_task")
            if not isinstance(per_task, dict):
                raise GateError(f"{p} has no per-task results ('per_task'); regenerate it with `lambench score "
                                "RUN_DIR` (lambench >= 0.1) or give the run directory")
        else:
            raise GateError(f"{label} {p} does not exist")
    except (RunDirError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GateError(f"cannot read {label} {p}: {exc}") from None
    except ValueError as exc:
        if isinstance(exc, GateError):
            raise
        raise GateError(f"cannot read {label} {p}: {exc}") from None
    if not per_task:
        raise GateError(f"{label} {p} has no scored episodes")
    return Side(label=str(p), suite=summary.get("suite"), suite_version=summary.get("suite_version"),
                metrics=summary.get("metrics") or {}, per_task=per_task)


@dataclass
class MetricCheck:
    metric: str
    baseline: float | None
    candidate: float | None
    p_value: float | None
    test: str
    limit: str = ""
    regressed: bool = False
    reason: str = ""


@dataclass
class GateResult:
    checks: list[MetricCheck]
    regressed_tasks: list[str]
    tasks_compared: int
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(c.regressed for c in self.checks)

    def markdown(self) -> str:
        def f(x: float | None) -> str:
            return "—" if x is None else f"{x:.3f}"

        lines = [f"## lambench gate: {'PASS' if self.passed else 'REGRESSION'}", "",
                 f"{self.tasks_compared} task variants compared, paired by task.", "",
                 "| metric | baseline | candidate | change | p (one-sided) | test | limit | verdict |",
                 "|---|---|---|---|---|---|---|---|"]
        for c in self.checks:
            delta = None if c.baseline is None or c.candidate is None else c.candidate - c.baseline
            lines.append(f"| {c.metric} | {f(c.baseline)} | {f(c.candidate)} | "
                         f"{'—' if delta is None else f'{delta:+.3f}'} | {f(c.p_value)} | {c.test} | {c.limit or '—'} | "
                         f"{'**regressed**: ' + c.reason if c.regressed else 'ok'} |")
        if self.regressed_tasks:
            lines += ["", f"Tasks that got worse ({len(self.regressed_tasks)}): "
                      + ", ".join(f"`{t}`" for t in self.regressed_tasks[:50])]
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def junit(self) -> str:
        failures = sum(c.regressed for c in self.checks) + len(self.regressed_tasks)
        suites = ET.Element("testsuites")
        suite = ET.SubElement(suites, "testsuite", name="lambench gate",
                              tests=str(len(self.checks) + len(self.regressed_tasks)), failures=str(failures))
        for c in self.checks:
            case = ET.SubElement(suite, "testcase", classname="lambench.gate.metric", name=c.metric)
            if c.regressed:
                fail = ET.SubElement(case, "failure", message=c.reason)
                fail.text = f"baseline {c.baseline} candidate {c.candidate} p={c.p_value} ({c.test})"
        for t in self.regressed_tasks:
            case = ET.SubElement(suite, "testcase", classname="lambench.gate.task", name=t)
            ET.SubElement(case, "failure", message=f"task {t} succeeded less often than in the baseline")
        return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _compare(name: str, field_name: str, higher_better: bool, base: Side, cand: Side, keys: list[str],
             alpha: float) -> MetricCheck:
    pairs = [(base.per_task[k][field_name], cand.per_task[k][field_name]) for k in keys
             if base.per_task[k].get(field_name) and cand.per_task[k].get(field_name)]
    if not pairs:
        return MetricCheck(name, None, None, None, "none", reason="no values on both sides")
    b_vals = [x for b, _ in pairs for x in b]
    c_vals = [x for _, c in pairs for x in c]
    sign = -1.0 if higher_better else 1.0  # > 0 means the candidate is worse
    binary = all(v in (0.0, 1.0) for v in b_vals + c_vals)
    if binary and all(len(b) == 1 and len(c) == 1 for b, c in pairs):
        worse = sum(1 for b, c in pairs if sign * (c[0] - b[0]) > 0)
        better = sum(1 for b, c in pairs if sign * (c[0] - b[0]) < 0)
        p, test = mcnemar_one_sided(worse=worse, better=better), f"McNemar exact ({worse} worse, {better} better)"
    else:
        diffs = [sign * (_mean(c) - _mean(b)) for b, c in pairs]
        p, test = paired_bootstrap(diffs), "paired bootstrap over tasks"
    check = MetricCheck(name, _mean(b_vals), _mean(c_vals), p, test)
    if p < alpha and sign * (check.candidate - check.baseline) > 0:
        check.regressed, check.reason = True, f"worse with p={p:.4f} < alpha={alpha}"
    return check


def gate(baseline: str | os.PathLike, candidate: str | os.PathLike, *, alpha: float = 0.05,
         max_drop: float | None = None, max_unsafe: float | None = None, max_false_success: float | None = None,
         metrics: tuple[str, ...] = (), allow_version_mismatch: bool = False) -> GateResult:
    """Compare a candidate run with a baseline (run directory or summary.json); see the module doc."""
    if not 0 < alpha < 1:
        raise GateError(f"--alpha must be between 0 and 1, got {alpha}")
    base, cand = load_side(baseline, "baseline"), load_side(candidate, "candidate")
    notes = []
    if base.suite != cand.suite:
        raise GateError(f"the baseline is suite {base.suite!r} and the candidate {cand.suite!r}; compare runs of "
                        "the same suite")
    if base.suite_version != cand.suite_version:
        msg = (f"suite versions differ (baseline {base.suite_version}, candidate {cand.suite_version}): the task "
               "files changed between the runs")
        if not allow_version_mismatch:
            raise GateError(msg + "; re-run the baseline, or pass --allow-version-mismatch to compare anyway")
        notes.append(msg + " (allowed by --allow-version-mismatch)")
    keys = sorted(set(base.per_task) & set(cand.per_task))
    if not keys:
        raise GateError("the baseline and the candidate have no task (and variant) in common")
    only = len(set(base.per_task) ^ set(cand.per_task))
    if only:
        notes.append(f"{only} task variants ran on one side only and are not compared")
    checks = [_compare(m, f, PER_TASK_FIELDS[f], base, cand, keys, alpha) for m, f in _HEADLINE.items()]
    for extra in metrics:
        field_name = _HEADLINE.get(extra, extra)
        if field_name not in PER_TASK_FIELDS:
            raise GateError(f"unknown metric {extra!r} for --metric; known: "
                            + ", ".join(list(_HEADLINE) + list(PER_TASK_FIELDS)))
        if extra not in _HEADLINE:
            checks.append(_compare(extra, field_name, PER_TASK_FIELDS[field_name], base, cand, keys, alpha))
    by_name = {c.metric: c for c in checks}
    sr = by_name["success_rate"]
    if max_drop is not None and sr.baseline is not None:
        sr.limit = f"drop <= {max_drop:.3f}"
        if sr.baseline - sr.candidate > max_drop + 1e-12:
            sr.regressed, sr.reason = True, f"success rate dropped by {sr.baseline - sr.candidate:.3f} > {max_drop}"
    uar = by_name["unsafe_action_rate"]
    if max_unsafe is not None and uar.candidate is not None:
        uar.limit = f"<= {max_unsafe:.3f}"
        if uar.candidate > max_unsafe + 1e-12:
            uar.regressed, uar.reason = True, f"unsafe-action rate {uar.candidate:.3f} > {max_unsafe}"
    fsr_check = by_name["false_success_rate"]
    cand_fsr = cand.metrics.get("false_success_rate")
    if max_false_success is not None and cand_fsr is not None:
        fsr_check.limit = f"FSR <= {max_false_success:.3f}"
        if cand_fsr > max_false_success + 1e-12:
            fsr_check.regressed, fsr_check.reason = True, f"false-success rate {cand_fsr:.3f} > {max_false_success}"
    regressed_tasks = [k.replace("|clean", "") for k in keys
                       if base.per_task[k]["success"] and cand.per_task[k]["success"]
                       and _mean(cand.per_task[k]["success"]) < _mean(base.per_task[k]["success"])]
    notes.append("false_success is compared per episode (false claims / episodes); the limit uses the "
                 "false-success rate (false claims / success claims)")
    return GateResult(checks=checks, regressed_tasks=regressed_tasks, tasks_compared=len(keys), notes=notes)
