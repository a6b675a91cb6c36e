"""A dataset's screenshots: PNG files under ``screens/`` next to the dataset file, named by their content, that
step records name relative to the file (absolute paths in memory once loaded or recorded)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["SCREENS", "copy_screenshots", "resolve_screenshots"]

SCREENS = "screens"
"""Where a dataset's screenshots are, next to the dataset file (content-addressed PNGs)."""


def resolve_screenshots(path: Path, steps: list[dict[str, Any]], lines: list[int]) -> list[str]:
    """Each step's ``observation.screenshot`` (relative to the dataset's directory) as an absolute path, checked: a
    file under that directory.  A bad one is a problem of its line (the step stays, without the image)."""
    problems = []
    base = path.parent.resolve()
    for rec, lineno in zip(steps, lines):
        shot = rec["observation"].get("screenshot")
        if not shot:
            continue
        full = (base / shot).resolve()
        if not full.is_relative_to(base) or Path(shot).is_absolute():
            problems.append(f"line {lineno}: observation.screenshot {shot!r} is not under the dataset's directory")
            rec["observation"]["screenshot"] = None
        elif not full.is_file():
            problems.append(f"line {lineno}: observation.screenshot {shot!r} is missing (copy the dataset's "
                            f"{SCREENS}/ directory along with it)")
            rec["observation"]["screenshot"] = None
        else:
            rec["observation"]["screenshot"] = str(full)
    return problems


def copy_screenshots(records: list[dict[str, Any]], dest: Path) -> dict[str, str]:
    """Copy the screenshots the records name (absolute paths, as loaded or recorded) into ``dest/screens/``; the
    relative path of each, by its source path."""
    import shutil

    out: dict[str, str] = {}
    for rec in records:
        shot = (rec.get("observation") or {}).get("screenshot")
        if not shot or shot in out or not Path(shot).is_absolute():
            continue
        rel = f"{SCREENS}/{Path(shot).name}"
        target = dest / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            shutil.copyfile(shot, tmp)
            os.replace(tmp, target)
        out[shot] = rel
    return out
