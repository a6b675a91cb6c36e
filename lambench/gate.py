"""The CI regression gate: is a candidate run worse than a baseline, beyond noise?

Each metric is compared task by task (paired, on the clean episodes, a task's trials pooled):
with one episode per task on both sides, by an exact one-sided McNemar test on the discordant
tasks; otherwise by a one-sided paired sign-flip permutation test over tasks (exact up to 16
tasks that differ, Monte Carlo with a fixed seed above).  A metric *regresses* when the
candidate is worse significantly (Holm-corrected over the metrics, family-wise alpha), or when
an absolute limit is broken (``max_drop`` of the success rate, ``max_unsafe`` unsafe-action
rate, ``max_false_success`` false-success rate).  Differences of the size of noise pass.

The rows mean what the run table's columns mean: ``success_rate`` over episodes of feasible
tasks, ``false_success_rate`` over the episodes that claimed success, ``infeasible_detection_rate``
over episodes of infeasible tasks and ``false_infeasible_rate`` over episodes of feasible ones
(``lambench.metrics.per_task.DERIVED_PER_TASK_FIELDS``).  The statistics live in
:mod:`lambench.metrics.stats`, the Markdown and JUnit renderings in :mod:`lambench.render`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambench.errors import LambenchError
from lambench.metrics.per_task import PER_TASK_FIELDS, per_task_values
from lambench.metrics.stats import holm, mcnemar_one_sided, sign_flip_test
from lambench.render.junit import gate_junit
from lambench.render.markdown import gate_markdown
from lambench.run.rundir import load_episodes
from lambench.view.links import read_site

__all__ = ["GateError", "GateResult", "MetricCheck", "gate", "load_side"]

_HEADLINE = {"success_rate": "feasible_success", "unsafe_action_rate": "unsafe",
             "false_success_rate": "false_success_claim", "infeasible_detection_rate": "infeasible_detected",
             "false_infeasible_rate": "false_infeasible"}
"""The rows every live gate shows: summary metric -> the per-task field whose mean is that metric."""

_REPLAY_HEADLINE = {"success_rate": "success", "unsafe_action_rate": "unsafe", "false_success_rate": "false_success"}
"""Offline replay: success is a trajectory with every step right (TSR); nothing runs, so no claims."""

_FAILED = ("success", "feasible_success", "infeasible_detected", "completed_under_policy", "step_success")
"""Fields that are 0 for a task the candidate never finished (it counts as failed)."""


_REPLAY_NOTE = ("offline replay: the paired tests use every complete trajectory of the dataset, one value each "
                "(success = every step right, i.e. TSR; step_success = its share of right steps); nothing is "
                "executed, so the unsafe and false-success rows are zero by construction")
_LIVE_NOTE = ("the paired tests use the clean episodes, one value per task (its trials pooled); each row "
              "is the run table's rate: success_rate over feasible tasks, false_success_rate over success "
              "claims, infeasible_detection_rate over infeasible tasks, false_infeasible_rate (refusing a "
              "feasible task) over feasible tasks; limits apply to the candidate's summary")


class GateError(LambenchError, ValueError):
    """Bad gate input (exit code 2): unreadable files, mismatched suites, nothing to compare."""


@dataclass
class Side:
    """One side of a comparison: per (task, variant) lists of per-episode values, and the metadata."""

    label: str
    suite: Any
    suite_version: str | None
    metrics: dict[str, Any]
    per_task: dict[str, dict[str, list[float]]]
    guard: bool = False
    kind: str = "live"
    observation: str = "text"


def load_side(path: str | os.PathLike, label: str) -> Side:
    """Read a run directory or a ``summary.json`` (which must carry ``per_task``)."""
    from lambench.run import RunDirError, score_run_dir

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
    except GateError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
        raise GateError(f"cannot read {label} {p}: {type(exc).__name__}: {exc}") from None
    if not per_task:
        raise GateError(f"{label} {p} has no scored episodes")
    if str(summary.get("kind") or "live") != "replay" and not any(
            isinstance(row, dict) and "feasible_success" in row for row in per_task.values()):
        raise GateError(f"{label} {p} was written by an older lambench: its per_task results do not tell feasible "
                        "from infeasible tasks, so its success rate is not the one gated now; regenerate it with "
                        "`lambench score RUN_DIR` and use the new summary.json")
    metrics = summary.get("metrics")
    if not isinstance(metrics, dict):
        raise GateError(f"{label} {p}: 'metrics' must be an object")
    for key, row in per_task.items():
        if not isinstance(row, dict) or not isinstance(row.get("success"), list) or not all(
                isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                for v in row.values()):
            raise GateError(f"{label} {p}: per_task[{key!r}] must map fields to lists of numbers "
                            "(regenerate it with `lambench score RUN_DIR`)")
    return Side(label=str(p), suite=summary.get("suite"), suite_version=summary.get("suite_version"),
                metrics=metrics, per_task=per_task, guard=bool(summary.get("guard", False)),
                kind=str(summary.get("kind") or "live"), observation=str(summary.get("observation") or "text"))


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
    worse: bool = False
    """True when the candidate's paired mean is on the bad side of the baseline's."""


@dataclass
class GateResult:
    checks: list[MetricCheck]
    regressed_tasks: list[str]
    tasks_compared: int
    notes: list[str] = field(default_factory=list)
    unit: str = "task"
    """What a paired value is: a task (its clean trials pooled) or, for offline replay, a trajectory."""
    task_links: dict[str, str] = field(default_factory=dict)
    """Regressed task -> its episodes in a viewer site (``gate(..., viewer=DIR)``); empty without one."""

    @property
    def passed(self) -> bool:
        return not any(c.regressed for c in self.checks)

    def markdown(self) -> str:
        """The verdict as a Markdown table (``lambench.render.markdown.gate_markdown``)."""
        return gate_markdown(self)

    def junit(self) -> str:
        """JUnit XML: one test case per metric and one per task behind a success regression."""
        return gate_junit(self)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _compare(name: str, field_name: str, higher_better: bool, base: dict[str, dict[str, list[float]]],
             cand: dict[str, dict[str, list[float]]], alpha: float) -> MetricCheck:
    """Paired comparison over tasks; ``base``/``cand`` map task -> field -> values (its variants and
    trials pooled, so correlated variants of one task count once)."""
    pairs = [(base[t][field_name], cand[t][field_name]) for t in sorted(base.keys() & cand.keys())
             if base[t].get(field_name) and cand[t].get(field_name)]
    if not pairs:
        return MetricCheck(name, None, None, None, "skipped", reason="no values on both sides")
    b_vals = [x for b, _ in pairs for x in b]
    c_vals = [x for _, c in pairs for x in c]
    sign = -1.0 if higher_better else 1.0  # > 0 means the candidate is worse
    diffs = [sign * (_mean(c) - _mean(b)) for b, c in pairs]
    worse, better = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    if all(len(b) == 1 and len(c) == 1 and b[0] in (0.0, 1.0) and c[0] in (0.0, 1.0) for b, c in pairs):
        p, test = mcnemar_one_sided(worse=worse, better=better), f"McNemar exact ({worse} worse, {better} better)"
    else:
        p, test = sign_flip_test(diffs), f"paired sign-flip over tasks ({worse} worse, {better} better)"
    return MetricCheck(name, _mean(b_vals), _mean(c_vals), p, test, worse=sum(diffs) > 0)


def _ceiling(check: MetricCheck, value: Any, limit: float | None, shown: str, what: str) -> None:
    """Fail ``check`` when the candidate's summary value exceeds an absolute limit."""
    if limit is None:
        return
    check.limit = f"{shown} {limit:.3f}"
    value = _number(value)
    if value is not None and value > limit + 1e-12:
        check.regressed, check.reason = True, f"{what} {value:.3f} > {limit}"


def _by_task(per_task: dict[str, dict[str, list[float]]], keys: set[str]) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    for k in keys:
        row = out.setdefault(k.rsplit("|", 1)[0], {})  # the variant never holds "|"; a task id might
        for f, vals in per_task[k].items():
            row.setdefault(f, []).extend(vals)
    return out


def _holm(checks: list[MetricCheck], alpha: float) -> None:
    """Mark regressions among the tested metrics with Holm's step-down correction (family-wise alpha)."""
    tested = [c for c in checks if c.p_value is not None and c.baseline is not None]
    for i, threshold in holm([c.p_value for c in tested], alpha).items():
        c = tested[i]
        if c.worse:
            c.regressed, c.reason = True, f"worse with p={c.p_value:.4f} < {threshold:.4f} (Holm, alpha={alpha})"


def _comparable(base: Side, cand: Side, *, allow_version_mismatch: bool) -> list[str]:
    """Raise ``GateError`` unless the two sides can be compared; the notes to show when they can."""
    notes: list[str] = []
    if base.kind != cand.kind:
        raise GateError(f"the baseline is a {base.kind} run and the candidate a {cand.kind} run; compare offline "
                        "replays with replays and live runs with live runs")
    if base.suite != cand.suite:
        raise GateError(f"the baseline is suite {base.suite!r} and the candidate {cand.suite!r}; compare runs of "
                        "the same suite")
    if base.suite_version != cand.suite_version:
        msg = (f"suite versions differ (baseline {base.suite_version}, candidate {cand.suite_version}): the task "
               "files changed between the runs")
        if not allow_version_mismatch:
            raise GateError(msg + "; re-run the baseline, or pass --allow-version-mismatch to compare anyway")
        notes.append(msg + " (allowed by --allow-version-mismatch)")
    if base.guard != cand.guard:
        raise GateError(f"one run used --guard and the other did not (baseline guard={base.guard}, candidate "
                        f"guard={cand.guard}): guard mode blocks unsafe actions, so their rates do not compare")
    if base.observation != cand.observation:
        raise GateError(f"the runs saw different observations (baseline --observation {base.observation}, candidate "
                        f"--observation {cand.observation}): a model's scores on a screenshot and on the "
                        "accessibility tree do not compare; run both the same way")
    return notes


def _limits(by_name: dict[str, MetricCheck], cand: Side, *, max_drop: float | None, max_unsafe: float | None,
            max_false_success: float | None) -> None:
    """Fail the checks whose absolute limits the candidate breaks."""
    sr = by_name["success_rate"]
    if max_drop is not None and sr.baseline is not None:
        sr.limit = f"drop <= {max_drop:.3f}"
        if sr.baseline - sr.candidate > max_drop + 1e-12:
            sr.regressed, sr.reason = True, f"success rate dropped by {sr.baseline - sr.candidate:.3f} > {max_drop}"
    _ceiling(by_name["unsafe_action_rate"], cand.metrics.get("unsafe_action_rate"), max_unsafe,
             "<=", "unsafe-action rate")
    _ceiling(by_name["false_success_rate"], cand.metrics.get("false_success_rate"), max_false_success,
             "FSR <=", "false-success rate")


def gate(baseline: str | os.PathLike, candidate: str | os.PathLike, *, alpha: float = 0.05,
         max_drop: float | None = None, max_unsafe: float | None = None, max_false_success: float | None = None,
         metrics: tuple[str, ...] = (), allow_version_mismatch: bool = False,
         viewer: str | os.PathLike | None = None) -> GateResult:
    """Compare a candidate run with a baseline (run directory or summary.json); see the module doc.

    With ``viewer`` (a site written by ``lambench view``), each task behind a success regression links to its
    episodes there: ``VIEWER/index.html#...``, the compare view when the site shows both runs."""
    site = read_site(viewer) if viewer is not None else None  # a bad site fails before any work
    if not 0 < alpha < 1:
        raise GateError(f"--alpha must be between 0 and 1, got {alpha}")
    for flag, limit in (("--max-drop", max_drop), ("--max-unsafe", max_unsafe),
                        ("--max-false-success", max_false_success)):
        if limit is not None and not 0 <= limit <= 1:
            raise GateError(f"{flag} must be a rate between 0 and 1, got {limit}")
    base, cand = load_side(baseline, "baseline"), load_side(candidate, "candidate")
    notes = _comparable(base, cand, allow_version_mismatch=allow_version_mismatch)
    replay = base.kind == "replay"
    headline = _REPLAY_HEADLINE if replay else _HEADLINE
    if replay and "step_success" not in metrics:  # the LAM paper's headline offline metric
        metrics = (*metrics, "step_success")

    # Headline numbers are the clean episodes (as in summary.json); other variants only when no clean ones.
    # An offline replay compares every trajectory (a recorded perturbed variant is just another trajectory).
    def variant_keys(side: Side) -> set[str]:
        clean = {k for k in side.per_task if k.endswith("|clean")}
        return set(side.per_task) if replay else (clean or set(side.per_task))

    bkeys, ckeys = variant_keys(base), variant_keys(cand)
    if not bkeys & ckeys:
        raise GateError("the baseline and the candidate have no task (and variant) in common")
    btask, ctask = _by_task(base.per_task, bkeys), _by_task(cand.per_task, ckeys & bkeys)
    missing = sorted(set(btask) - set(ctask))
    if missing:  # a task the candidate did not finish (absent, or every episode errored) counts as failed
        for t in missing:  # offline replay: none of its steps counts as right either
            ctask[t] = {f: [0.0] for f in _FAILED if btask[t].get(f)} or {"success": [0.0]}
        notes.append(f"{len(missing)} baseline task(s) have no scored episode in the candidate and count as "
                     f"failures: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    extra_tasks = len({k.rsplit('|', 1)[0] for k in ckeys} - set(btask))
    if extra_tasks:
        notes.append(f"{extra_tasks} candidate task(s) are not in the baseline and are not compared")
    checks = [_compare(m, f, PER_TASK_FIELDS[f], btask, ctask, alpha) for m, f in headline.items()]
    for extra in metrics:
        field_name = headline.get(extra, extra)
        if field_name not in PER_TASK_FIELDS:
            raise GateError(f"unknown metric {extra!r} for --metric; known: "
                            + ", ".join(list(headline) + list(PER_TASK_FIELDS)))
        if extra in headline or field_name in headline.values():
            continue  # compared anyway
        checks.append(_compare(extra, field_name, PER_TASK_FIELDS[field_name], btask, ctask, alpha))
    _holm(checks, alpha)
    by_name = {c.metric: c for c in checks}
    _limits(by_name, cand, max_drop=max_drop, max_unsafe=max_unsafe, max_false_success=max_false_success)
    sr = by_name["success_rate"]
    regressed_tasks = []
    detection = by_name.get("infeasible_detection_rate")
    if sr.regressed or (detection is not None and detection.regressed):
        # the tasks behind a success regression (a correct refusal is an infeasible task's success), for JUnit
        regressed_tasks = [t for t in sorted(btask) if btask[t].get("success") and ctask[t].get("success")
                           and _mean(ctask[t]["success"]) < _mean(btask[t]["success"])]
    notes.append(_REPLAY_NOTE if replay else _LIVE_NOTE)
    links = {} if site is None else site.gate_links(Path(viewer).as_posix().rstrip("/") + "/", baseline, candidate,
                                                   regressed_tasks)
    return GateResult(checks=checks, regressed_tasks=regressed_tasks, tasks_compared=len(btask), notes=notes,
                      unit="trajectory" if replay else "task", task_links=links)
