"""Run inputs as the command line gives them, and what it reads back from a finished run.

``--perturb popup,relabel+layout-shuffle`` -> :func:`perturbations`; one ``--out`` for several agents ->
:func:`run_dir_for` (one subdirectory each, named as the default run directory); the commonest infrastructure
errors of a run -> :func:`common_errors`.  A Python caller gets the same directories and messages.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from lambench.run.rundir import EPISODES, load_episodes

__all__ = ["common_errors", "perturbations", "run_dir_for"]


def perturbations(text: str) -> list[str]:
    """The perturbed variants of ``--perturb``: comma-separated names, blanks dropped.

    >>> perturbations("popup,relabel+layout-shuffle,")
    ['popup', 'relabel+layout-shuffle']
    """
    return [p for p in text.split(",") if p.strip()]


def run_dir_for(default: Path, out: str | os.PathLike[str] | None, *, several: bool) -> Path:
    """Where one agent's run goes: ``default`` without ``out``; ``out`` itself for a single agent; with several
    agents, one subdirectory of ``out`` each, named as the default (so the same command resumes each).

    >>> run_dir_for(Path("runs/s__oracle__s0"), "out", several=True).as_posix()
    'out/s__oracle__s0'
    """
    if out is None:
        return default
    return Path(out) / default.name if several else Path(out)


def common_errors(run_dir: str | os.PathLike[str], top: int = 3) -> list[tuple[int, str]]:
    """The most frequent infrastructure errors of a run's episodes (the latest record of each), first line only,
    as ``(count, message)``; none when the episodes cannot be read."""
    try:
        recs = load_episodes(Path(run_dir) / EPISODES)
    except (OSError, ValueError):
        return []
    counts = Counter((r["error"].splitlines() or [""])[0][:400] for r in recs if r.get("error"))
    return [(n, msg) for msg, n in counts.most_common(top)]
