"""Screenshots as bytes and files: PNG for model requests, and the content-addressed ``screens/`` folder that run
directories, datasets, SFT exports and viewer sites all keep them in."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path
from typing import Any

__all__ = ["SCREENS", "file_inside", "png_base64", "png_bytes", "store_png"]

SCREENS = "screens"
"""The folder of screenshots next to what names them, each named by its content."""


def png_bytes(image: Any) -> bytes:
    """An RGB ``uint8`` array (height, width, 3) as PNG bytes (fast compression: screens are flat colours and
    text, ~40 KB for the mock OS's 1024x768)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_base64(image: Any) -> str:
    """An RGB array as base64 PNG text (what image parts of model requests carry)."""
    return base64.b64encode(png_bytes(image)).decode("ascii")


def store_png(directory: Path, png: bytes) -> str:
    """Keep ``png`` as ``directory/screens/<content hash>.png`` (the same picture is stored once, and two pictures
    never share a name); its path relative to ``directory``.  Written atomically: a kill leaves no half file under
    the final name."""
    rel = f"{SCREENS}/{hashlib.sha256(png).hexdigest()[:24]}.png"
    path = Path(directory) / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_bytes(png)
        os.replace(tmp, path)
    return rel


def file_inside(base: Path, rel: str) -> Path | None:
    """``base / rel`` when it is a file inside ``base`` (symbolic links resolved), else None."""
    base = Path(base).resolve()
    if Path(rel).is_absolute():
        return None
    full = (base / rel).resolve()
    return full if full.is_relative_to(base) and full.is_file() else None
