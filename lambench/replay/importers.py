"""Importers: published trajectory formats -> lambench offline-replay step records.

``import_dataset(fmt, src)`` reads a file or a directory (``*.json``, ``*.jsonl``, optionally
``.gz``, walked recursively in sorted order) and returns an :class:`ImportResult`: valid step
records (every one checked with :func:`~lambench.replay.dataset.validate_step`), the number of
trajectories, and the reasons for everything left out, each naming the file and the line (JSONL)
or the item index (JSON arrays).  Bad input never raises: malformed JSON, wrong types, steps that
cannot be mapped make a line or a trajectory skipped.  Only an unknown format, a missing source
or a source with nothing importable raise :class:`~lambench.replay.dataset.DatasetError`.

Format ``ufo`` — the data pipeline of the LAM paper (microsoft/UFO ``dataflow/``), two shapes,
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

Format ``mind2web`` — Mind2Web task records (a JSON list of tasks, a directory of such files,
or JSONL with one task per line; also the flattened Hugging Face release with one action per
row, grouped by ``annotation_id`` and ordered by ``target_action_index``).  Per action: the
controls are the positive and negative candidates sorted by ``backend_node_id`` (label =
``backend_node_id``, role = tag, name = the element's text in ``cleaned_html``, else the first of
the attributes ``aria_label``, ``title``, ``placeholder``, ``name``, ``alt``, ``value``, ``id`` —
the same rule for every candidate, so the name never marks the target); the observation text is ``Website: ...``
plus one ``[label] role "name"`` line per control.  The gold is ``click(target)`` /
``type(target, text=value)`` / ``select(target, option=value)`` on the first positive candidate
(the ``is_original_target`` one when flagged), the same operation on the other positive
candidates are alternatives; the last action has status ``finish``.  A task with an action that
has no positive candidate is skipped.  ``cleaned_html`` and ``raw_html`` are not kept.
"""

from __future__ import annotations

import codecs
import copy
import gzip
import json
import math
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambench.action import parse_action
from lambench.replay.dataset import (DatasetError, LineTooLong, line_limit, read_lines, size_text,
                                     validate_step)

__all__ = ["FORMATS", "IMPORTERS", "MAX_IMPORT_BYTES", "ImportResult", "import_dataset", "import_mind2web",
           "import_ufo"]

_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
MAX_IMPORT_BYTES = 64 << 20
"""The most read at once from a source, in bytes after decompression: one JSONL line, one item of a JSON array
(arrays are read item by item), or a whole JSON document of another shape.  A Mind2Web task with the HTML of
its pages is a few MB.  ``$LAMBENCH_MAX_IMPORT_BYTES`` overrides it."""
IMPORT_LIMIT_ENV = "LAMBENCH_MAX_IMPORT_BYTES"
_MAX_NAME = 200


@dataclass
class ImportResult:
    """What an importer made of a source."""

    records: list[dict[str, Any]] = field(default_factory=list)
    """Valid step records: trajectories in source order, steps in order."""
    trajectories: int = 0
    skipped: list[str] = field(default_factory=list)
    """Why trajectories, steps or lines were left out; each names the file (and line or item)."""


class _Skip(Exception):
    """A trajectory (or line) that cannot be imported; the message says why."""


# ---------------------------------------------------------------------------- reading sources


def _files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    found = [p for p in src.rglob("*") if p.is_file() and p.name.lower().endswith(_SUFFIXES)]
    return sorted(found, key=lambda p: p.relative_to(src).as_posix())


def _is_jsonl(path: Path) -> bool:
    return path.name.lower().endswith((".jsonl", ".jsonl.gz"))


def _read_objects(path: Path, skipped: list[str]) -> list[tuple[str, Any]]:
    """The JSON values of a file, each with where it is (``FILE, line N`` / ``FILE, item I`` / ``FILE``).

    A JSON array gives its items, read one at a time; a JSONL file (or a .json file that turns out to be
    JSONL) gives its lines.  Unreadable files and lines that are not JSON are added to ``skipped``.  No
    line, item or other document is read past :data:`MAX_IMPORT_BYTES`: that raises :class:`LineTooLong`.
    """
    limit = line_limit(path, env=IMPORT_LIMIT_ENV, default=MAX_IMPORT_BYTES)
    if _is_jsonl(path):
        return _jsonl_objects(path, skipped, limit)
    try:
        with _open_binary(path) as fh:
            head = fh.read(1 << 16)
            first = head.lstrip(b" \t\r\n")[:1]
            while head and not first:  # a long run of blank space first
                head = fh.read(1 << 16)
                first = head.lstrip(b" \t\r\n")[:1]
            if not first:
                skipped.append(f"{path}: the file is empty")
                return []
            if first == b"[":
                try:
                    return [(f"{path}, item {i}", item) for i, item in enumerate(_array_items(path, fh, head, limit))]
                except (LineTooLong, UnicodeDecodeError):
                    raise
                except (ValueError, RecursionError) as exc:
                    why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
                    skipped.append(f"{path}: not valid JSON ({why})")
                    return []
            data = head + fh.read(limit + 1 - len(head)) if len(head) <= limit else head
            whole = len(data) <= limit
            text = data.decode("utf-8") if whole else ""
    except LineTooLong:
        raise
    except (OSError, EOFError, UnicodeDecodeError, ValueError, zlib.error) as exc:
        skipped.append(f"{path}: cannot read the file ({type(exc).__name__}: {exc})")
        return []
    if not whole:  # too big to be one document: JSON lines under a .json name, or too big to import
        firstline = data.split(b"\n", 1)[0].decode("utf-8", "replace")
        if _parses_as_object(firstline):
            return _jsonl_objects(path, skipped, limit)
        raise LineTooLong(path, [f"the file is larger than {size_text(limit)}, the limit of one JSON document to import "
                                 "(a JSON array is read one item at a time, JSON lines one line at a time); split it, "
                                 f"or set {IMPORT_LIMIT_ENV} to a larger number of bytes if it is right"])
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        firstline = next((ln for ln in text.splitlines() if ln.strip()), "")
        if not _parses_as_object(firstline) or firstline.strip() == text.strip():
            skipped.append(f"{path}: not valid JSON ({exc})")
            return []
        return _jsonl_objects(path, skipped, limit)
    if isinstance(doc, list):
        return [(f"{path}, item {i}", item) for i, item in enumerate(doc)]
    return [(str(path), doc)]


def _open_binary(path: Path) -> Any:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _jsonl_objects(path: Path, skipped: list[str], limit: int) -> list[tuple[str, Any]]:
    """The values of the lines of a JSONL file, each line read with a bound (a longer one raises)."""
    out = []
    bad = 0
    try:
        for lineno, line in read_lines(path, max_line_bytes=limit, what="an imported line", env=IMPORT_LIMIT_ENV):
            try:
                out.append((f"{path}, line {lineno}", json.loads(line)))
            except (ValueError, RecursionError) as exc:
                why = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                skipped.append(f"{path}, line {lineno}: not valid JSON ({why})")
                bad += 1
    except LineTooLong:
        raise
    except DatasetError as exc:
        skipped.append(f"{path}: {exc.problems[0]}")
        return []
    if not out and not bad:
        skipped.append(f"{path}: the file is empty")
    return out


def _array_items(path: Path, fh: Any, head: bytes, limit: int) -> Iterator[Any]:
    """The items of a JSON array whose first bytes ``head`` were read from ``fh``, parsed one at a time.

    Only the item being parsed is held (a Mind2Web file holds many MB of HTML per task); an item longer than
    ``limit`` characters raises :class:`LineTooLong`, anything that is not a JSON array ``ValueError``.
    """
    decode = codecs.getincrementaldecoder("utf-8")().decode
    parse = json.JSONDecoder().raw_decode
    buf, pos, base, eof = decode(head), 0, 0, False  # base: characters dropped from the front of buf

    def more(want: int) -> None:
        nonlocal buf, pos, base, eof
        if pos > 1 << 20:
            buf, base, pos = buf[pos:], base + pos, 0
        chunk = fh.read(max(want, 1 << 20))
        eof = not chunk
        buf += decode(chunk, final=eof)

    def skip_space() -> str:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf) or eof:
                return buf[pos] if pos < len(buf) else ""
            more(0)

    skip_space()
    pos += 1  # the "[" the caller saw
    index = 0
    while True:
        ch = skip_space()
        if ch == "]" and index == 0:
            pos += 1
            break
        if index:
            if ch == "]":
                pos += 1
                break
            if ch != ",":
                raise ValueError(f"expected ',' or ']' after item {index - 1} at character {base + pos}"
                                 if ch else "the array is not closed (the file ends inside it)")
            pos += 1
            skip_space()
        while True:  # parse one item, reading more until it is complete (or over the limit)
            try:
                value, end = parse(buf, pos)
            except json.JSONDecodeError as exc:
                if eof:
                    raise ValueError(f"{exc.msg} at character {base + exc.pos} (in item {index})") from None
                end = -1
            if end >= 0 and (end < len(buf) or eof):  # a number at the very end of buf may go on in the next chunk
                break
            if len(buf) - pos > limit:
                break
            more(len(buf) - pos)
        if (end if end >= 0 else len(buf)) - pos > limit:
            raise LineTooLong(path, [
                f"item {index} (from character {base + pos}) is longer than {size_text(limit)}, the limit of one "
                f"imported item; split it, or set {IMPORT_LIMIT_ENV} to a larger number of bytes if it is right"])
        yield value
        pos = end
        index += 1
    if skip_space():
        raise ValueError(f"extra data after the array at character {base + pos}")


def _parses_as_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def _maybe_json(value: Any) -> Any:
    """A value that may be given as a JSON string (the flattened Mind2Web release does that)."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _get(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def _text(value: Any) -> str:
    """A string field, stripped; numbers become strings, anything else ''."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, str)):
        return str(value).strip()
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else str(value)
    return ""


def _label_key(label: str) -> tuple[int, int, str]:
    return (0, int(label), "") if label.isdigit() else (1, 0, label)


def _unique_id(base: str, stem: str, used: set[str]) -> str:
    tid = base
    if tid in used:
        tid = f"{base}:{stem}"
        n = 2
        while tid in used:
            tid = f"{base}:{stem}#{n}"
            n += 1
    used.add(tid)
    return tid


# ---------------------------------------------------------------------------- building records


def _action(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The action normalised (defaults filled), or None when it does not parse."""
    res = parse_action(obj)
    return res.action.model_dump() if res.valid else None


@dataclass
class _Step:
    observation: dict[str, Any]
    action: dict[str, Any]
    alternatives: list[dict[str, Any]]
    status: str
    meta: dict[str, Any]


def _render(controls: list[dict[str, Any]]) -> list[str]:
    return [f'[{c["label"]}] ' + (f'{c["role"]} ' if c.get("role") else "") + f'"{c["name"]}"' for c in controls]


def _records(dataset: str, trajectory_id: str, task_id: str, request: str, steps: list[_Step]) -> list[dict[str, Any]]:
    """Step records of one trajectory; raise :class:`_Skip` if any does not validate."""
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
            raise _Skip(f"step {i} is not a valid record ({'; '.join(problems[:2])})")
        records.append(rec)
        history.append(copy.deepcopy(st.action))
    return records


def _run(files: list[Path], convert: Callable[[Path, list[tuple[str, Any]], ImportResult, set[str]], None]
         ) -> ImportResult:
    result = ImportResult()
    used: set[str] = set()
    for path in files:
        objects = _read_objects(path, result.skipped)
        if objects:
            convert(path, objects, result, used)
    return result


def _add(result: ImportResult, where: str, build: Callable[[], list[dict[str, Any]]]) -> None:
    """Build one trajectory's records; a failure is a skipped trajectory, never a crash."""
    try:
        records = build()
    except _Skip as exc:
        result.skipped.append(f"{where}: {exc}")
        return
    except Exception as exc:  # noqa: BLE001  (hostile input of a kind not foreseen: skip it, say what happened)
        result.skipped.append(f"{where}: cannot be imported ({type(exc).__name__}: {exc})")
        return
    result.records.extend(records)
    result.trajectories += 1


# ---------------------------------------------------------------------------- ufo

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
        action = _action(make(target))
        if action is None:
            return None
        alts = [a for a in (_action(make(t)) for t in alt_targets) if a is not None]
        return action, alts

    found = None
    if key in ("click_input", "click") and target:
        found = targeted(lambda t: {"type": "click", "target": t})
    elif key == "set_edit_text" and target and isinstance(args.get("text"), str):
        found = targeted(lambda t: {"type": "type", "target": t, "text": args["text"]})
    elif key == "keyboard_input" and isinstance(args.get("keys"), str):
        combo = _hotkey(args["keys"])
        action = _action({"type": "hotkey", "keys": combo}) if combo else None
        if action is not None:
            raw = _action({"type": "hotkey", "keys": args["keys"].strip()})
            found = action, [raw] if raw is not None and raw != action else []
    elif key in ("wheel_mouse_input", "scroll"):
        dist = args.get("wheel_dist")
        if isinstance(dist, (int, float)) and not isinstance(dist, bool) and math.isfinite(dist) and dist != 0:
            direction = "down" if dist < 0 else "up"
            if target:
                found = targeted(lambda t: {"type": "scroll", "target": t, "direction": direction})
            else:
                found = _action({"type": "scroll", "target": None, "direction": direction}), []
    if found is not None and found[0] is not None:
        return found
    action = _action({"type": "call", "tool": function.strip(), "args": args})
    if action is None:
        raise _Skip(f"function {function!r} with these arguments is not a valid action "
                    f"({parse_action({'type': 'call', 'tool': function.strip(), 'args': args}).error})")
    return action, []


def _args(value: Any, what: str) -> dict[str, Any]:
    value = _maybe_json(value)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Skip(f"{what} has arguments that are not a JSON object ({type(value).__name__})")
    return value


def _ufo_result(path: Path, obj: dict[str, Any], dataset: str, used: set[str]) -> list[dict[str, Any]]:
    prefill = _get(obj, "instantiation_result", "prefill")
    result = _get(prefill, "result")
    if not isinstance(result, dict):
        err = _get(prefill, "error")
        raise _Skip("the record has no instantiated plan" + (f" (prefill error: {err})" if err else ""))
    request = result.get("instantiated_request")
    if not isinstance(request, str) or not request.strip():
        raise _Skip("instantiated_request is missing or not a string")
    plan = result.get("instantiated_plan")
    if not isinstance(plan, list) or not plan:
        raise _Skip("instantiated_plan is missing, empty or not a list")
    for i, st in enumerate(plan):
        if not isinstance(st, dict):
            raise _Skip(f"instantiated_plan[{i}] is not an object")
    if all(type(st.get("Step")) is int for st in plan):
        plan = sorted(plan, key=lambda st: st["Step"])
    unique_id = _text(obj.get("unique_id")) or path.name.split(".")[0]
    app = _text(obj.get("app"))
    verdict = _get(obj, "execution_result", "result")
    verdict = verdict if isinstance(verdict, dict) else {}
    common = {
        "source": "ufo", "shape": "result", "file": str(path), "unique_id": unique_id, "app": app or None,
        "apps": [app] if app else [], "original_task": _get(obj, "original", "original_task"),
        "complete": verdict.get("complete"), "sub_scores": verdict.get("sub_scores"),
    }
    text = f"App: {app or 'unknown'}\n{_NO_SCREEN}"
    steps = []
    for i, st in enumerate(plan):
        function = st.get("Function")
        if not isinstance(function, str) or not function.strip():
            raise _Skip(f"instantiated_plan[{i}] has no Function")
        args = _args(st.get("Args"), f"instantiated_plan[{i}]")
        label = _text(st.get("ControlLabel"))
        texts = [_text(st.get("ControlText")), _text(st.get("MatchedControlText"))]
        action, alts = _ufo_action(function, args, label, texts)
        meta = {**common, "step_number": st.get("Step"), "subtask": st.get("Subtask"), "function": function,
                "args": args, "control_label": st.get("ControlLabel"), "control_text": st.get("ControlText"),
                "matched_control_text": st.get("MatchedControlText"), "success": st.get("Success")}
        steps.append(_Step({"text": text, "controls": []}, action, alts,
                           "finish" if i == len(plan) - 1 else "continue", meta))
    tid = _unique_id(unique_id, path.name.split(".")[0], used)
    return _records(dataset, tid, unique_id, request.strip(), steps)


def _ufo_controls(infos: Any) -> list[dict[str, Any]]:
    infos = _maybe_json(infos)
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
        label = _text(it.get("label")) or _text(it.get("control_label"))
        if not label or label in controls:
            continue
        name = next((v.strip() for v in (it.get("control_text"), it.get("text"), it.get("name"))
                     if isinstance(v, str) and v.strip()), "")
        role = next((v.strip() for v in (it.get("control_type"), it.get("type"), it.get("role"))
                     if isinstance(v, str) and v.strip()), "")
        control = {"label": label, "role": role, "name": name[:_MAX_NAME]}
        if isinstance(it.get("value"), str):
            control["value"] = it["value"]
        controls[label] = control
    return [controls[k] for k in sorted(controls, key=_label_key)]


def _ufo_execution(path: Path, eid: str, lines: list[tuple[str, dict[str, Any]]], dataset: str, used: set[str]
                   ) -> list[dict[str, Any]]:
    for where, obj in lines:
        if not isinstance(obj.get("step"), dict):
            raise _Skip(f"{where.rsplit(', ', 1)[-1]} has no 'step' object")
    ids = []
    for where, obj in lines:
        sid = obj.get("step_id")
        if isinstance(sid, str) and sid.strip().isdigit():
            sid = int(sid)
        if type(sid) is not int:
            raise _Skip(f"{where.rsplit(', ', 1)[-1]} has no integer step_id")
        ids.append(sid)
    order = sorted(range(len(lines)), key=lambda k: ids[k])
    sorted_ids = [ids[k] for k in order]
    start = sorted_ids[0]
    if start not in (0, 1) or sorted_ids != list(range(start, start + len(lines))):
        raise _Skip(f"its step_ids {sorted_ids[:10]} do not run from 0 (or 1) without gaps or repeats")
    totals = {obj.get("total_steps") for _, obj in lines}
    if len(totals) == 1 and type(next(iter(totals))) is int and next(iter(totals)) != len(lines):
        raise _Skip(f"it has {len(lines)} step line(s) but total_steps is {next(iter(totals))}")
    lines = [lines[k] for k in order]
    first = lines[0][1]
    request = first.get("request")
    if not isinstance(request, str) or not request.strip():
        raise _Skip("the request is missing or not a string")
    app = _text(first.get("app_domain"))
    steps = []
    for i, (where, obj) in enumerate(lines):
        st = obj["step"]
        act = st.get("action")
        act = _maybe_json(act)
        act = act if isinstance(act, dict) else {}
        function = act.get("function")
        function = function.strip() if isinstance(function, str) else ""
        raw_status = _text(st.get("status")).upper()
        last = i == len(lines) - 1
        status = "finish" if raw_status in _FINISH_STATUSES and last else "continue"
        label = _text(act.get("control_label"))
        texts = [_text(act.get("control_test")) or _text(act.get("control_text"))]
        args = _args(act.get("args"), f"step {i}")
        if function:
            action, alts = _ufo_action(function, args, label, texts)
        elif status == "finish":
            action, alts = _action({"type": "finish", "status": "success"}), []
        else:
            raise _Skip(f"{where.rsplit(', ', 1)[-1]} has no action function and does not finish")
        controls = _ufo_controls(st.get("control_infos"))
        parts = [f"App: {app}"] if app else []
        parts += _render(controls) or ["(no controls recorded in the source)"]
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
        steps.append(_Step({"text": "\n".join(parts), "controls": controls}, action, alts, status, meta))
    tid = _unique_id(eid, path.name.split(".")[0], used)
    return _records(dataset, tid, eid, request.strip(), steps)


def import_ufo(src: Path, dataset: str | None = None) -> ImportResult:
    """Import UFO dataflow result records and post-processed step lines (see the module docstring)."""
    dataset = dataset or "ufo"

    def convert(path: Path, objects: list[tuple[str, Any]], result: ImportResult, used: set[str]) -> None:
        executions: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for where, obj in objects:
            if isinstance(obj, dict) and "instantiation_result" in obj:
                uid = _text(obj.get("unique_id"))
                _add(result, f"{where}" + (f" (unique_id {uid!r})" if uid else ""),
                     lambda obj=obj: _ufo_result(path, obj, dataset, used))
            elif isinstance(obj, dict) and "execution_id" in obj:
                eid = _text(obj.get("execution_id"))
                if not eid:
                    result.skipped.append(f"{where}: execution_id is empty or not a string")
                    continue
                executions.setdefault(eid, []).append((where, obj))
            else:
                kind = type(obj).__name__ if not isinstance(obj, dict) else "object"
                result.skipped.append(f"{where}: not a UFO result record or step line ({kind} without "
                                      "instantiation_result or execution_id)")
        for eid, lines in executions.items():
            _add(result, f"{path}, execution {eid!r} (first on {lines[0][0].rsplit(', ', 1)[-1]})",
                 lambda eid=eid, lines=lines: _ufo_execution(path, eid, lines, dataset, used))

    return _run(_files(src), convert)


# ---------------------------------------------------------------------------- mind2web

_REPR = re.compile(r"^\s*\[(?P<tag>[^\]]*)\]\s*(?P<text>.*?)\s*->\s*(?P<op>CLICK|TYPE|SELECT|HOVER|ENTER)\b",
                   re.DOTALL)
_ATTR_TEXT = ("aria_label", "aria-label", "title", "placeholder", "name", "alt", "value", "id")
_OPS = {"CLICK": "click", "HOVER": "click", "ENTER": "click", "TYPE": "type", "SELECT": "select"}


def _candidate(raw: Any) -> tuple[str, str, dict[str, Any], bool] | None:
    """(backend_node_id, tag, attributes, is_original_target) of a candidate, or None if it has no id."""
    raw = _maybe_json(raw)
    if not isinstance(raw, dict):
        return None
    attrs = _maybe_json(raw.get("attributes"))
    attrs = attrs if isinstance(attrs, dict) else {}
    node = _text(raw.get("backend_node_id")) or _text(attrs.get("backend_node_id"))
    if not node:
        return None
    return node, _text(raw.get("tag")), attrs, raw.get("is_original_target") is True


_VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                   "track", "wbr"))


def _node_texts(html_text: Any) -> dict[str, str]:
    """The text inside each element of a page that has a ``backend_node_id`` attribute."""
    from html.parser import HTMLParser

    if not isinstance(html_text, str) or "backend_node_id" not in html_text:
        return {}
    texts: dict[str, list[str]] = {}

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.stack: list[tuple[str, str | None]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            node = dict(attrs).get("backend_node_id")
            if node:
                texts.setdefault(node, [])
            if tag not in _VOID:
                self.stack.append((tag, node))

        def handle_endtag(self, tag: str) -> None:
            for i in range(len(self.stack) - 1, -1, -1):
                if self.stack[i][0] == tag:
                    del self.stack[i:]
                    return

        def handle_data(self, data: str) -> None:
            if data.strip():
                for _tag, node in self.stack:
                    if node is not None and len(texts[node]) < 40:
                        texts[node].append(data)

    try:
        parser = Parser()
        parser.feed(html_text)
        parser.close()
    except Exception:  # a page we cannot parse: names fall back to attributes
        return {}
    return {k: " ".join(" ".join(v).split())[:_MAX_NAME] for k, v in texts.items() if v}


def _attr_text(attrs: dict[str, Any]) -> str:
    for k in _ATTR_TEXT:
        v = attrs.get(k)
        if isinstance(v, str) and v.strip():
            return " ".join(v.split())[:_MAX_NAME]
    return ""


def _mind2web_task(path: Path, task: dict[str, Any], dataset: str, used: set[str]) -> list[dict[str, Any]]:
    aid = _text(task.get("annotation_id"))
    if not aid:
        raise _Skip("annotation_id is missing")
    request = task.get("confirmed_task")
    if not isinstance(request, str) or not request.strip():
        raise _Skip("confirmed_task is missing or not a string")
    actions = _maybe_json(task.get("actions"))
    if not isinstance(actions, list) or not actions:
        raise _Skip("actions is missing, empty or not a list")
    reprs = _maybe_json(task.get("action_reprs"))
    reprs = reprs if isinstance(reprs, list) and len(reprs) == len(actions) else [None] * len(actions)
    website = _text(task.get("website"))
    common = {"source": "mind2web", "file": str(path), "annotation_id": aid, "website": website or None,
              "domain": task.get("domain"), "subdomain": task.get("subdomain"), "apps": [website] if website else []}
    steps = []
    for i, act in enumerate(actions):
        act = _maybe_json(act)
        if not isinstance(act, dict):
            raise _Skip(f"action {i} is not an object")
        operation = _maybe_json(act.get("operation"))
        operation = operation if isinstance(operation, dict) else {}
        op_name = _text(operation.get("op")).upper() or _text(operation.get("original_op")).upper()
        kind = _OPS.get(op_name)
        if kind is None:
            raise _Skip(f"action {i} has an unknown operation {op_name or operation!r}")
        value = operation.get("value")
        value = value if isinstance(value, str) else _text(value)
        pos_raw = _maybe_json(act.get("pos_candidates"))
        neg_raw = _maybe_json(act.get("neg_candidates"))
        pos = [c for c in map(_candidate, pos_raw if isinstance(pos_raw, list) else []) if c is not None]
        neg = [c for c in map(_candidate, neg_raw if isinstance(neg_raw, list) else []) if c is not None]
        if not pos:
            raise _Skip(f"action {i} ({_text(act.get('action_uid')) or 'no action_uid'}) has no positive candidate")
        pos.sort(key=lambda c: not c[3])  # the original target first, the others in source order
        # Every candidate is named the same way — its text on the page, else its attributes — so the
        # name never gives away which one is the target (the action_reprs text exists only for it).
        page_text = _node_texts(act.get("cleaned_html"))
        controls: dict[str, dict[str, Any]] = {}
        for node, tag, attrs, _orig in pos + neg:
            if node not in controls:
                controls[node] = {"label": node, "role": tag, "name": page_text.get(node) or _attr_text(attrs)}
        ordered = [controls[k] for k in sorted(controls, key=_label_key)]
        targets = list(dict.fromkeys(c[0] for c in pos))

        def make(t: str, kind: str = kind, value: str = value) -> dict[str, Any] | None:
            if kind == "type":
                return _action({"type": "type", "target": t, "text": value})
            if kind == "select":
                return _action({"type": "select", "target": t, "option": value})
            return _action({"type": "click", "target": t})

        action = make(targets[0])
        if action is None:
            raise _Skip(f"action {i}: {kind} on {targets[0]!r} with value {value!r} is not a valid action")
        alts = [a for a in map(make, targets[1:]) if a is not None]
        text = "\n".join([f"Website: {website or 'unknown'}", *_render(ordered)])
        meta = {**common, "action_uid": act.get("action_uid"), "op": op_name,
                "original_op": operation.get("original_op"), "value": value, "action_repr": reprs[i]}
        steps.append(_Step({"text": text, "controls": ordered}, action, alts,
                           "finish" if i == len(actions) - 1 else "continue", meta))
    tid = _unique_id(aid, path.name.split(".")[0], used)
    return _records(dataset, tid, aid, request.strip(), steps)


def _mind2web_rows(rows: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """A task assembled from the rows of the flattened release (one action per row)."""
    idx = []
    for where, row in rows:
        k = row.get("target_action_index")
        k = int(k) if isinstance(k, str) and k.strip().isdigit() else k
        if type(k) is not int:
            raise _Skip(f"{where.rsplit(', ', 1)[-1]} has no integer target_action_index")
        idx.append(k)
    order = sorted(range(len(rows)), key=lambda j: idx[j])
    first = rows[order[0]][1]
    reprs = _maybe_json(first.get("action_reprs"))
    n = len(reprs) if isinstance(reprs, list) else len(rows)
    if [idx[j] for j in order] != list(range(n)):
        raise _Skip(f"its rows have target_action_index {sorted(idx)[:10]}, expected 0..{n - 1}")
    return {**{k: first.get(k) for k in ("annotation_id", "website", "domain", "subdomain", "confirmed_task")},
            "action_reprs": reprs, "actions": [rows[j][1] for j in order]}


def import_mind2web(src: Path, dataset: str | None = None) -> ImportResult:
    """Import Mind2Web task records (see the module docstring)."""
    dataset = dataset or "mind2web"

    def convert(path: Path, objects: list[tuple[str, Any]], result: ImportResult, used: set[str]) -> None:
        grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for where, obj in objects:
            if isinstance(obj, dict) and "actions" in obj:
                aid = _text(obj.get("annotation_id"))
                _add(result, where + (f" (annotation_id {aid!r})" if aid else ""),
                     lambda obj=obj: _mind2web_task(path, obj, dataset, used))
            elif isinstance(obj, dict) and "operation" in obj and "annotation_id" in obj:
                aid = _text(obj.get("annotation_id"))
                if not aid:
                    result.skipped.append(f"{where}: annotation_id is empty or not a string")
                    continue
                grouped.setdefault(aid, []).append((where, obj))
            else:
                kind = type(obj).__name__ if not isinstance(obj, dict) else "object"
                result.skipped.append(f"{where}: not a Mind2Web task ({kind} without actions)")
        for aid, rows in grouped.items():
            _add(result, f"{path}, annotation_id {aid!r} (first on {rows[0][0].rsplit(', ', 1)[-1]})",
                 lambda rows=rows: _mind2web_task(path, _mind2web_rows(rows), dataset, used))

    return _run(_files(src), convert)


# ---------------------------------------------------------------------------- entry point

IMPORTERS: dict[str, Callable[[Path, str | None], ImportResult]] = {
    "ufo": import_ufo,
    "mind2web": import_mind2web,
}
"""Format name -> importer(source path, dataset name or None for the default)."""

FORMATS = tuple(IMPORTERS)


def import_dataset(fmt: str, src: str | os.PathLike, *, dataset: str | None = None) -> ImportResult:
    """Import a published trajectory format into lambench step records.

    Raises :class:`DatasetError` for an unknown format, a missing source, or a source with
    nothing importable; everything else that is wrong is left out and listed in ``skipped``.
    """
    path = Path(src)
    importer = IMPORTERS.get(fmt) if isinstance(fmt, str) else None
    if importer is None:
        raise DatasetError(path, [f"unknown import format {fmt!r}"], hint=f"Known formats: {', '.join(IMPORTERS)}.")
    if not path.exists():
        raise DatasetError(path, ["no such file or directory"],
                           hint=f"Give a {fmt} file (.json or .jsonl) or a directory of them.")
    if path.is_dir() and not _files(path):
        raise DatasetError(path, ["the directory holds no .json or .jsonl files"],
                           hint=f"Give a {fmt} file (.json or .jsonl) or a directory of them.")
    result = importer(path, dataset)
    if not result.records:
        raise DatasetError(path, [f"nothing importable as {fmt}", *result.skipped],
                           hint=f"Is this really {fmt} data? The lines above say what was wrong.")
    tools = dataset_tools(result.records)
    for rec in result.records:
        rec["tools"] = tools
    return result


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
               (dict, "object"))


def dataset_tools(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool definitions an actor of these records needed: the action types the golds use, and one
    function per API tool called (its parameters and their JSON types as seen in the data), so an
    agent replaying an imported dataset knows, e.g., that UFO's ``select_text`` exists."""
    from lambench.action import action_tool_definitions

    kinds: set[str] = set()
    calls: dict[str, dict[str, set[str]]] = {}
    for rec in records:
        gold = rec["gold"]
        for a in [gold["action"], *gold.get("alternatives", [])]:
            kinds.add(a["type"])
            if a["type"] == "call":
                params = calls.setdefault(a["tool"], {})
                for k, v in (a.get("args") or {}).items():
                    types = params.setdefault(k, set())
                    if v is not None:
                        types.add(next((n for c, n in _JSON_TYPES if isinstance(v, c)), "string"))
    kinds.add("finish")
    tools = action_tool_definitions(tuple(sorted(kinds - {"call"})))
    for name in sorted(calls):
        props = {k: ({"type": sorted(ts)[0]} if len(ts) == 1 else {"type": sorted(ts)}) if ts else {}
                 for k, ts in sorted(calls[name].items())}
        tools.append({"type": "function", "function": {
            "name": name, "description": f"{name} (an API function recorded in the source data)",
            "parameters": {"type": "object", "properties": props, "required": []}}})
    return tools
