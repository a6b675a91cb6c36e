"""Links into a viewer site from elsewhere (the report's per-task table, the gate's list of tasks that got worse).

A site written by ``lambench view`` carries ``lambench-view.json``: the runs it shows, by resolved path, with the id
each has in the site (``r0``, ``r1``, ...).  A link is ``index.html#`` followed by the viewer's state as URL
parameters (``run``, ``task``, ``variant``, ``cmp``, ``ep``, ...), so it opens a filtered list, a compare view or one
episode without a server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from lambench.view.episodes import ViewError

__all__ = ["MANIFEST", "ViewerSite", "read_site"]

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
