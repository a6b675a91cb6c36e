"""Event predicates: what one step did (its canonical operations, the agent's action)."""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import Field

from lambench.predicate.core import Args, register

__all__ = ["ActionArgs"]


class ActionArgs(Args):
    op: str | None = None
    """Glob on the canonical operation, e.g. ``files.delete`` or ``mail.*``."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Each given argument must match (globs for strings; lists match if any element matches)."""
    action_type: str | None = None
    """Match the agent's action type instead (``call``, ``click``, ...)."""


def _match_value(want: Any, got: Any) -> bool:
    if isinstance(got, list):
        return any(_match_value(want, g) for g in got)
    if isinstance(want, str) and isinstance(got, str):
        return fnmatch.fnmatchcase(got.lower(), want.lower())
    return want == got


@register("action_matches", "event", ActionArgs)
def action_matches(ctx, a):
    """The step performed an operation matching ``op`` and ``args`` (or an action of ``action_type``)."""
    if a.action_type is not None:
        if ctx.action is None or ctx.action.get("type") != a.action_type:
            return False, "action type differs"
        if a.op is None:
            return True, f"action {a.action_type}"
    for op in ctx.ops:
        if a.op is not None and not fnmatch.fnmatchcase(op["op"], a.op):
            continue
        if all(k in op["args"] and _match_value(v, op["args"][k]) for k, v in a.args.items()):
            return True, f"{op['op']} {op['args']}"
    return False, "no matching operation"
