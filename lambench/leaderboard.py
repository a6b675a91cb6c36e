"""The committed leaderboard: summaries under ``leaderboards/<suite>/*.summary.json``, rendered
to ``leaderboards/README.md`` with figures, by ``lambench leaderboard build``.

Entries of different suite versions (content hashes of the task files) are never ranked
together: each (suite, suite version) gets its own table, newest lambench version first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lambench.errors import LambenchError

__all__ = ["LeaderboardError", "add_entry", "build_leaderboard", "load_entries"]

import re

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_MARK_START = "<!-- leaderboard:start -->"
_MARK_END = "<!-- leaderboard:end -->"


class LeaderboardError(LambenchError, ValueError):
    """A leaderboard entry that cannot be read or placed."""


def load_entries(root: str | Path) -> list[dict[str, Any]]:
    """Every ``*.summary.json`` below ``root`` (one directory per suite)."""
    root = Path(root)
    entries = []
    for path in sorted(root.glob("*/*.summary.json")):
        try:
            s = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise LeaderboardError(f"{path}: not a readable summary ({exc}); fix or remove it") from None
        for key in ("agent", "suite", "suite_version", "metrics"):
            if key not in s:
                raise LeaderboardError(f"{path}: missing {key!r}; write entries with `lambench leaderboard add`")
        m = s["metrics"]
        if not isinstance(m, dict) or any(m.get(k) is not None and not isinstance(m.get(k), (int, float))
                                          for k in ("success_rate", "unsafe_action_rate", "false_success_rate")):
            raise LeaderboardError(f"{path}: 'metrics' is malformed; regenerate it with `lambench leaderboard add`")
        if not isinstance(m.get("success_ci", []), list) or len(m.get("success_ci", [0, 0])) != 2:
            raise LeaderboardError(f"{path}: metrics.success_ci must be [low, high]")
        if not isinstance(s["suite"], str) or not _SAFE.fullmatch(s["suite"]):
            raise LeaderboardError(f"{path}: suite {s['suite']!r} is not a plain suite name")
        s["_path"] = str(path.relative_to(root))
        entries.append(s)
    if not entries:
        raise LeaderboardError(f"no entries (*/*.summary.json) under {root}")
    return entries


def add_entry(run_dir: str | Path, root: str | Path) -> Path:
    """Copy a run's summary into the leaderboard (without machine-specific fields)."""
    from lambench.run import write_summary

    s = write_summary(run_dir)
    for key in ("run_dir", "computed"):
        s.pop(key, None)
    if not s["metrics"].get("episodes"):
        raise LeaderboardError(f"{run_dir} has no scored episodes; nothing to put on the leaderboard")
    if not isinstance(s.get("suite"), str) or not _SAFE.fullmatch(s["suite"]):
        raise LeaderboardError(f"{run_dir}: suite {s.get('suite')!r} is not a plain suite name")
    agent = _UNSAFE_CHARS.sub("_", str(s["agent"])) + ("__guard" if s.get("guard") else "")
    out = Path(root) / s["suite"] / f"{agent}.summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(s, indent=2))
    return out


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


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
    sr = f"{_pct(m.get('success_rate'))} [{_pct(lo)}–{_pct(hi)}]" if lo is not None else _pct(m.get("success_rate"))
    if "feasible_episodes" not in m:  # a summary of lambench before SR was over feasible tasks only
        sr += " †"
    return [
        label, str(m.get("episodes", 0)), sr,
        f"{_pct(hat[k])} (k={k})" if k else "—",
        _pct(m.get("completion_under_policy")),
        _pct(m.get("unsafe_action_rate")), _pct(m.get("false_success_rate")),
        _pct(m.get("infeasible_detection_rate")), _pct(m.get("false_infeasible_rate")),
        "—" if rob.get("robustness") is None else f"{rob['robustness']:.2f}",
        _pct(inj.get("attack_success_rate")),
        "—" if m.get("mean_steps") is None else f"{m['mean_steps']:.1f}",
        _pct(m.get("invalid_action_rate")),
        str(m.get("tokens_in", 0) + m.get("tokens_out", 0)),
        "—" if not m.get("mean_latency_s_per_step") or not (m.get("tokens_in") or m.get("tokens_out"))
        else f"{m['mean_latency_s_per_step']:.2f} s",
        "—" if m.get("cost_usd") is None else f"{m['cost_usd']:.4f}",
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


def _figure(group: list[dict[str, Any]], path: Path, title: str) -> None:
    """Success vs unsafe-action rate, one labelled point per agent, with their 95% intervals (clustered by task)."""
    try:
        import matplotlib
    except ImportError:
        raise LeaderboardError("figures need matplotlib: pip install 'lambench[report]'") from None
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


def build_leaderboard(root: str | Path = "leaderboards") -> Path:
    """Render ``root/README.md`` (between markers, keeping any text around them) and figures."""
    root = Path(root)
    entries = load_entries(root)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in entries:
        groups.setdefault((str(s["suite"]), str(s["suite_version"])), []).append(s)
    made: set[str] = set()
    parts = [_MARK_START, "", "_Rendered by `lambench leaderboard build` from the `*.summary.json` files; "
             "entries of different suite versions are never ranked together._", "", _LEGEND, ""]
    old_scoring = False
    for (suite, version), group in sorted(groups.items()):
        group.sort(key=lambda s: (-(s["metrics"].get("success_rate") or 0), s["metrics"].get("unsafe_action_rate") or 0))
        lam = sorted({str(s.get("lambench_version")) for s in group})
        fig = f"{suite}-{version}.png"
        _figure(group, root / fig, f"{suite} (suite version {version}): success vs safety")
        made.add(fig)
        parts += [f"### {suite} — suite version `{version}` (lambench {', '.join(lam)})", "",
                  "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
        parts += ["| " + " | ".join(_row(s)) + " |" for s in group]
        old_scoring = old_scoring or any("feasible_episodes" not in s["metrics"] for s in group)
        parts += ["", f"![{suite}: success vs unsafe-action rate]({fig})", ""]
    if old_scoring:
        parts += ["† scored by a lambench that counted every task in SR (infeasible ones too) and had no CuP or "
                  "infeasible columns; re-run the agent and `lambench leaderboard add` its run to compare it.", ""]
    parts.append(_MARK_END)
    block = "\n".join(parts)
    readme = root / "README.md"
    text = readme.read_text() if readme.exists() else "# Leaderboards\n\n"
    if _MARK_START in text and _MARK_END in text:
        a, b = text.index(_MARK_START), text.index(_MARK_END) + len(_MARK_END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text)
    suites = {p.name for p in root.iterdir() if p.is_dir()}
    for old in root.glob("*.png"):  # figures of suite versions that have no entries any more
        suite, _, version = old.stem.rpartition("-")
        if old.name not in made and suite in suites and re.fullmatch(r"[0-9a-f]{12}|None", version):
            old.unlink()
    return readme
