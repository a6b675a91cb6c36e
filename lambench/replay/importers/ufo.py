"""Format ``ufo`` — the data pipeline of the LAM paper (microsoft/UFO ``dataflow/``), two shapes,
detected per JSON object:

(a) a *result record* (``instantiation_result.prefill.result`` with ``instantiated_request`` and
    ``instantiated_plan``): one trajectory, ``trajectory_id`` = ``task_id`` = ``unique_id`` (the
    file stem is appended when the id is taken).  The source records no screen, so the
    observation only names the app and says so, with an empty control list; the last plan step
    has status ``finish``, the others ``continue``.  The judge's verdict
    (``execution_result.result.complete``) goes to ``meta.complete``.
(b) post-processed *step lines* (``execution_id``, ``step_id``, ``step`` = {``control_infos``,
    ``observation``, ``action``, ``status``, ...}): grouped by ``execution_id`` within a file,
    ordered by ``step_id`` (which must run without gaps; ``total_steps`` must agree).  Controls
    come from ``control_infos`` (a list of dicts, or a dict of such lists; keys ``label`` /
    ``control_label``, ``control_text`` / ``text`` / ``name``, ``control_type`` / ``type`` /
    ``role``), sorted by label; the observation text is the control list plus the step's own
    ``observation`` text.  Status ``FINISH`` / ``OVERALL_FINISH`` -> ``finish`` (on the last
    step; earlier it becomes ``continue``, the original kept in ``meta.status``), else
    ``continue``.

``thought`` and ``subtask`` (they state the answer) go to ``meta`` only, as do the original
function, arguments, control label/text and success flags.

Function mapping (both shapes; the target is the control label, else the control text)::

    click_input, click          -> click(target)
    set_edit_text               -> type(target, text=Args.text)
    keyboard_input              -> hotkey(keys=Args.keys), pywinauto key syntax converted
                                   ("{VK_CONTROL}a", "^a" -> "ctrl+a"; the raw keys are an
                                   alternative when they differ); text that is not one key
                                   combination -> call(keyboard_input, Args)
    wheel_mouse_input, scroll   -> scroll(target or none, direction: Args.wheel_dist < 0 = down)
    anything else (select_text, texts, summary, ...) -> call(tool=Function, args=Args)
    no function, status finish  -> finish(status="success")   (shape b only)

When a step has both a label and a text, the same action addressed by the text (``ControlText``,
``MatchedControlText``) is an alternative, so an agent naming the control by its text counts.  A
click or type with no control, or with arguments the mapping cannot use (no ``text``, zero
``wheel_dist``), becomes ``call(tool=Function, args=Args)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambench.action import parse_action
from lambench.replay.importers.common import (MAX_NAME, ImportResult, RecordKinds, Skip, Step, as_action,
                                              as_text, dig, label_key, maybe_json, render_controls, run_importer,
                                              sort_objects, step_records, unique_trajectory_id)
from lambench.replay.importers.sources import source_files

__all__ = ["import_ufo"]

_FINISH_STATUSES = ("FINISH", "OVERALL_FINISH")
_NO_SCREEN = "(no screen recorded in the source; the control list is empty)"

_VK = {
    "VK_CONTROL": "ctrl", "VK_LCONTROL": "ctrl", "VK_RCONTROL": "ctrl", "VK_SHIFT": "shift", "VK_LSHIFT": "shift",
    "VK_RSHIFT": "shift", "VK_MENU": "alt", "VK_LMENU": "alt", "VK_RMENU": "alt", "VK_LWIN": "meta",
    "VK_RWIN": "meta",
}
_NAMED_KEYS = {
    "ENTER": "enter", "RETURN": "enter", "VK_RETURN": "enter", "TAB": "tab", "VK_TAB": "tab", "ESC": "escape",
    "ESCAPE": "escape", "VK_ESCAPE": "escape", "DELETE": "delete", "DEL": "delete", "VK_DELETE": "delete",
    "BACKSPACE": "backspace", "BS": "backspace", "BKSP": "backspace", "VK_BACK": "backspace", "SPACE": "space",
    "VK_SPACE": "space", "HOME": "home", "VK_HOME": "home", "END": "end", "VK_END": "end", "PGUP": "pageup",
    "VK_PRIOR": "pageup", "PGDN": "pagedown", "VK_NEXT": "pagedown", "UP": "up", "VK_UP": "up", "DOWN": "down",
    "VK_DOWN": "down", "LEFT": "left", "VK_LEFT": "left", "RIGHT": "right", "VK_RIGHT": "right", "INSERT": "insert",
    "INS": "insert", "VK_INSERT": "insert",
    **{f"F{i}": f"f{i}" for i in range(1, 13)}, **{f"VK_F{i}": f"f{i}" for i in range(1, 13)},
}
_PREFIX = {"^": "ctrl", "+": "shift", "%": "alt"}
_PLAIN_COMBO = re.compile(r"(?i)^(ctrl|control|shift|alt|win|cmd|meta)(\+[a-z0-9]+)+$")


def _hotkey(keys: str) -> str | None:
    """A pywinauto ``send_keys`` string as one key combination (``ctrl+a``), or None if it is not one."""
    keys = keys.strip()
    if _PLAIN_COMBO.match(keys):
        return keys.lower()
    mods: list[str] = []
    main: list[str] = []
    i = 0
    while i < len(keys):
        ch = keys[i]
        if ch in _PREFIX and i + 1 < len(keys):
            mods.append(_PREFIX[ch])
            i += 1
            continue
        if ch == "{":
            end = keys.find("}", i + 1)
            if end == -1:
                return None
            name = keys[i + 1:end].strip().upper()
            i = end + 1
            if name in _VK:
                mods.append(_VK[name])
            elif name in _NAMED_KEYS:
                main.append(_NAMED_KEYS[name])
            elif re.fullmatch(r"VK_[A-Z0-9]", name):
                main.append(name[-1].lower())
            elif len(name) == 1 and not name.isspace():
                main.append(name.lower())
            else:
                return None
            continue
        if ch == "~":
            main.append("enter")
        elif ch.isalnum():
            main.append(ch.lower())
        else:
            return None
        i += 1
    if len(main) != 1:
        return None
    seen = []
    for m in mods:
        if m not in seen:
            seen.append(m)
    return "+".join(seen + main)


def _ufo_action(function: str, args: dict[str, Any], label: str, texts: list[str]
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The action (and alternatives) of one UFO step; see the module docstring for the mapping."""
    key = function.strip().lower()
    target = label or next((t for t in texts if t), "")
    alt_targets = [t for t in texts if t and t != target] if label else []

    def targeted(make: Callable[[str], dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        action = as_action(make(target))
        if action is None:
            return None
        alts = [a for a in (as_action(make(t)) for t in alt_targets) if a is not None]
        return action, alts

    found = None
    if key in ("click_input", "click") and target:
        found = targeted(lambda t: {"type": "click", "target": t})
    elif key == "set_edit_text" and target and isinstance(args.get("text"), str):
        found = targeted(lambda t: {"type": "type", "target": t, "text": args["text"]})
    elif key == "keyboard_input" and isinstance(args.get("keys"), str):
        combo = _hotkey(args["keys"])
        action = as_action({"type": "hotkey", "keys": combo}) if combo else None
        if action is not None:
            raw = as_action({"type": "hotkey", "keys": args["keys"].strip()})
            found = action, [raw] if raw is not None and raw != action else []
    elif key in ("wheel_mouse_input", "scroll"):
        dist = args.get("wheel_dist")
        if isinstance(dist, (int, float)) and not isinstance(dist, bool) and math.isfinite(dist) and dist != 0:
            direction = "down" if dist < 0 else "up"
            if target:
                found = targeted(lambda t: {"type": "scroll", "target": t, "direction": direction})
            else:
                found = as_action({"type": "scroll", "target": None, "direction": direction}), []
    if found is not None and found[0] is not None:
        return found
    action = as_action({"type": "call", "tool": function.strip(), "args": args})
    if action is None:
        raise Skip(f"function {function!r} with these arguments is not a valid action "
                    f"({parse_action({'type': 'call', 'tool': function.strip(), 'args': args}).error})")
    return action, []


def _args(value: Any, what: str) -> dict[str, Any]:
    value = maybe_json(value)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Skip(f"{what} has arguments that are not a JSON object ({type(value).__name__})")
    return value


def _ufo_result(path: Path, obj: dict[str, Any], dataset: str, used: set[str]) -> list[dict[str, Any]]:
    prefill = dig(obj, "instantiation_result", "prefill")
    result = dig(prefill, "result")
    if not isinstance(result, dict):
        err = dig(prefill, "error")
        raise Skip("the record has no instantiated plan" + (f" (prefill error: {err})" if err else ""))
    request = result.get("instantiated_request")
    if not isinstance(request, str) or not request.strip():
        raise Skip("instantiated_request is missing or not a string")
    plan = result.get("instantiated_plan")
    if not isinstance(plan, list) or not plan:
        raise Skip("instantiated_plan is missing, empty or not a list")
    for i, st in enumerate(plan):
        if not isinstance(st, dict):
            raise Skip(f"instantiated_plan[{i}] is not an object")
    if all(type(st.get("Step")) is int for st in plan):
        plan = sorted(plan, key=lambda st: st["Step"])
    unique_id = as_text(obj.get("unique_id")) or path.name.split(".")[0]
    app = as_text(obj.get("app"))
    verdict = dig(obj, "execution_result", "result")
    verdict = verdict if isinstance(verdict, dict) else {}
    common = {
        "source": "ufo", "shape": "result", "file": str(path), "unique_id": unique_id, "app": app or None,
        "apps": [app] if app else [], "original_task": dig(obj, "original", "original_task"),
        "complete": verdict.get("complete"), "sub_scores": verdict.get("sub_scores"),
    }
    text = f"App: {app or 'unknown'}\n{_NO_SCREEN}"
    steps = []
    for i, st in enumerate(plan):
        function = st.get("Function")
        if not isinstance(function, str) or not function.strip():
            raise Skip(f"instantiated_plan[{i}] has no Function")
        args = _args(st.get("Args"), f"instantiated_plan[{i}]")
        label = as_text(st.get("ControlLabel"))
        texts = [as_text(st.get("ControlText")), as_text(st.get("MatchedControlText"))]
        action, alts = _ufo_action(function, args, label, texts)
        meta = {**common, "step_number": st.get("Step"), "subtask": st.get("Subtask"), "function": function,
                "args": args, "control_label": st.get("ControlLabel"), "control_text": st.get("ControlText"),
                "matched_control_text": st.get("MatchedControlText"), "success": st.get("Success")}
        steps.append(Step({"text": text, "controls": []}, action, alts,
                           "finish" if i == len(plan) - 1 else "continue", meta))
    tid = unique_trajectory_id(unique_id, path.name.split(".")[0], used)
    return step_records(dataset, tid, unique_id, request.strip(), steps)


def _ufo_controls(infos: Any) -> list[dict[str, Any]]:
    infos = maybe_json(infos)
    if isinstance(infos, dict):
        items = [it for v in infos.values() if isinstance(v, list) for it in v]
    elif isinstance(infos, list):
        items = infos
    else:
        items = []
    controls: dict[str, dict[str, Any]] = {}
    for it in items:
        if not isinstance(it, dict):
            continue
        label = as_text(it.get("label")) or as_text(it.get("control_label"))
        if not label or label in controls:
            continue
        name = next((v.strip() for v in (it.get("control_text"), it.get("text"), it.get("name"))
                     if isinstance(v, str) and v.strip()), "")
        role = next((v.strip() for v in (it.get("control_type"), it.get("type"), it.get("role"))
                     if isinstance(v, str) and v.strip()), "")
        control = {"label": label, "role": role, "name": name[:MAX_NAME]}
        if isinstance(it.get("value"), str):
            control["value"] = it["value"]
        controls[label] = control
    return [controls[k] for k in sorted(controls, key=label_key)]


def _ufo_execution(path: Path, eid: str, lines: list[tuple[str, dict[str, Any]]], dataset: str, used: set[str]
                   ) -> list[dict[str, Any]]:
    for where, obj in lines:
        if not isinstance(obj.get("step"), dict):
            raise Skip(f"{where.rsplit(', ', 1)[-1]} has no 'step' object")
    ids = []
    for where, obj in lines:
        sid = obj.get("step_id")
        if isinstance(sid, str) and sid.strip().isdigit():
            sid = int(sid)
        if type(sid) is not int:
            raise Skip(f"{where.rsplit(', ', 1)[-1]} has no integer step_id")
        ids.append(sid)
    order = sorted(range(len(lines)), key=lambda k: ids[k])
    sorted_ids = [ids[k] for k in order]
    start = sorted_ids[0]
    if start not in (0, 1) or sorted_ids != list(range(start, start + len(lines))):
        raise Skip(f"its step_ids {sorted_ids[:10]} do not run from 0 (or 1) without gaps or repeats")
    totals = {obj.get("total_steps") for _, obj in lines}
    if len(totals) == 1 and type(next(iter(totals))) is int and next(iter(totals)) != len(lines):
        raise Skip(f"it has {len(lines)} step line(s) but total_steps is {next(iter(totals))}")
    lines = [lines[k] for k in order]
    first = lines[0][1]
    request = first.get("request")
    if not isinstance(request, str) or not request.strip():
        raise Skip("the request is missing or not a string")
    app = as_text(first.get("app_domain"))
    steps = []
    for i, (where, obj) in enumerate(lines):
        st = obj["step"]
        act = st.get("action")
        act = maybe_json(act)
        act = act if isinstance(act, dict) else {}
        function = act.get("function")
        function = function.strip() if isinstance(function, str) else ""
        raw_status = as_text(st.get("status")).upper()
        last = i == len(lines) - 1
        status = "finish" if raw_status in _FINISH_STATUSES and last else "continue"
        label = as_text(act.get("control_label"))
        texts = [as_text(act.get("control_test")) or as_text(act.get("control_text"))]
        args = _args(act.get("args"), f"step {i}")
        if function:
            action, alts = _ufo_action(function, args, label, texts)
        elif status == "finish":
            action, alts = as_action({"type": "finish", "status": "success"}), []
        else:
            raise Skip(f"{where.rsplit(', ', 1)[-1]} has no action function and does not finish")
        controls = _ufo_controls(st.get("control_infos"))
        parts = [f"App: {app}"] if app else []
        parts += render_controls(controls) or ["(no controls recorded in the source)"]
        described = st.get("observation")
        if isinstance(described, str) and described.strip():
            parts.append(f"Screen description: {described.strip()}")
        shots = {k: v for k, v in st.items() if k.startswith("screenshot") and isinstance(v, str) and len(v) <= 500}
        meta = {"source": "ufo", "shape": "steps", "file": str(path), "line": where, "execution_id": eid,
                "app": app or None, "apps": [app] if app else [], "template": first.get("template"),
                "evaluation": obj.get("evaluation"), "step_id": obj.get("step_id"),
                "total_steps": obj.get("total_steps"), "subtask": st.get("subtask"), "thought": st.get("thought"),
                "function": function or None, "args": args, "control_label": act.get("control_label"),
                "control_text": texts[0] or None, "coordinate": act.get("coordinate"),
                "status": st.get("status"), "screenshots": shots}
        steps.append(Step({"text": "\n".join(parts), "controls": controls}, action, alts, status, meta))
    tid = unique_trajectory_id(eid, path.name.split(".")[0], used)
    return step_records(dataset, tid, eid, request.strip(), steps)


_KINDS = RecordKinds(whole="instantiation_result", whole_id="unique_id", line=("execution_id",),
                     group_id="execution_id", group_label="execution",
                     neither="not a UFO result record or step line ({kind} without instantiation_result or "
                             "execution_id)")


def import_ufo(src: Path, dataset: str | None = None) -> ImportResult:
    """Import UFO dataflow result records and post-processed step lines (see the module docstring)."""
    dataset = dataset or "ufo"

    def convert(path: Path, objects: list[tuple[str, Any]], result: ImportResult, used: set[str]) -> None:
        sort_objects(path, objects, result, _KINDS, lambda obj: _ufo_result(path, obj, dataset, used),
                     lambda eid, lines: _ufo_execution(path, eid, lines, dataset, used))

    return run_importer(source_files(src), convert)
