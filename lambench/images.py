"""Screenshots as bytes: PNG for the run directory and for model requests."""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = ["png_base64", "png_bytes"]


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
