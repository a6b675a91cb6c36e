"""What the importers share: the result, the skip signal, field helpers, and records built from steps."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambench.action import parse_action
from lambench.replay.dataset import validate_step
from lambench.replay.importers.sources import read_objects

__all__ = ["MAX_NAME", "ImportResult", "RecordKinds", "Skip", "Step", "add_trajectory", "as_action", "as_text", "dig",
           "label_key", "maybe_json", "render_controls", "run_importer", "sort_objects", "step_records",
           "unique_trajectory_id"]

MAX_NAME = 200
"""The longest control name kept, in characters."""


@dataclass
class ImportResult:
    """What an importer made of a source."""

    records: list[dict[str, Any]] = field(default_factory=list)
    """Valid step records: trajectories in source order, steps in order."""
    trajectories: int = 0
    skipped: list[str] = field(default_factory=list)
    """Why trajectories, steps or lines were left out; each names the file (and line or item)."""


class Skip(Exception):
    """A trajectory (or line) that cannot be imported; the message says why."""


def maybe_json(value: Any) -> Any:
    """A value that may be given as a JSON string (the flattened Mind2Web release does that)."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def dig(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def as_text(value: Any) -> str:
    """A string field, stripped; numbers become strings, anything else ''."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, str)):
        return str(value).strip()
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else str(value)
    return ""


def label_key(label: str) -> tuple[int, int, str]:
    return (0, int(label), "") if label.isdigit() else (1, 0, label)


def unique_trajectory_id(base: str, stem: str, used: set[str]) -> str:
    tid = base
    if tid in used:
        tid = f"{base}:{stem}"
        n = 2
        while tid in used:
            tid = f"{base}:{stem}#{n}"
            n += 1
    used.add(tid)
    return tid


def as_action(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The action normalised (defaults filled), or None when it does not parse."""
    res = parse_action(obj)
    return res.action.model_dump() if res.valid else None


@dataclass
class Step:
    observation: dict[str, Any]
    action: dict[str, Any]
    alternatives: list[dict[str, Any]]
    status: str
    meta: dict[str, Any]


def render_controls(controls: list[dict[str, Any]]) -> list[str]:
    return [f'[{c["label"]}] ' + (f'{c["role"]} ' if c.get("role") else "") + f'"{c["name"]}"' for c in controls]


def step_records(dataset: str, trajectory_id: str, task_id: str, request: str, steps: list[Step]) -> list[dict[str, Any]]:
    """Step records of one trajectory; raise :class:`Skip` if any does not validate."""
    records: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for i, st in enumerate(steps):
        alts: list[dict[str, Any]] = []
        for a in st.alternatives:
            if a != st.action and a not in alts:
                alts.append(a)
        rec = {
            "dataset": dataset, "trajectory_id": trajectory_id, "task_id": task_id, "suite": None,
            "variant": "clean", "request": request, "step": i, "n_steps": len(steps),
            "observation": st.observation, "history": copy.deepcopy(history),
            "gold": {"action": st.action, "alternatives": alts, "status": st.status}, "meta": st.meta,
        }
        problems = validate_step(rec)
        if problems:
            raise Skip(f"step {i} is not a valid record ({'; '.join(problems[:2])})")
        records.append(rec)
        history.append(copy.deepcopy(st.action))
    return records


def run_importer(files: list[Path], convert: Callable[[Path, list[tuple[str, Any]], ImportResult, set[str]], None]
         ) -> ImportResult:
    result = ImportResult()
    used: set[str] = set()
    for path in files:
        objects = read_objects(path, result.skipped)
        if objects:
            convert(path, objects, result, used)
    return result


def add_trajectory(result: ImportResult, where: str, build: Callable[[], list[dict[str, Any]]]) -> None:
    """Build one trajectory's records; a failure is a skipped trajectory, never a crash."""
    try:
        records = build()
    except Skip as exc:
        result.skipped.append(f"{where}: {exc}")
        return
    except Exception as exc:  # noqa: BLE001  (hostile input of a kind not foreseen: skip it, say what happened)
        result.skipped.append(f"{where}: cannot be imported ({type(exc).__name__}: {exc})")
        return
    result.records.extend(records)
    result.trajectories += 1


@dataclass(frozen=True)
class RecordKinds:
    """How a format's objects are told apart: a whole trajectory in one record, or one line per step."""

    whole: str
    """The key a whole record has."""
    whole_id: str
    """Its id, named in messages."""
    line: tuple[str, ...]
    """The keys a step line has."""
    group_id: str
    """The key the lines of one trajectory share."""
    group_label: str
    """How a group is named in messages."""
    neither: str
    """What anything else is not (``{kind}``: its JSON type)."""


def sort_objects(path: Path, objects: list[tuple[str, Any]], result: ImportResult, kinds: RecordKinds,
                 whole: Callable[[dict[str, Any]], list[dict[str, Any]]],
                 group: Callable[[str, list[tuple[str, dict[str, Any]]]], list[dict[str, Any]]]) -> None:
    """One trajectory from each whole record (``whole``) and each group of step lines (``group``: its id and
    its (where, line) pairs); anything else is skipped, saying why."""
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for where, obj in objects:
        if isinstance(obj, dict) and kinds.whole in obj:
            wid = as_text(obj.get(kinds.whole_id))
            add_trajectory(result, where + (f" ({kinds.whole_id} {wid!r})" if wid else ""),
                           lambda obj=obj: whole(obj))
        elif isinstance(obj, dict) and all(k in obj for k in kinds.line):
            gid = as_text(obj.get(kinds.group_id))
            if not gid:
                result.skipped.append(f"{where}: {kinds.group_id} is empty or not a string")
                continue
            groups.setdefault(gid, []).append((where, obj))
        else:
            kind = type(obj).__name__ if not isinstance(obj, dict) else "object"
            result.skipped.append(f"{where}: {kinds.neither.format(kind=kind)}")
    for gid, rows in groups.items():
        add_trajectory(result, f"{path}, {kinds.group_label} {gid!r} (first on {rows[0][0].rsplit(', ', 1)[-1]})",
                       lambda gid=gid, rows=rows: group(gid, rows))
