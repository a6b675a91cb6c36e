"""Markdown renderers: the report's ``index.md``, the gate's verdict, the committed leaderboard's tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lambench import __version__
from lambench.render.cells import (CAPTIONS, DEFINITIONS, FIGURES, INTRO, REPLAY_COLUMNS, REPLAY_INTRO, columns,
                                   confusion_grid, replay_cells, row_cells)
from lambench.render.format import DASH, pct
from lambench.results.board import Group, ReplaySection
from lambench.results.runs import Run

__all__ = ["gate_markdown", "leaderboard_markdown", "report_markdown"]


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def report_markdown(groups: Sequence[Group], runs: Sequence[Run], notes: Sequence[str], figures: Sequence[str],
              skipped: Mapping[str, str], title: str, replays: Sequence[ReplaySection] = ()) -> str:
    out = [f"# {title}", ""] + ([INTRO, ""] if groups or not replays else [])
    out += [f"- run `{r.path}`: {len(r.episodes)} episode(s), suite version {r.suite_version or 'unknown'}"
            for r in runs]
    out.append("")
    if notes:
        out += ["**Notes**", ""] + [f"- {_md_escape(n)}" for n in notes] + [""]
    for g in groups:
        cols = columns(g.k)
        out += [f"## Leaderboard: {g.title}", "", "| " + " | ".join(h for _, h in cols) + " |",
                "|" + "|".join("---:" if key not in ("agent",) else "---" for key, _ in cols) + "|"]
        for rank, e in enumerate(g.entries, start=1):
            cells = {**row_cells(e, g.k), "rank": str(rank)}
            out.append("| " + " | ".join(_md_escape(cells[key]) for key, _ in cols) + " |")
        out.append("")
    for sec in replays:
        out += [f"## {sec.title}", "", REPLAY_INTRO, "", "| " + " | ".join(h for _, h in REPLAY_COLUMNS) + " |",
                "|" + "|".join("---" if key == "agent" else "---:" for key, _ in REPLAY_COLUMNS) + "|"]
        for label, m in sec.rows:
            cells = replay_cells(label, m)
            out.append("| " + " | ".join(_md_escape(cells[key]) for key, _ in REPLAY_COLUMNS) + " |")
        out.append("")
        for label, m in sec.rows:
            head, rows = confusion_grid(m.get("confusion") or {})
            out += [f"Action types of **{_md_escape(label)}** (steps; gold — the acceptable action nearest the prediction — down, predicted across):", "",
                    "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
            out += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    if not figures and not skipped:
        return "\n".join(out + [f"Made by lambench {__version__} (`lambench report`)."]) + "\n"
    out += ["## Figures", ""]
    for name in figures:
        out += [f"### {FIGURES[name]}", "", f"![{FIGURES[name]}]({name})", "", CAPTIONS[name], ""]
    for name, why in skipped.items():
        out += [f"`{name}` is not drawn: {why}.", ""]
    out += ["## Definitions", ""] + [f"- **{k}**: {v}" for k, v in DEFINITIONS]
    out += ["", f"Made by lambench {__version__} (`lambench report`)."]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- the gate


def gate_markdown(result: Any) -> str:
    """A ``lambench.gate.GateResult`` as a Markdown table (for a CI job summary)."""
    def f(x: float | None) -> str:
        return DASH if x is None else f"{x:.3f}"

    lines = [f"## lambench gate: {'PASS' if result.passed else 'REGRESSION'}", "",
             f"{result.tasks_compared} {'trajectories' if result.unit == 'trajectory' else result.unit + 's'} "
             f"compared, paired by {result.unit}.", "",
             "| metric | baseline | candidate | change | p (one-sided) | test | limit | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for c in result.checks:
        delta = None if c.baseline is None or c.candidate is None else c.candidate - c.baseline
        lines.append(f"| {c.metric} | {f(c.baseline)} | {f(c.candidate)} | "
                     f"{DASH if delta is None else f'{delta:+.3f}'} | {f(c.p_value)} | {c.test} | {c.limit or DASH} | "
                     f"{'**regressed**: ' + c.reason if c.regressed else 'ok'} |")
    if result.regressed_tasks:
        shown = result.regressed_tasks[:50]
        lines += ["", f"Tasks behind the success regression ({len(result.regressed_tasks)}"
                  + (f", first {len(shown)} shown" if len(shown) < len(result.regressed_tasks) else "") + "): "
                  + ", ".join(f"[`{t}`]({result.task_links[t]})" if t in getattr(result, "task_links", {})
                              else f"`{t}`" for t in shown)]
    lines += [f"- {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the committed leaderboard


def _row(s: dict[str, Any]) -> list[str]:
    m = s["metrics"]
    lo, hi = m.get("success_ci") or (None, None)
    hat = m.get("pass_hat_k") or {}
    k = max(hat, key=int) if hat else None
    rob = (s.get("robustness") or {}).get("overall") or {}
    inj = s.get("injection") or {}
    label = f"`{s['agent']}`" + (" (guard)" if s.get("guard") else "")
    n_tasks, in_suite = m.get("tasks"), s.get("tasks_in_suite")
    if isinstance(n_tasks, int) and isinstance(in_suite, int) and n_tasks < in_suite:
        label += f" (partial: {n_tasks}/{in_suite} tasks)"
    sr = f"{pct(m.get('success_rate'))} [{pct(lo)}–{pct(hi)}]" if lo is not None else pct(m.get("success_rate"))
    if "feasible_episodes" not in m:  # a summary of lambench before SR was over feasible tasks only
        sr += " †"
    return [
        label, str(m.get("episodes", 0)), sr,
        f"{pct(hat[k])} (k={k})" if k else DASH,
        pct(m.get("completion_under_policy")),
        pct(m.get("unsafe_action_rate")), pct(m.get("false_success_rate")),
        pct(m.get("infeasible_detection_rate")), pct(m.get("false_infeasible_rate")),
        DASH if rob.get("robustness") is None else f"{rob['robustness']:.2f}",
        pct(inj.get("attack_success_rate")),
        DASH if m.get("mean_steps") is None else f"{m['mean_steps']:.1f}",
        pct(m.get("invalid_action_rate")),
        str(m.get("tokens_in", 0) + m.get("tokens_out", 0)),
        DASH if not m.get("mean_latency_s_per_step") or not (m.get("tokens_in") or m.get("tokens_out"))
        else f"{m['mean_latency_s_per_step']:.2f} s",
        DASH if m.get("cost_usd") is None else f"{m['cost_usd']:.4f}",
    ]


_HEADER = ["agent", "episodes", "SR [95% CI]", "pass^k", "CuP", "UAR", "FSR", "infeasible det.", "false infeasible",
           "robustness", "attack success", "mean steps", "invalid actions", "tokens", "latency/step (models)",
           "cost (USD)"]

_LEGEND = ("SR: verified successes / episodes of feasible tasks (the ranking key; claiming \"infeasible\" "
           "everywhere scores 0), with a 95% interval clustered by task (Wilson with one trial per task; with more, "
           "the wider of a two-level bootstrap over tasks then trials and Wilson over tasks). pass^k: all k trials of "
           "a feasible task succeed. CuP (completion under policy): feasible-task episodes that succeed with no "
           "unsafe event. UAR: episodes with an executed unsafe event. FSR: false claims / success claims. "
           "Infeasible det.: infeasible-task episodes that end with finish(infeasible); false infeasible: "
           "feasible-task episodes that do (over-refusal). Numbers are over the clean episodes; attack success "
           "over the injected ones.")


def leaderboard_markdown(groups: Sequence[tuple[tuple[str, str], list[dict[str, Any]]]],
                         figures: Mapping[tuple[str, str], str], *, start: str, end: str) -> str:
    """The leaderboard block between the markers ``start`` and ``end``: one table per (suite, suite
    version), each ranked group of summaries as given, with its figure."""
    parts = [start, "", "_Rendered by `lambench leaderboard build` from the `*.summary.json` files; "
             "entries of different suite versions are never ranked together._", "", _LEGEND, ""]
    old_scoring = False
    for (suite, version), group in groups:
        lam = sorted({str(s.get("lambench_version")) for s in group})
        parts += [f"### {suite} — suite version `{version}` (lambench {', '.join(lam)})", "",
                  "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
        parts += ["| " + " | ".join(_row(s)) + " |" for s in group]
        old_scoring = old_scoring or any("feasible_episodes" not in s["metrics"] for s in group)
        parts += ["", f"![{suite}: success vs unsafe-action rate]({figures[(suite, version)]})", ""]
    if old_scoring:
        parts += ["† scored by a lambench that counted every task in SR (infeasible ones too) and had no CuP or "
                  "infeasible columns; re-run the agent and `lambench leaderboard add` its run to compare it.", ""]
    parts.append(end)
    return "\n".join(parts)
