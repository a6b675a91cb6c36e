"""A dataset's screenshots: PNG files under ``screens/`` next to the dataset file, named by their content, that
step records name relative to the file (absolute paths in memory once loaded or recorded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lambench.images import SCREENS, store_png

__all__ = ["MAX_PIXELS", "SCREENS", "check_png", "copy_screenshots", "resolve_screenshots"]

MAX_PIXELS = 16_000_000
"""A screenshot larger than this (width x height) is refused: decoding it would take gigabytes."""


def check_png(path: Path) -> str | None:
    """Why the file is not a usable screenshot (not a PNG, too large), or None: read from its header only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                return f"is a {im.format} image, not a PNG"
            if im.width * im.height > MAX_PIXELS:
                return f"is {im.width}x{im.height} pixels, more than the {MAX_PIXELS:,} a screenshot may have"
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return f"is not a readable PNG ({type(exc).__name__})"
    return None


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
        why = None
        if not full.is_relative_to(base) or Path(shot).is_absolute():
            why = "is not under the dataset's directory"
        elif not full.is_file():
            why = f"is missing (copy the dataset's {SCREENS}/ directory along with it)"
        else:
            why = check_png(full)
        if why is not None:
            problems.append(f"line {lineno}: observation.screenshot {shot!r} {why}")
            rec["observation"]["screenshot"] = None
        else:
            rec["observation"]["screenshot"] = str(full)
    return problems


def copy_screenshots(records: list[dict[str, Any]], dest: Path) -> dict[str, str]:
    """Copy the screenshots the records name (absolute paths, as loaded or recorded) into ``dest/screens/``; the
    relative path of each, by its source path."""
    out: dict[str, str] = {}
    for rec in records:
        shot = (rec.get("observation") or {}).get("screenshot")
        if not shot or shot in out or not Path(shot).is_absolute():
            continue
        out[shot] = store_png(dest, Path(shot).read_bytes())  # named by content, whatever its name was
    return out
