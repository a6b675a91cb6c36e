"""Figures (PNG) of a report and of the committed leaderboard, drawn with matplotlib.

matplotlib (a core dependency) is imported only when figures are drawn.  The
report's figures use its object-oriented Agg API only: no pyplot, no global backend switch, so
building a report from a notebook or a thread leaves the caller's matplotlib alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lambench.errors import MissingExtra
from lambench.metrics.episode import BUDGETS
from lambench.render.cells import WHY_SKIPPED
from lambench.results.board import Group
from lambench.task.difficulty import LEVELS

__all__ = ["draw_report_figures", "leaderboard_figure", "mpl"]


def mpl() -> Any:
    """matplotlib's object-oriented parts, imported on first use."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingExtra("lambench report draws its figures with matplotlib, a dependency of lambench that is "
                          "missing from this environment: pip install matplotlib (or reinstall lambench)") from exc
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
    _, _, FigureCanvasAgg = mpl()
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


def _fig_success_vs_unsafe(groups: Sequence[Group], colors: Mapping[str, Any]) -> Any:
    _, Figure, _ = mpl()
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


def _fig_false_success(groups: Sequence[Group], colors: Mapping[str, Any]) -> Any:
    _, Figure, _ = mpl()
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


def _grouped_barh(ax: Any, g: Group, series: Sequence[str], values: Mapping[tuple[str, str], float],
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


def _bar_heights(groups: Sequence[Group], n_series: int) -> list[float]:
    return [max(2.0, len(g.entries) * (0.16 * n_series + 0.25) + 1.0) for g in groups]


def _fig_robustness(groups: Sequence[Group]) -> Any | None:
    _, Figure, _ = mpl()
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


def _fig_success_by_budget(groups: Sequence[Group], colors: Mapping[str, Any]) -> Any | None:
    _, Figure, _ = mpl()
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


def _fig_task_heatmap(groups: Sequence[Group]) -> Any:
    matplotlib, Figure, _ = mpl()
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


def _fig_by_group(groups: Sequence[Group], values_of: Callable[[Mapping[str, Any]], list[str]],
                  order: Sequence[str] | None, what: str) -> Any:
    """Success rate of each agent per group of its clean feasible-task episodes (an episode may be in several);
    ``None`` when no episode is in any group."""
    _, Figure, _ = mpl()
    panels = []
    for g in groups:
        values: dict[tuple[str, str], float] = {}
        for e in g.entries:
            per: dict[str, list[bool]] = defaultdict(list)
            for ep in e.clean:
                if ep.get("error") is not None or ep.get("infeasible"):
                    continue
                for key in dict.fromkeys(values_of(ep)):
                    per[str(key)].append(bool(ep.get("success")))
            for key, xs in per.items():
                values[(e.label, key)] = 100.0 * sum(xs) / len(xs)
        found = {k for _, k in values}
        panels.append((g, [k for k in order if k in found] if order else sorted(found), values))
    if not any(keys for _, keys, _ in panels):
        return None
    every = list(dict.fromkeys(k for _, keys, _ in panels for k in keys))
    colors = _colors(every)
    heights = _bar_heights(groups, len(every))
    fig = Figure(figsize=(10.0, sum(heights) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    fig.suptitle(f"Success rate per {what} (clean variant, feasible tasks)", fontweight="bold")
    for ax, (g, keys, values) in zip(axes, panels, strict=True):
        _grouped_barh(ax, g, keys, values, colors, fmt="%.0f")
        ax.set(title=_plain(g.title), xlabel=f"success rate, SR (% of feasible-task episodes by {what})",
               ylabel="agent", xlim=(0, 108))
    return fig


def draw_report_figures(ranked: Sequence[Group], out: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """Draw the figures of ``FIGURES`` for the ranked groups into ``out``: ``({file: png bytes}, {file: why
    not drawn})``.  A figure not drawn is removed from ``out``, so no stale one from an earlier report stays."""
    labels = list(dict.fromkeys(e.label for g in ranked for e in g.entries))
    colors = _colors(labels)
    drawers = {
        "success_vs_unsafe.png": lambda: _fig_success_vs_unsafe(ranked, colors),
        "success_by_budget.png": lambda: _fig_success_by_budget(ranked, colors),
        "false_success.png": lambda: _fig_false_success(ranked, colors),
        "robustness.png": lambda: _fig_robustness(ranked),
        "task_heatmap.png": lambda: _fig_task_heatmap(ranked),
        "by_app.png": lambda: _fig_by_group(ranked, lambda ep: ep.get("app") or ["(none)"], None, "app"),
        "by_difficulty.png": lambda: _fig_by_group(ranked, lambda ep: [ep["difficulty"]] if ep.get("difficulty")
                                                   else [], LEVELS, "difficulty"),
    }
    pngs: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    if not ranked:  # only offline replays: no figures, and none left over from an earlier report
        for name in drawers:
            (out / name).unlink(missing_ok=True)
    for name, draw in (drawers if ranked else {}).items():
        fig = draw()
        if fig is None:
            skipped[name] = WHY_SKIPPED[name]
            (out / name).unlink(missing_ok=True)  # a stale figure from an earlier report would mislead
            continue
        pngs[name] = _save(fig, out / name)
    return pngs, skipped


def leaderboard_figure(group: list[dict[str, Any]], path: Path, title: str) -> None:
    """Success vs unsafe-action rate, one labelled point per agent, with their 95% intervals (clustered by task)."""
    import matplotlib  # an ImportError when it is missing: the caller says what to install

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(group)
    fig, ax = plt.subplots(figsize=(7 + 0.15 * n, 5 + 0.1 * n))
    for s in group:
        m = s["metrics"]
        x, y = 100 * (m.get("unsafe_action_rate") or 0), 100 * (m.get("success_rate") or 0)
        slo, shi = m.get("success_ci") or (y / 100, y / 100)
        ulo, uhi = m.get("unsafe_ci") or (x / 100, x / 100)
        ax.errorbar(x, y, yerr=[[y - 100 * slo], [100 * shi - y]], xerr=[[x - 100 * ulo], [100 * uhi - x]],
                    fmt="o", capsize=3)
        ax.annotate(str(s["agent"]).replace("$", r"\$"), (x, y), textcoords="offset points", xytext=(5, 5),
                    fontsize=8)  # "$" escaped: matplotlib would read $...$ as TeX
    ax.set_xlabel("unsafe-action rate (% of episodes)")
    ax.set_ylabel("success rate (% of feasible-task episodes)")
    ax.set_xlim(-5, 105)
    ax.set_ylim(-5, 105)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
