"""Links into a viewer site from elsewhere (the report's per-task table, the gate's list of tasks that got worse).

A site written by ``lambench view`` carries ``lambench-view.json``: the runs it shows, by resolved path, with the id
each has in the site (``r0``, ``r1``, ...).  A link is ``index.html#`` followed by the viewer's state as URL
parameters (``run``, ``task``, ``variant``, ``cmp``, ``ep``, ...), so it opens a filtered list, a compare view or one
episode without a server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

from lambench.results.board import Group
from lambench.view.episodes import ViewError

__all__ = ["MANIFEST", "TaskCell", "TaskGrid", "ViewerSite", "read_site", "task_grids"]

MANIFEST = "lambench-view.json"
"""The file that makes a directory a viewer site (and says which runs it shows)."""


@dataclass
class ViewerSite:
    """A written viewer site, as a link maker needs it."""

    path: Path
    runs: dict[Path, str]
    """Resolved run directory -> its id in the site."""

    def run_ids(self, paths: Iterable[str | os.PathLike[str]]) -> list[str]:
        """The site's ids of the run directories given (a ``summary.json`` stands for its directory); the ones the
        site does not show are left out."""
        out = []
        for p in paths:
            p = Path(p)
            rid = self.runs.get((p.parent if p.is_file() else p).resolve())
            if rid is not None and rid not in out:
                out.append(rid)
        return out

    def href(self, base: str, **state: str) -> str:
        """``base`` + ``index.html#`` + the state (empty values dropped); ``base`` is the site's location as seen
        from where the link is written (a relative path ending in ``/``, or ``""``)."""
        params = {k: v for k, v in state.items() if v}
        return f"{base}index.html#{urlencode(params, quote_via=quote, safe='/,@')}"

    def gate_links(self, base: str, baseline: str | os.PathLike[str], candidate: str | os.PathLike[str],
                   tasks: Iterable[str]) -> dict[str, str]:
        """Task -> link for the gate's tasks that got worse: the compare view of that task when the site shows both
        runs, else the candidate's episodes of it (else every run's)."""
        both = self.run_ids([baseline, candidate])
        cand = self.run_ids([candidate])
        if len(both) == 2:
            return {t: self.href(base, cmp=",".join(both), task=t) for t in tasks}
        return {t: self.href(base, run=",".join(cand), task=t) for t in tasks}

    def relative_base(self, page_dir: str | os.PathLike[str]) -> str:
        """The site's location relative to a page written in ``page_dir`` (forward slashes, ending in ``/``)."""
        rel = os.path.relpath(self.path.resolve(), Path(page_dir).resolve())
        return "" if rel == "." else Path(rel).as_posix() + "/"


def read_site(path: str | os.PathLike[str]) -> ViewerSite:
    """The viewer site in ``path``; a :class:`~lambench.view.episodes.ViewError` naming the fix when it is none."""
    p = Path(path)
    fix = f"write one with `lambench view RUN_DIR... --out {p}` first"
    try:
        data = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
        runs = {Path(r["path"]).resolve(): str(r["id"]) for r in data["runs"]}
    except FileNotFoundError:
        raise ViewError(f"--viewer {p} is not a lambench viewer site (no {MANIFEST}); {fix}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ViewError(f"--viewer {p}: cannot read {MANIFEST} ({exc}); {fix}") from None
    return ViewerSite(p, runs)


@dataclass
class TaskCell:
    """One agent's scored clean episodes of one task, and where the viewer shows them."""

    successes: int
    episodes: int
    href: str

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0


@dataclass
class TaskGrid:
    """Success per task and agent of one leaderboard (the report's task heatmap), with links to the episodes."""

    title: str
    labels: list[str]
    rows: list[tuple[str, list[TaskCell | None]]] = field(default_factory=list)


def task_grids(groups: Sequence[Group], site: ViewerSite, page_dir: str | os.PathLike[str]) -> list[TaskGrid]:
    """Per leaderboard, each task's success per agent on the clean variant (infrastructure errors left out), each
    cell linking to those episodes in ``site`` as seen from a page written in ``page_dir``."""
    base = site.relative_base(page_dir)
    grids = []
    for g in groups:
        grid = TaskGrid(g.title, [e.label for e in g.entries])
        cells: dict[str, list[TaskCell | None]] = {}
        for col, e in enumerate(g.entries):
            scored = [ep for ep in e.clean if ep.get("error") is None]
            clean = any(ep.get("variant", "clean") == "clean" for ep in scored)
            ids = ",".join(site.run_ids(e.run_dirs))
            agent = "" if ids or not scored else str(scored[0].get("agent"))
            for ep in scored:
                task = str(ep["task_id"])
                row = cells.setdefault(task, [None] * len(g.entries))
                if row[col] is None:
                    row[col] = TaskCell(0, 0, site.href(base, run=ids, agent=agent, task=task,
                                                        variant="clean" if clean else ""))
                row[col].episodes += 1
                row[col].successes += bool(ep.get("success"))
        grid.rows = sorted(cells.items())
        grids.append(grid)
    return grids
