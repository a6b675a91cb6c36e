"""``build_view``: run directories written as a self-contained static site.

The site needs no server and fetches nothing outside itself: ``index.html`` loads ``assets/viewer.css``,
``assets/viewer.js`` and ``data/index.js`` (one compact row per episode), and the viewer adds a ``<script src>`` for
``data/c<N>.js`` when an episode of that chunk is opened (``fetch`` of ``file://`` URLs is blocked by browsers; a
script tag works from ``file://`` and over HTTP alike).  Each data file calls ``LAMBENCH_VIEW.index(...)`` or
``LAMBENCH_VIEW.chunk(N, ...)`` with JSON whose ``<``, ``>`` and ``&`` are escaped, so no text a model wrote can end
a script or open a tag; the page puts all text in with ``textContent``.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from lambench import __version__
from lambench.view.episodes import (
    INDEX_FIELDS,
    Strings,
    ViewError,
    ViewRun,
    episode_detail,
    episode_id,
    index_row,
    load_view_runs,
    pair_episodes,
)
from lambench.view.links import MANIFEST

__all__ = ["ASSETS", "CHUNK_BYTES", "build_view", "js_call", "write_site"]

ASSETS = ("viewer.css", "viewer.js")
"""The files of ``lambench/view/assets`` copied into every site."""

CHUNK_BYTES = 256 * 1024
"""A detail file holds episodes (of one run) until it reaches about this size: opening one episode loads one file."""

_OWNED = ("index.html", MANIFEST, "assets", "data", "screens")
"""What a site consists of (replaced when ``--out`` already holds a site)."""


def js_call(function: str, *args: Any) -> str:
    """``LAMBENCH_VIEW.<function>(<args as JSON>);`` with ``<``, ``>``, ``&`` and every non-ASCII character
    escaped: the file stays a valid script whatever the strings hold (``</script>``, ``<!--``, U+2028).

    >>> js_call("chunk", 3, {"raw": "</script><b>"})
    'LAMBENCH_VIEW.chunk(3,{"raw":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"});\\n'
    """
    return f"LAMBENCH_VIEW.{function}({','.join(_json(a) for a in args)});\n"


def _prepare_out(out: Path) -> None:
    """An empty (or new) directory, or a site written before (its files are replaced); anything else is refused."""
    if out.exists() and not out.is_dir():
        raise ViewError(f"--out {out} is a file; give a directory for the viewer site")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MANIFEST).is_file():
            raise ViewError(f"--out {out} is not empty and holds no viewer site ({MANIFEST}); give a new or empty "
                            "directory (lambench view replaces only a site it wrote)")
        for name in _OWNED:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "assets").mkdir(exist_ok=True)


def _page(title: str) -> str:
    esc = html.escape(title)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{esc}</title>
<link rel="stylesheet" href="assets/viewer.css">
</head>
<body>
<header class="top"><h1><a href="#" id="home">{esc}</a></h1><nav id="nav"></nav></header>
<main id="app"><p class="loading">Loading episodes…</p></main>
<noscript><p>The lambench viewer needs JavaScript (nothing is fetched from outside this directory).</p></noscript>
<script src="assets/viewer.js"></script>
<script src="data/index.js"></script>
<footer>Made by lambench {html.escape(__version__)} (<code>lambench view</code>).</footer>
</body>
</html>
"""


class _Chunks:
    """Writes the detail files ``data/c<N>.js``, one after another, each about :data:`CHUNK_BYTES`."""

    def __init__(self, data: Path) -> None:
        self.data, self.n, self.parts, self.size = data, 0, [], 0

    def add(self, key: str, detail: dict[str, Any]) -> int:
        """Queue an episode's detail; return the number of the file it goes into."""
        item = _json(key) + ":" + _json(detail)
        self.parts.append(item)
        self.size += len(item)
        n = self.n
        if self.size >= CHUNK_BYTES:
            self.flush()
        return n

    def flush(self) -> None:
        if self.parts:
            (self.data / f"c{self.n}.js").write_text(f"LAMBENCH_VIEW.chunk({self.n},{{{','.join(self.parts)}}});\n",
                                                     encoding="ascii")
            self.n, self.parts, self.size = self.n + 1, [], 0


def _write_chunks(runs: list[ViewRun], data: Path, pairs: dict[tuple[str, int], int]
                  ) -> tuple[list[list[Any]], Strings, int]:
    """Write the detail files (a file holds episodes of one run); return the index rows, their string table and
    the number of files."""
    strings, rows, chunks = Strings(), [], _Chunks(data)
    for run in runs:
        for i, ep in enumerate(run.episodes):
            detail = episode_detail(run, ep)
            for obs in detail["observations"]:
                if "screenshot_path" in obs:
                    url = _copy_screen(run.path, obs.pop("screenshot_path"), data.parent)
                    if url is not None:
                        obs["screenshot_url"] = url
            chunk = chunks.add(episode_id(run.id, ep), detail)
            rows.append(index_row(run, ep, strings=strings, chunk=chunk, pair=pairs.get((run.id, i), -1)))
        chunks.flush()
    return rows, strings, chunks.n


def _copy_screen(run_dir: Path, rel: str, out: Path) -> str | None:
    """Copy a screenshot of the run directory (``screens/<hash>.png``) into the site; its URL there, None when the
    file is not in the run directory (the step is then shown without it)."""
    from lambench.images import file_inside, store_png

    src = file_inside(run_dir, rel)
    return None if src is None else store_png(out, src.read_bytes())  # named by content: runs never collide


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=repr)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_site(runs: list[ViewRun], out: str | os.PathLike[str], *, title: str = "lambench episodes") -> Path:
    """Write the site of ``runs`` into ``out``; return its ``index.html``."""
    out = Path(out)
    _prepare_out(out)
    pair_ids: dict[tuple[str, int], int] = {}
    for n, members in enumerate(pair_episodes(runs).values()):
        for run_id, i in members.items():
            pair_ids[(run_id, i)] = n
    rows, strings, n_chunks = _write_chunks(runs, out / "data", pair_ids)
    meta = [{"id": r.id, "label": r.label, "path": str(r.path), "suite": r.suite, "agents": r.agents,
             "suite_version": r.config.get("suite_version"), "episodes": len(r.episodes)} for r in runs]
    index = {"version": __version__, "title": title, "fields": list(INDEX_FIELDS), "strings": strings.items,
             "runs": meta, "rows": rows, "chunks": n_chunks}
    (out / "data" / "index.js").write_text(js_call("index", index), encoding="ascii")
    assets = resources.files("lambench.view") / "assets"
    for name in ASSETS:
        (out / "assets" / name).write_bytes((assets / name).read_bytes())
    manifest = {"lambench_view": 1, "version": __version__, "episodes": len(rows),
                "runs": [{**m, "path": str(r.path.resolve())} for m, r in zip(meta, runs)]}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    page = out / "index.html"
    page.write_text(_page(title), encoding="utf-8")
    return page


def build_view(run_dirs: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str], *,
               title: str = "lambench episodes") -> Path:
    """Read the run directories and write their viewer site into ``out``; return its ``index.html``.

    Raises :class:`~lambench.view.episodes.ViewError` (a ``LambenchError``) for a path that is not a run directory,
    a damaged ``episodes.jsonl`` or ``observations.jsonl``, runs without episodes, and an ``out`` that is a file or a
    non-empty directory other than a site written before.
    """
    runs = load_view_runs(run_dirs)
    try:
        return write_site(runs, out, title=title)
    except OSError as exc:
        raise ViewError(f"cannot write the viewer site into {out}: {exc.strerror or exc}") from None
