"""The trajectory viewer: run directories written as a self-contained static site (``lambench view``).

``build_view(run_dirs, out)`` writes ``index.html`` (every episode, with filters and a search), the episode pages
(request, each step's observation, raw output, parsed action or parse error, result, safety events, usage, the
verdict with every check and the state diff) and a compare view of runs of the same suite.  ``read_site`` lets
the report and the gate link to a site's episodes.
"""

from lambench.view.episodes import ViewError, ViewRun, episode_id, load_view_runs, pair_episodes
from lambench.view.links import MANIFEST, ViewerSite, read_site
from lambench.view.site import build_view, write_site

__all__ = ["MANIFEST", "ViewError", "ViewRun", "ViewerSite", "build_view", "episode_id", "load_view_runs",
           "pair_episodes", "read_site", "write_site"]
