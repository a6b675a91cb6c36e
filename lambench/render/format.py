"""Cell formatting shared by the renderers: percentages, intervals, the dash of a missing value."""

from __future__ import annotations

__all__ = ["DASH", "ci", "pct", "pct_ci"]

DASH = "—"
"""What a table shows for a value that is undefined (``None``)."""


def pct(x: float | None) -> str:
    """A rate as a percentage with one decimal (``DASH`` when undefined).

    >>> pct(0.1234), pct(None)
    ('12.3%', '—')
    """
    return DASH if x is None else f"{100 * x:.1f}%"


def ci(lo: float | None, hi: float | None, scale: float = 100.0, fmt: str = "{:.1f}") -> str:
    """An interval as `` [lo–hi]`` (scaled, percent by default); empty when a bound is undefined.

    >>> ci(0.5, 0.75)
    ' [50.0–75.0]'
    """
    if lo is None or hi is None:
        return ""
    return f" [{fmt.format(lo * scale)}–{fmt.format(hi * scale)}]"


def pct_ci(x: float | None, bounds: list[float] | None) -> str:
    """A rate and its interval: ``12.3% [5.0–20.0]`` (the rate alone when either is undefined).

    >>> pct_ci(0.5, [0.25, 0.75]), pct_ci(None, None)
    ('50.0% [25.0–75.0]', '—')
    """
    return pct(x) + (ci(bounds[0], bounds[1]) if x is not None and bounds else "")
