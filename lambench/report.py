"""Reports: run directories rendered as a leaderboard with figures (Markdown, HTML, PNG).

``build_report`` reads the runs (:mod:`lambench.results.runs`), pools and ranks them per suite
version (:mod:`lambench.results.board`) and writes ``index.md``, a self-contained ``index.html``
(inline CSS, figures as ``data:`` URIs, nothing fetched) and the PNG figures (:mod:`lambench.render`).
Every number comes from :mod:`lambench.metrics`, so a report agrees with ``summary.json`` and
``lambench score``.  The pandas API (``load_runs``, ``summarize``) lives in :mod:`lambench.results`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lambench.render.cells import FIGURES
from lambench.render.figures import draw_report_figures, mpl
from lambench.render.html import report_html
from lambench.render.markdown import report_markdown
from lambench.results.board import build_entries, check_comparable, group_notes, rank_groups, replay_sections
from lambench.results.runs import ReportError, read_runs
from lambench.view.links import read_site, task_grids

__all__ = ["FIGURES", "build_report"]


def build_report(run_dirs: Iterable[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *,
                 title: str = "lambench report", viewer: str | os.PathLike[str] | None = None) -> Path:
    """Write ``index.md``, ``index.html`` and the figures of ``FIGURES`` into ``out_dir``; return index.html.

    One leaderboard per (suite, suite version), agents ranked by success rate.  Raises
    :class:`~lambench.results.runs.ReportError` (a ``LambenchError`` and ``ValueError``) for a path that is not a run directory, runs without any scored episode, and
    several runs that share neither an agent nor a task of the same suite version.  With ``viewer`` (a site
    written by ``lambench view``), ``index.html`` also has a table of success per task and agent whose cells link
    to those episodes in the viewer (relative links; a ``ViewError`` when ``viewer`` is not a site).
    """
    mpl()  # fail before writing anything when matplotlib is missing
    site = read_site(viewer) if viewer is not None else None
    runs = read_runs(run_dirs)
    n_scored = sum(1 for r in runs for e in r.episodes if e.get("error") is None)
    if not n_scored:
        n_all = sum(len(r.episodes) for r in runs)
        where = ", ".join(str(r.path) for r in runs)
        if n_all:
            raise ReportError(f"no scored episodes in {where}: all {n_all} episode(s) hit infrastructure errors "
                             "(see the `error` field of episodes.jsonl); fix the cause and re-run the same "
                             "`lambench run` command, which retries only what is missing")
        raise ReportError(f"no episodes in {where} yet (episodes.jsonl is empty); run `lambench run ... --out DIR` "
                         "to fill it (the same command resumes an interrupted run)")
    replay_runs = [r for r in runs if r.config.get("kind") == "replay"]
    runs_live = [r for r in runs if r.config.get("kind") != "replay"]
    if runs_live:
        check_comparable(runs_live)
    groups = rank_groups(build_entries(runs_live)) if runs_live else []
    notes = group_notes(groups)
    replays = replay_sections(replay_runs)

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {out} is a file; give a directory for the report")
    out.mkdir(parents=True, exist_ok=True)
    ranked = [g for g in groups if any(e.metrics["episodes"] for e in g.entries)]
    pngs, skipped = draw_report_figures(ranked, out)
    (out / "index.md").write_text(report_markdown(groups, runs, notes, list(pngs), skipped, title, replays),
                                  encoding="utf-8")
    index = out / "index.html"
    grids = task_grids(ranked, site, out) if site is not None else []
    index.write_text(report_html(groups, runs, notes, pngs, skipped, title, replays, grids), encoding="utf-8")
    return index
