"""Terminal tables (rich) of run and replay metrics, and their plain-text rendering.

The numbers come from :mod:`lambench.metrics`; nothing here computes a metric.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lambench.render.format import DASH, pct, pct_ci

__all__ = ["format_metrics_text", "format_replay_text", "format_safety_robustness_text", "metrics_table"]

def _num(x: float | None, fmt: str = "{:.1f}") -> str:
    return DASH if x is None else fmt.format(x)


def _duration(seconds: float | None) -> str:
    """Seconds as a short human duration: ``850 µs``, ``12.3 ms``, ``4.2 s``."""
    if seconds is None:
        return DASH
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.1f} s"


def _sr_cell(m: Mapping[str, Any]) -> str:
    sr = m.get("success_rate")
    if sr is None:
        return DASH
    ci = m.get("success_ci")
    if not ci:
        return pct(sr)
    return f"{pct(sr)} [{100 * ci[0]:.1f}–{100 * ci[1]:.1f}]"


def _table_k(rows: list[tuple[str, Mapping[str, Any]]]) -> int | None:
    """Largest k of pass^k that every row has (so the column compares like with like)."""
    key_sets = [{int(k) for k in (m.get("pass_hat_k") or {})} for _, m in rows]
    key_sets = [s for s in key_sets if s]
    if not key_sets:
        return None
    common = set.intersection(*key_sets)
    return max(common) if common else max(max(s) for s in key_sets)


def metrics_table(rows: list[tuple[str, Mapping[str, Any]]], *, title: str = "lambench results") -> Table:
    """A rich table with one row per ``(label, compute_metrics(...))``."""
    k = _table_k(rows)
    table = Table(title=title)
    table.add_column("agent", no_wrap=True)
    table.add_column("episodes", justify="right")
    table.add_column("SR [95% CI]", justify="right", no_wrap=True)
    table.add_column(f"pass^{k if k is not None else 'k'}", justify="right")
    table.add_column("CuP", justify="right")
    table.add_column("UAR", justify="right")
    table.add_column("unsafe/100 steps", justify="right")
    table.add_column("FSR", justify="right")
    table.add_column("infeasible det.", justify="right")
    table.add_column("false infeasible", justify="right")
    table.add_column("invalid actions", justify="right")
    table.add_column("mean steps", justify="right")
    table.add_column("mean wall time", justify="right")
    # model columns, only when some agent reported tokens (model adapters)
    models = any((m.get("tokens_in") or 0) + (m.get("tokens_out") or 0) for _, m in rows)
    if models:
        table.add_column("tokens/episode", justify="right")
        table.add_column("latency/step", justify="right")
        table.add_column("cost (USD)", justify="right")
    # asking the user, only when some task needed it or some agent asked
    asking = any(m.get("underspecified_episodes") or m.get("questions_per_episode") for _, m in rows)
    if asking:
        for col in ("underspec. SR", "questions/ep", "unnecessary q."):
            table.add_column(col, justify="right")
    for label, m in rows:
        hat = (m.get("pass_hat_k") or {}).get(str(k)) if k is not None else None
        extra = []
        if models:
            cost = m.get("cost_usd")
            extra = [_num(m.get("mean_tokens_per_episode"), "{:,.0f}"), _duration(m.get("mean_latency_s_per_step")),
                     DASH if cost is None else (f"{cost:.4f}" + ("" if m.get("episodes_with_cost") == m.get("episodes")
                                                                  else "*"))]
        if asking:
            extra += [pct(m.get("underspecified_success_rate")), _num(m.get("questions_per_episode"), "{:.2f}"),
                      pct(m.get("unnecessary_question_rate"))]
        table.add_row(
            Text(str(label)),  # not markup: "agent [popup]" must print as written
            str(m.get("episodes", 0)),
            _sr_cell(m),
            pct(hat),
            pct(m.get("completion_under_policy")),
            pct(m.get("unsafe_action_rate")),
            _num(m.get("unsafe_events_per_100_steps"), "{:.2f}") if m.get("episodes") else DASH,
            pct(m.get("false_success_rate")),
            pct(m.get("infeasible_detection_rate")),
            pct(m.get("false_infeasible_rate")),
            pct(m.get("invalid_action_rate")),
            _num(m.get("mean_steps")),
            _duration(m.get("mean_wall_time_s")),
            *extra,
        )
    return table


def format_metrics_text(rows: list[tuple[str, Mapping[str, Any]]], *, title: str = "lambench results") -> str:
    """``metrics_table`` rendered as plain text (no colour codes), for printing and tests."""
    buf = io.StringIO()
    models = any((m.get("tokens_in") or 0) + (m.get("tokens_out") or 0) for _, m in rows)
    console = Console(file=buf, width=260 if models else 220, color_system=None, force_terminal=False)
    console.print(metrics_table(rows, title=title))
    return buf.getvalue()


def format_safety_robustness_text(summaries: list[tuple[str, Mapping[str, Any]]], *, width: int = 160) -> str:
    """Tables of robustness, injection and guard results, and unsafe actions by risk category,
    for the summaries that have any (empty string when none do)."""
    console = Console(file=io.StringIO(), width=width)
    rob = Table(title="robustness: success under perturbation vs clean, same tasks")
    for col in ("agent", "variant", "tasks", "clean SR", "perturbed SR", "robustness [95% CI]"):
        rob.add_column(col, justify="left" if col in ("agent", "variant") else "right")
    inj = Table(title="prompt injection")
    for col in ("agent", "tasks", "benign utility", "utility under attack", "attack success [95% CI]"):
        inj.add_column(col, justify="left" if col == "agent" else "right")
    cat = Table(title="unsafe actions by risk category (executed; episodes % / events per 100 steps)")
    cat.add_column("agent")
    guard = Table(title="guard mode: attempted vs executed unsafe actions")
    for col in ("agent", "episodes", "attempted UAR", "executed UAR", "blocked actions"):
        guard.add_column(col, justify="left" if col == "agent" else "right")
    categories = sorted({c for _, s in summaries for c in (s["metrics"].get("unsafe_by_category") or {})})
    for c in categories:
        cat.add_column(c, justify="right")
    for label, s in summaries:
        for variant, r in (s.get("robustness") or {}).items():
            lo, hi = r["robustness_ci"]
            ci = f" [{lo:.2f}–{hi:.2f}]" if lo is not None else ""
            rob.add_row(Text(label), Text(variant), str(r["tasks"]), pct(r["clean_success_rate"]),
                        pct(r["perturbed_success_rate"]), _num(r["robustness"], "{:.2f}") + ci)
        i = s.get("injection")
        if i:
            lo, hi = i["attack_success_ci"]
            inj.add_row(Text(label), str(i["tasks"]), pct(i["benign_utility"]), pct(i["utility_under_attack"]),
                        f"{pct(i['attack_success_rate'])} [{lo * 100:.1f}–{hi * 100:.1f}]")
        m = s["metrics"]
        if categories and m.get("unsafe_events"):
            by = m.get("unsafe_by_category") or {}
            cat.add_row(Text(label), *[f"{pct(by[c]['rate'])} / {by[c]['per_100_steps']:.2f}" if c in by else DASH
                                 for c in categories])
        if m.get("blocked_actions"):
            guard.add_row(Text(label), str(m["episodes"]), pct(m.get("unsafe_attempted_rate")),
                          pct(m.get("unsafe_action_rate")), str(m["blocked_actions"]))
    for table in (rob, inj, cat, guard):
        if table.row_count:
            console.print(table)
    return console.file.getvalue()




def format_replay_text(rows: list[tuple[str, Mapping[str, Any]]], *, title: str = "lambench replay",
                       width: int = 160) -> str:
    """A plain-text table of replay metrics, one row per ``(label, replay_metrics(...))``."""
    table = Table(title=title)
    for name in ("agent", "steps", "traj.", "object", "operation", "args", "arg F1", "status", "SSR [95% CI]",
                 "TSR [95% CI]", "SSR macro", "invalid"):
        table.add_column(name, justify="left" if name == "agent" else "right", no_wrap=name != "agent")
    for label, m in rows:
        table.add_row(Text(str(label)), str(m.get("steps", 0)), str(m.get("trajectories_complete", 0)),
                      pct(m.get("object_accuracy")), pct(m.get("operation_accuracy")),
                      pct(m.get("argument_accuracy")), pct(m.get("argument_f1")), pct(m.get("status_accuracy")),
                      pct_ci(m.get("step_success_rate"), m.get("step_success_ci95")),
                      pct_ci(m.get("task_success_rate"), m.get("task_success_ci95")),
                      pct((m.get("macro") or {}).get("step_success_rate")), pct(m.get("invalid_rate")))
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False).print(table)
    return buf.getvalue()
