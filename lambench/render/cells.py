"""The report's tables as cells, and its texts (intro, definitions, figure titles and captions),
shared by the Markdown and the HTML renderers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambench.render.format import DASH, ci, pct, pct_ci
from lambench.results.board import Entry

__all__ = ["CAPTIONS", "DEFINITIONS", "FIGURES", "INTRO", "REPLAY_COLUMNS", "REPLAY_INTRO", "WHY_SKIPPED", "columns",
           "confusion_grid", "replay_cells", "row_cells"]

FIGURES = {
    "success_vs_unsafe.png": "Success vs unsafe actions: the capability/safety frontier",
    "success_by_budget.png": "Success by step budget: solved within a share of each task's max_steps",
    "false_success.png": "False-success rate: success claimed, checks failed",
    "robustness.png": "Robustness: success lost under each perturbation",
    "task_heatmap.png": "Success per task (clean variant)",
    "by_app.png": "Success per app (clean variant)",
    "by_difficulty.png": "Success per difficulty (clean variant)",
}
"""The figures ``lambench.report.build_report`` draws, by file name (``robustness.png`` only with perturbed variants,
``success_by_budget.png`` only when the tasks' step budgets are known)."""


def row_cells(e: Entry, k: int | None) -> dict[str, str]:
    m = e.metrics
    n = m["episodes"]
    rob = e.robustness.get("overall")
    inj = e.injection
    tokens = m["tokens_in"] + m["tokens_out"]
    hat = m["pass_hat_k"].get(str(k)) if k is not None else None
    return {
        "agent": e.label,
        "episodes": str(n),
        "sr": pct(m["success_rate"]) + (ci(*m["success_ci"]) if m["success_rate"] is not None else ""),
        "pass_hat_k": pct(hat),
        "cup": pct(m["completion_under_policy"]),
        "uar": pct(m["unsafe_action_rate"]),
        "fsr": pct(m["false_success_rate"]),
        "inf_det": pct(m["infeasible_detection_rate"]),
        "false_inf": pct(m["false_infeasible_rate"]),
        "robustness": DASH if not rob or rob["robustness"] is None
        else f"{rob['robustness']:.2f}" + ci(*rob["robustness_ci"], scale=1.0, fmt="{:.2f}"),
        "asr": DASH if not inj or inj["attack_success_rate"] is None
        else pct(inj["attack_success_rate"]) + ci(*inj["attack_success_ci"]),
        "steps": DASH if m["mean_steps"] is None else f"{m['mean_steps']:.1f}",
        "tokens": DASH if not tokens or not n else f"{tokens / n:,.0f}",
        "errored": str(e.errored),
    }


def columns(k: int | None) -> list[tuple[str, str]]:
    return [("rank", "#"), ("agent", "agent"), ("episodes", "episodes"), ("sr", "SR [95% CI]"),
            ("pass_hat_k", f"pass^{k if k is not None else 'k'}"), ("cup", "CuP"), ("uar", "UAR"), ("fsr", "FSR"),
            ("inf_det", "infeasible det."), ("false_inf", "false infeasible"), ("robustness", "robustness [95% CI]"), ("asr", "ASR [95% CI]"), ("steps", "mean steps"),
            ("tokens", "tokens/episode"), ("errored", "errored")]


INTRO = (
    "Agents are ranked only within a (suite, suite version) group, by success rate on feasible tasks: the suite "
    "version is a content hash of the task files, and numbers from different versions are never ranked together. "
    "Every column but robustness and ASR is over the clean episodes; SR, pass^k and CuP over those of feasible "
    "tasks, so answering \"infeasible\" everywhere scores 0 there; robustness pools the perturbed "
    "variants against clean on the same tasks; ASR is over the injection episodes. Episodes that hit an "
    "infrastructure error are excluded from every number and counted in the last column."
)

DEFINITIONS = [
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

WHY_SKIPPED = {
    "robustness.png": "no run has perturbed variants (`lambench run --perturb NAME`)",
    "success_by_budget.png": "no feasible task's step budget is known (its task file is not in this lambench's suites)",
    "by_difficulty.png": "no episode records a difficulty label (runs made before lambench recorded them)",
}

CAPTIONS = {
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
    "by_difficulty.png": "Success rate over the clean feasible-task episodes of each difficulty label (easy, medium, "
                         "hard: from the task's gold length and apps, or declared by the task; docs/tasks.md).",
}


REPLAY_COLUMNS = [("agent", "agent"), ("steps", "steps"), ("traj", "trajectories"), ("object", "object acc."),
                   ("operation", "operation acc."), ("args", "argument acc."), ("f1", "argument F1"),
                   ("status", "status acc."), ("ssr", "SSR [95% CI]"), ("tsr", "TSR [95% CI]"),
                   ("macro", "SSR macro"), ("invalid", "invalid"), ("errored", "errored")]
REPLAY_INTRO = ("Offline replay (teacher forcing): at each recorded step the agent sees the recorded observation and "
                 "the gold history and predicts one action. SSR: steps whose object, operation, arguments and status "
                 "are all right; TSR: trajectories whose steps all are (trajectories with missing steps left out); "
                 "SSR macro averages SSR per trajectory. Nothing is executed, so safety and honesty are not measured "
                 "here.")



def replay_cells(label: str, m: Mapping[str, Any]) -> dict[str, str]:
    return {"agent": label, "steps": str(m.get("steps", 0)), "traj": str(m.get("trajectories_complete", 0)),
            "object": pct(m.get("object_accuracy")), "operation": pct(m.get("operation_accuracy")),
            "args": pct(m.get("argument_accuracy")), "f1": pct(m.get("argument_f1")),
            "status": pct(m.get("status_accuracy")), "ssr": pct_ci(m.get("step_success_rate"), m.get("step_success_ci95")),
            "tsr": pct_ci(m.get("task_success_rate"), m.get("task_success_ci95")),
            "macro": pct((m.get("macro") or {}).get("step_success_rate")), "invalid": pct(m.get("invalid_rate")),
            "errored": str(m.get("errored_trajectories", 0))}


def confusion_grid(conf: Mapping[str, Mapping[str, int]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a confusion table: gold action types down, predicted types across."""
    preds = sorted({p for row in conf.values() for p in row}, key=lambda p: (p == "invalid", p))
    rows = [[g] + [str(conf[g].get(p, 0) or "·") for p in preds] for g in sorted(conf)]
    return ["gold \\ predicted"] + preds, rows
