"""A report's numbers as data: agents pooled per (suite, suite version), ranked, with the notes a reader
needs, and offline replays per dataset.

Agents are ranked only against agents that ran the same suite *version* (a content hash of the
task files): once a task changes, old and new numbers measure different things.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambench.metrics.episode import compute_metrics, injection_metrics, robustness
from lambench.metrics.replay import replay_summary
from lambench.record import episode_key
from lambench.results.runs import ReportError, Run

__all__ = ["Entry", "Group", "ReplaySection", "agent_label", "build_entries", "check_comparable", "group_notes",
           "rank_groups", "replay_sections"]


@dataclass
class Entry:
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
class Group:
    suite: str
    version: str | None
    entries: list[Entry]
    k: int | None = None
    """The pass^k column's k: the largest k every ranked agent has."""

    @property
    def title(self) -> str:
        return f"{self.suite} (suite version {self.version or 'unknown'})"


def agent_label(ep: Mapping[str, Any]) -> str:
    mode = ep.get("observation") or "text"
    return str(ep.get("agent")) + (" +guard" if ep.get("guard") else "") + ("" if mode == "text" else f" [{mode}]")


def build_entries(runs: Sequence[Run]) -> list[Entry]:
    """Pool the episodes of an agent on a suite version; runs that overlap stay apart."""
    parts: dict[tuple[str, str, str | None], dict[Path, list[dict[str, Any]]]] = defaultdict(dict)
    for run in runs:
        for ep in run.episodes:
            key = (agent_label(ep), str(ep.get("suite")), run.suite_version)
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
                entries.append(Entry(f"{label} [{where}]", suite, version, eps, [path]))
        else:
            entries.append(Entry(label, suite, version, [e for eps in by_run.values() for e in eps], list(by_run)))
    for e in entries:
        e.metrics = compute_metrics(e.clean)
        e.robustness = robustness(e.scored)
        e.injection = injection_metrics(e.scored)
        e.errored = len(e.episodes) - len(e.scored)
    return entries


def _rank_key(e: Entry) -> tuple[Any, ...]:
    m = e.metrics
    sr = m["success_rate"]
    return (sr is None, -(sr or 0.0), m["unsafe_action_rate"] or 0.0, e.label)


def rank_groups(entries: Sequence[Entry]) -> list[Group]:
    by: dict[tuple[str, str | None], list[Entry]] = defaultdict(list)
    for e in entries:
        by[(e.suite, e.version)].append(e)
    groups = []
    for (suite, version), members in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        members.sort(key=_rank_key)
        ks = [{int(k) for k in e.metrics["pass_hat_k"]} for e in members if e.metrics["episodes"]]
        common = set.intersection(*ks) if ks else set()
        groups.append(Group(suite, version, members, max(common) if common else None))
    return groups


def check_comparable(runs: Sequence[Run]) -> None:
    """Several runs must share something: an agent, or a suite version with a task in common."""
    info = []
    for r in runs:
        scored = [e for e in r.episodes if e.get("error") is None]
        if not scored:  # a run that only errored is reported as such, not as unrelated
            continue
        agents = {agent_label(e) for e in scored}
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
    raise ReportError(
        f"nothing to compare: these {len(info)} runs share no agent and no task of the same suite version "
        f"({described}). Runs of different suite versions are never ranked together; re-run the agents on the "
        "current suite (`lambench run --suite SUITE --agent SPEC --out NEW_DIR`) or report each run on its own.")


def group_notes(groups: Sequence[Group]) -> list[str]:
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


@dataclass
class ReplaySection:
    dataset: str
    version: str | None
    rows: list[tuple[str, dict[str, Any]]]

    @property
    def title(self) -> str:
        return f"Offline replay: {self.dataset} (dataset version {self.version or 'unknown'})"


def replay_sections(runs: Sequence[Run]) -> list[ReplaySection]:
    sections: dict[tuple[str, str | None], ReplaySection] = {}
    for r in runs:
        key = (str(r.config.get("suite") or "dataset"), r.suite_version)
        sec = sections.setdefault(key, ReplaySection(key[0], key[1], []))
        sec.rows.append((agent_label({"agent": r.config.get("agent")}), replay_summary(r.episodes)))
    for sec in sections.values():
        sec.rows.sort(key=lambda row: -(row[1].get("step_success_rate") or 0.0))
    return list(sections.values())
