"""Coordinate answers in the forms computer-use models give them, as action objects (dicts for
:func:`lambench.action.parse_action` to validate): ``click(120, 340)``, ``click(x=120, y=340)``,
``double_click(...)``, ``scroll(x, y, "down")``, and a bare ``{"x": 120, "y": 340}``."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["bare_point", "point_call"]

_NUM = r"(-?\d+(?:\.\d+)?)"
_POINT_CALL = re.compile(
    r"\s*`{0,3}\s*(click|double_click|left_click|left_double|scroll)\s*\(\s*"
    r"(?:x\s*=\s*)?" + _NUM + r"\s*,\s*(?:y\s*=\s*)?" + _NUM
    + r"(?:\s*,\s*(?:direction\s*=\s*)?['\"]?(up|down)['\"]?)?\s*\)\s*`{0,3}\s*", re.IGNORECASE)
"""``click(120, 340)``, ``click(x=120, y=340)``, ``double_click(...)``, ``scroll(x, y, "down")``: the call notation
computer-use models answer with."""


def point_call(text: str) -> dict[str, Any] | None:
    m = _POINT_CALL.fullmatch(text)
    if m is None:
        return None
    name = m.group(1).lower()
    kind = {"left_click": "click", "left_double": "double_click"}.get(name, name)
    try:
        act: dict[str, Any] = {"type": kind, "x": round(float(m.group(2))), "y": round(float(m.group(3)))}
    except OverflowError:  # hundreds of digits
        return None
    if kind == "scroll":
        act["direction"] = (m.group(4) or "down").lower()
    elif m.group(4):
        return None
    return act


def bare_point(obj: dict[str, Any]) -> dict[str, Any] | None:
    """``{"x": 120, "y": 340}`` (optionally with ``"action": "click"``): a click at that point."""
    if not {"x", "y"} <= obj.keys() or not obj.keys() <= {"x", "y", "action"}:
        return None
    kind = obj.get("action", "click")
    if kind not in ("click", "double_click") or not all(
            isinstance(obj[k], (int, float)) and not isinstance(obj[k], bool) for k in ("x", "y")):
        return None
    try:
        return {"type": kind, "x": round(obj["x"]), "y": round(obj["y"])}
    except (OverflowError, ValueError):  # inf, nan
        return None
