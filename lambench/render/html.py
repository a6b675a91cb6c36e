"""The report's self-contained ``index.html``: inline CSS, figures as ``data:`` URIs, nothing fetched."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

from lambench import __version__
from lambench.render.cells import (CAPTIONS, DEFINITIONS, FIGURES, INTRO, REPLAY_COLUMNS, REPLAY_INTRO, columns,
                                   confusion_grid, replay_cells, row_cells)
from lambench.render.css import REPORT_CSS
from lambench.results.board import Group, ReplaySection
from lambench.results.runs import Run
from lambench.view.links import TaskGrid

__all__ = ["report_html", "task_grid_html"]


def report_html(groups: Sequence[Group], runs: Sequence[Run], notes: Sequence[str], pngs: Mapping[str, bytes],
          skipped: Mapping[str, str], title: str, replays: Sequence[ReplaySection] = (),
          task_grids: Sequence[TaskGrid] = ()) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             '<link rel="icon" href="data:,">',  # no favicon request
             f"<title>{esc(title)}</title>", f"<style>{REPORT_CSS}</style>", "</head>", "<body>", "<main>",
             f"<h1>{esc(title)}</h1>"]
    if groups or not replays:
        parts.append(f'<p class="intro">{esc(INTRO)}</p>')
    parts.append('<ul class="runs">')
    parts += [f"<li>run <code>{esc(str(r.path))}</code>: {len(r.episodes)} episode(s), suite version "
              f"{esc(r.suite_version or 'unknown')}</li>" for r in runs]
    parts.append("</ul>")
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    for g in groups:
        cols = columns(g.k)
        parts += [f'<section class="group" data-suite="{esc(g.suite)}" data-suite-version="{esc(g.version or "")}">',
                  f"<h2>Leaderboard: {esc(g.title)}</h2>", '<div class="table-wrap"><table class="leaderboard">',
                  "<thead><tr>" + "".join(f'<th class="{key}" scope="col">{esc(h)}</th>' for key, h in cols)
                  + "</tr></thead>", "<tbody>"]
        for rank, e in enumerate(g.entries, start=1):
            cells = {**row_cells(e, g.k), "rank": str(rank)}
            parts.append("<tr>" + "".join(f'<td class="{key}">{esc(cells[key])}</td>' for key, _ in cols) + "</tr>")
        parts += ["</tbody></table></div>", "</section>"]
    for sec in replays:
        parts += [f'<section class="replay" data-dataset="{esc(sec.dataset)}">', f"<h2>{esc(sec.title)}</h2>",
                  f"<p>{esc(REPLAY_INTRO)}</p>", '<div class="table-wrap"><table class="replay">',
                  "<thead><tr>" + "".join(f'<th class="{key}" scope="col">{esc(h)}</th>' for key, h in REPLAY_COLUMNS)
                  + "</tr></thead>", "<tbody>"]
        for label, m in sec.rows:
            cells = replay_cells(label, m)
            parts.append("<tr>" + "".join(f'<td class="{key}">{esc(cells[key])}</td>' for key, _ in REPLAY_COLUMNS)
                         + "</tr>")
        parts += ["</tbody></table></div>"]
        for label, m in sec.rows:
            head, rows = confusion_grid(m.get("confusion") or {})
            parts += [f"<h3>Action types of {esc(label)} (steps; gold — the acceptable action nearest the prediction — down, predicted across)</h3>",
                      '<div class="table-wrap"><table class="confusion"><thead><tr>'
                      + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
            parts += ["<tr>" + "".join(f'<td{" class=agent" if i == 0 else ""}>{esc(c)}</td>' for i, c in enumerate(r))
                      + "</tr>" for r in rows]
            parts.append("</tbody></table></div>")
        parts.append("</section>")
    parts += task_grid_html(task_grids)
    parts.append("<section><h2>Figures</h2>")
    for name, data in pngs.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        parts += [f'<figure id="{esc(name.removesuffix(".png"))}"><h3>{esc(FIGURES[name])}</h3>',
                  f'<img src="{uri}" alt="{esc(FIGURES[name])}" data-file="{esc(name)}">',
                  f"<figcaption>{esc(CAPTIONS[name])}</figcaption></figure>"]
    parts += [f"<p><code>{esc(name)}</code> is not drawn: {esc(why)}.</p>" for name, why in skipped.items()]
    parts.append("</section><section><h2>Definitions</h2><dl>")
    parts += [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in DEFINITIONS]
    parts += ["</dl></section>",
              f"<footer>Made by lambench {esc(__version__)} (<code>lambench report</code>).</footer>",
              "</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def task_grid_html(grids: Sequence[TaskGrid]) -> list[str]:
    """The task heatmap as a table whose cells link to the episodes in the viewer (``lambench report --viewer``)."""
    esc = html.escape
    parts = []
    for g in grids:
        parts += [f'<section class="task-grid"><h2>Success per task: {esc(g.title)}</h2>',
                  "<p>Clean episodes without infrastructure errors; a cell opens its episodes in the viewer.</p>",
                  '<div class="table-wrap"><table class="task-grid"><thead><tr><th scope="col">task</th>'
                  + "".join(f'<th scope="col">{esc(label)}</th>' for label in g.labels) + "</tr></thead><tbody>"]
        for task, cells in g.rows:
            tds = []
            for c in cells:
                if c is None:
                    tds.append('<td class="none">—</td>')
                    continue
                hue = round(120 * c.rate)  # red (0%) to green (100%), as the PNG heatmap
                tds.append(f'<td style="background:hsl({hue},70%,85%)"><a href="{esc(c.href)}">'
                           f"{100 * c.rate:.0f}% ({c.successes}/{c.episodes})</a></td>")
            parts.append(f'<tr><th scope="row" class="task">{esc(task)}</th>{"".join(tds)}</tr>')
        parts.append("</tbody></table></div></section>")
    return parts
