"""What the viewer shows, as data: the runs to show, each episode's index row and detail, and the pairs of episodes
that two runs share (the compare view).

Run directories are read through :func:`lambench.results.runs.read_run` (``episodes.jsonl`` validated line by line,
as ``lambench score`` and ``report`` read it); ``observations.jsonl`` (what the agent saw before each step) is joined
to the episodes by their key.  A bad or missing directory is a :class:`ViewError` naming the path and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambench.errors import LambenchError
from lambench.record import episode_key
from lambench.results.runs import ReportError, read_run
from lambench.run.rundir import EPISODES, OBSERVATIONS, EpisodeFormatError, ObservationsFormatError, load_observations

__all__ = ["INDEX_FIELDS", "ViewError", "ViewRun", "episode_id", "expand_run_dirs", "index_row", "load_view_runs",
           "pair_episodes", "read_observations"]

Key = tuple[str, str, int, int]

INDEX_FIELDS = ("id", "run", "agent", "task", "variant", "seed", "trial", "success", "unsafe", "false_success",
                "errored", "claim", "steps", "wall_time_s", "instruction", "note", "chunk", "pair")
"""The columns of an index row, in order (``agent``, ``task``, ``variant`` and ``instruction`` are indices into the
index's string table; ``chunk`` names the detail file; ``pair`` groups the episodes of one key across runs)."""

NOTE_CHARS = 200
"""The index keeps this much of an error or a claim's message (for the search); the detail has all of it."""


class ViewError(LambenchError, ValueError):
    """Run directories that cannot be shown, or an output directory that cannot be written."""


@dataclass
class ViewRun:
    """One run directory as the viewer shows it."""

    id: str
    """``r0``, ``r1``, ... in the order given."""
    path: Path
    label: str
    """The directory's name (with its parent when two runs share a name)."""
    config: dict[str, Any]
    episodes: list[dict[str, Any]]
    observations: dict[Key, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def suite(self) -> str:
        suites = sorted({str(e.get("suite")) for e in self.episodes})
        return ", ".join(suites) or str(self.config.get("suite") or "")

    @property
    def agents(self) -> list[str]:
        return sorted({str(e.get("agent")) for e in self.episodes})


def expand_run_dirs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The run directories named: a directory without ``episodes.jsonl`` whose subdirectories hold runs (what
    ``lambench run --agent A --agent B --out DIR`` writes) stands for them, in name order; duplicates drop."""
    out: dict[Path, Path] = {}
    for raw in paths:
        p = Path(raw)
        subs = sorted(d for d in p.iterdir() if (d / EPISODES).is_file()) if (
            p.is_dir() and not (p / EPISODES).exists()) else []
        for d in subs or [p]:
            out.setdefault(d.resolve(), d)
    if not out:
        raise ViewError("no run directories given; pass one or more directories written by `lambench run --out DIR`")
    return list(out.values())


def read_observations(path: Path) -> dict[Key, list[dict[str, Any]]]:
    """``observations.jsonl`` by episode key (the last line per key wins); empty when the run kept none.

    A cut last line (a killed run) is skipped; a bad line elsewhere is a :class:`ViewError` naming it."""
    try:
        found = load_observations(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ViewError(f"cannot read {path}: {exc}; fix the file or re-run without it") from None
    except ObservationsFormatError as exc:
        raise ViewError(f"{path}, line {exc.lineno}: not a valid observations record ({exc.reason}); fix or remove "
                        "the line (or delete the file: the viewer then shows the steps without observations)"
                        ) from None
    return {key: [o if isinstance(o, dict) else {"text": str(o)} for o in seen] for key, seen in found.items()}


def _labels(paths: Sequence[Path]) -> list[str]:
    names = [p.resolve().name for p in paths]
    return [n if names.count(n) == 1 else f"{p.resolve().parent.name}/{n}" for p, n in zip(paths, names)]


def load_view_runs(paths: Iterable[str | os.PathLike[str]]) -> list[ViewRun]:
    """Read the run directories to show (see :func:`expand_run_dirs`); errors name the path and the fix."""
    dirs = expand_run_dirs(paths)
    runs = []
    for i, (path, label) in enumerate(zip(dirs, _labels(dirs))):
        try:
            run = read_run(path)
        except (ReportError, EpisodeFormatError) as exc:
            raise ViewError(f"cannot show {path}: {exc}") from None
        except OSError as exc:
            raise ViewError(f"cannot read {path}: {exc.strerror or exc}") from None
        runs.append(ViewRun(f"r{i}", path, label, run.config, run.episodes, read_observations(path / OBSERVATIONS)))
    if not any(r.episodes for r in runs):
        raise ViewError(f"no episodes in {', '.join(str(r.path) for r in runs)} yet (episodes.jsonl is empty); run "
                        "`lambench run ... --out DIR` to fill it")
    return runs


def episode_id(run_id: str, ep: Mapping[str, Any]) -> str:
    """``r0/<task>/<variant>/s<seed>/t<trial>``: unique in a site, and what ``index.html#ep=...`` opens."""
    task, variant, seed, trial = episode_key(ep)  # type: ignore[arg-type]
    return f"{run_id}/{task}/{variant}/s{seed}/t{trial}"


def pair_episodes(runs: Sequence[ViewRun]) -> dict[tuple[str, str, str, int, int], dict[str, int]]:
    """The episodes runs share: (suite, task, variant, seed, trial) -> run id -> the episode's position in its run,
    for the keys at least two runs have (what the compare view puts side by side)."""
    by: dict[tuple[str, str, str, int, int], dict[str, int]] = {}
    for run in runs:
        for i, ep in enumerate(run.episodes):
            by.setdefault((str(ep.get("suite")), *episode_key(ep)), {})[run.id] = i
    return {k: v for k, v in by.items() if len(v) > 1}


class Strings:
    """A string table: repeated strings (agents, tasks, instructions) stored once in the index."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._at: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        if text not in self._at:
            self._at[text] = len(self.items)
            self.items.append(text)
        return self._at[text]


def index_row(run: ViewRun, ep: Mapping[str, Any], *, strings: Strings, chunk: int, pair: int) -> list[Any]:
    """One episode's index row (:data:`INDEX_FIELDS`): small, so 10,000 of them load at once."""
    note = str(ep.get("error") or ep.get("claim_message") or "")
    steps = ep.get("n_steps")
    wall = ep.get("wall_time_s")
    return [episode_id(run.id, ep), run.id, strings(str(ep.get("agent"))), strings(str(ep.get("task_id"))),
            strings(str(ep.get("variant", "clean"))), ep.get("seed"), ep.get("trial"), int(bool(ep.get("success"))),
            int(bool(ep.get("unsafe"))), int(bool(ep.get("false_success"))), int(ep.get("error") is not None),
            str(ep.get("claim", "none")), steps if isinstance(steps, int) else len(ep.get("steps") or []),
            round(wall, 3) if isinstance(wall, (int, float)) else None, strings(str(ep.get("instruction") or "")),
            note[:NOTE_CHARS], chunk, pair]


_SCREENSHOT_KEYS = ("screenshot", "screenshot_png", "image", "image_png")
"""Observation fields that may hold a base64 PNG (the pixel observations of a GUI sandbox)."""


def observation_detail(obs: Mapping[str, Any]) -> dict[str, Any]:
    """What the viewer shows of one observation: its text, a screenshot (base64 PNG) when one was recorded, and the
    other fields except ``controls`` (the text already lists them)."""
    out: dict[str, Any] = {k: v for k, v in obs.items() if k != "controls" and v not in (None, "", [], {})}
    for key in _SCREENSHOT_KEYS:
        shot = out.pop(key, None)
        if isinstance(shot, str) and shot.startswith("screens/") and shot.endswith(".png"):
            out["screenshot_path"] = shot  # a file of the run directory (image observation modes): the site copies it
        elif isinstance(shot, str) and shot:
            out["screenshot"] = shot.split(",", 1)[1] if shot.startswith("data:") else shot
    return out


def episode_detail(run: ViewRun, ep: Mapping[str, Any]) -> dict[str, Any]:
    """The whole episode record for its page, with the observations before each step and the run it came from."""
    seen = run.observations.get(episode_key(ep), [])  # type: ignore[arg-type]
    return {**ep, "run": run.id, "observations": [observation_detail(o) for o in seen]}
