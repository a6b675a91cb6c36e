"""Renderers: results and metrics as terminal tables, Markdown, HTML, figures and JUnit XML.

Nothing here computes a metric; every number comes from :mod:`lambench.metrics` and
:mod:`lambench.results`.

- :mod:`lambench.render.terminal`: rich tables of run, safety/robustness and replay metrics;
- :mod:`lambench.render.markdown`: the report's ``index.md``, the gate's verdict, the leaderboard tables;
- :mod:`lambench.render.html` (with :mod:`lambench.render.css`): the report's self-contained ``index.html``;
- :mod:`lambench.render.figures`: the report's and the leaderboard's PNG figures (matplotlib on first use);
- :mod:`lambench.render.junit`: the gate as JUnit XML;
- :mod:`lambench.render.cells` and :mod:`lambench.render.format`: cells and texts the renderers share.
"""
