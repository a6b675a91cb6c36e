"""Run directories read for reports: each run's config, suite version and episodes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambench.errors import LambenchError
from lambench.run.rundir import load_episodes

__all__ = ["ReportError", "Run", "read_json", "read_run", "read_runs"]


class ReportError(LambenchError, ValueError):
    """Run directories that cannot be reported: not a run directory, nothing scored, nothing to compare."""


@dataclass
class Run:
    path: Path
    config: dict[str, Any]
    suite_version: str | None
    episodes: list[dict[str, Any]]


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_run(path: str | os.PathLike[str]) -> Run:
    p = Path(path)
    make = f"make one with `lambench run --suite SUITE --agent SPEC --out {p}`"
    if not p.exists():
        raise ReportError(f"{p}: no such run directory; pass directories written by `lambench run --out DIR`")
    if p.is_file():
        inside = p.name in ("episodes.jsonl", "summary.json", "config.json")
        hint = f"; pass its directory, {p.parent}" if inside else ""
        raise ReportError(f"{p} is a file, not a run directory{hint}")
    if not (p / "episodes.jsonl").is_file():
        raise ReportError(f"{p} is not a lambench run directory: it has no episodes.jsonl; {make}")
    episodes = load_episodes(p / "episodes.jsonl")  # a damaged line raises, naming the file and line
    config = read_json(p / "config.json")
    version = config.get("suite_version") or read_json(p / "summary.json").get("suite_version")
    return Run(p, config, str(version) if version else None, episodes)


def read_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Run]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    unique: dict[Path, Path] = {}
    for p in paths:
        unique.setdefault(Path(p).resolve(), Path(p))  # the same directory twice would count its episodes twice
    if not unique:
        raise ReportError("no run directories given; pass one or more directories written by `lambench run --out DIR`")
    return [read_run(p) for p in unique.values()]
