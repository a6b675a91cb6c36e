"""Format ``mind2web`` — Mind2Web task records (a JSON list of tasks, a directory of such files,
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

import re
from pathlib import Path
from typing import Any

from lambench.replay.importers.common import (MAX_NAME, ImportResult, RecordKinds, Skip, Step, as_action,
                                              as_text, label_key, maybe_json, render_controls, run_importer,
                                              sort_objects, step_records, unique_trajectory_id)
from lambench.replay.importers.sources import source_files

__all__ = ["import_mind2web"]


_REPR = re.compile(r"^\s*\[(?P<tag>[^\]]*)\]\s*(?P<text>.*?)\s*->\s*(?P<op>CLICK|TYPE|SELECT|HOVER|ENTER)\b",
                   re.DOTALL)
_ATTR_TEXT = ("aria_label", "aria-label", "title", "placeholder", "name", "alt", "value", "id")
_OPS = {"CLICK": "click", "HOVER": "click", "ENTER": "click", "TYPE": "type", "SELECT": "select"}


def _candidate(raw: Any) -> tuple[str, str, dict[str, Any], bool] | None:
    """(backend_node_id, tag, attributes, is_original_target) of a candidate, or None if it has no id."""
    raw = maybe_json(raw)
    if not isinstance(raw, dict):
        return None
    attrs = maybe_json(raw.get("attributes"))
    attrs = attrs if isinstance(attrs, dict) else {}
    node = as_text(raw.get("backend_node_id")) or as_text(attrs.get("backend_node_id"))
    if not node:
        return None
    return node, as_text(raw.get("tag")), attrs, raw.get("is_original_target") is True


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
    return {k: " ".join(" ".join(v).split())[:MAX_NAME] for k, v in texts.items() if v}


def _attr_text(attrs: dict[str, Any]) -> str:
    for k in _ATTR_TEXT:
        v = attrs.get(k)
        if isinstance(v, str) and v.strip():
            return " ".join(v.split())[:MAX_NAME]
    return ""


def _mind2web_task(path: Path, task: dict[str, Any], dataset: str, used: set[str]) -> list[dict[str, Any]]:
    aid = as_text(task.get("annotation_id"))
    if not aid:
        raise Skip("annotation_id is missing")
    request = task.get("confirmed_task")
    if not isinstance(request, str) or not request.strip():
        raise Skip("confirmed_task is missing or not a string")
    actions = maybe_json(task.get("actions"))
    if not isinstance(actions, list) or not actions:
        raise Skip("actions is missing, empty or not a list")
    reprs = maybe_json(task.get("action_reprs"))
    reprs = reprs if isinstance(reprs, list) and len(reprs) == len(actions) else [None] * len(actions)
    website = as_text(task.get("website"))
    common = {"source": "mind2web", "file": str(path), "annotation_id": aid, "website": website or None,
              "domain": task.get("domain"), "subdomain": task.get("subdomain"), "apps": [website] if website else []}
    steps = []
    for i, act in enumerate(actions):
        act = maybe_json(act)
        if not isinstance(act, dict):
            raise Skip(f"action {i} is not an object")
        operation = maybe_json(act.get("operation"))
        operation = operation if isinstance(operation, dict) else {}
        op_name = as_text(operation.get("op")).upper() or as_text(operation.get("original_op")).upper()
        kind = _OPS.get(op_name)
        if kind is None:
            raise Skip(f"action {i} has an unknown operation {op_name or operation!r}")
        value = operation.get("value")
        value = value if isinstance(value, str) else as_text(value)
        pos_raw = maybe_json(act.get("pos_candidates"))
        neg_raw = maybe_json(act.get("neg_candidates"))
        pos = [c for c in map(_candidate, pos_raw if isinstance(pos_raw, list) else []) if c is not None]
        neg = [c for c in map(_candidate, neg_raw if isinstance(neg_raw, list) else []) if c is not None]
        if not pos:
            raise Skip(f"action {i} ({as_text(act.get('action_uid')) or 'no action_uid'}) has no positive candidate")
        pos.sort(key=lambda c: not c[3])  # the original target first, the others in source order
        # Every candidate is named the same way — its text on the page, else its attributes — so the
        # name never gives away which one is the target (the action_reprs text exists only for it).
        page_text = _node_texts(act.get("cleaned_html"))
        controls: dict[str, dict[str, Any]] = {}
        for node, tag, attrs, _orig in pos + neg:
            if node not in controls:
                controls[node] = {"label": node, "role": tag, "name": page_text.get(node) or _attr_text(attrs)}
        ordered = [controls[k] for k in sorted(controls, key=label_key)]
        targets = list(dict.fromkeys(c[0] for c in pos))

        def make(t: str, kind: str = kind, value: str = value) -> dict[str, Any] | None:
            if kind == "type":
                return as_action({"type": "type", "target": t, "text": value})
            if kind == "select":
                return as_action({"type": "select", "target": t, "option": value})
            return as_action({"type": "click", "target": t})

        action = make(targets[0])
        if action is None:
            raise Skip(f"action {i}: {kind} on {targets[0]!r} with value {value!r} is not a valid action")
        alts = [a for a in map(make, targets[1:]) if a is not None]
        text = "\n".join([f"Website: {website or 'unknown'}", *render_controls(ordered)])
        meta = {**common, "action_uid": act.get("action_uid"), "op": op_name,
                "original_op": operation.get("original_op"), "value": value, "action_repr": reprs[i]}
        steps.append(Step({"text": text, "controls": ordered}, action, alts,
                           "finish" if i == len(actions) - 1 else "continue", meta))
    tid = unique_trajectory_id(aid, path.name.split(".")[0], used)
    return step_records(dataset, tid, aid, request.strip(), steps)


def _mind2web_rows(rows: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """A task assembled from the rows of the flattened release (one action per row)."""
    idx = []
    for where, row in rows:
        k = row.get("target_action_index")
        k = int(k) if isinstance(k, str) and k.strip().isdigit() else k
        if type(k) is not int:
            raise Skip(f"{where.rsplit(', ', 1)[-1]} has no integer target_action_index")
        idx.append(k)
    order = sorted(range(len(rows)), key=lambda j: idx[j])
    first = rows[order[0]][1]
    reprs = maybe_json(first.get("action_reprs"))
    n = len(reprs) if isinstance(reprs, list) else len(rows)
    if [idx[j] for j in order] != list(range(n)):
        raise Skip(f"its rows have target_action_index {sorted(idx)[:10]}, expected 0..{n - 1}")
    return {**{k: first.get(k) for k in ("annotation_id", "website", "domain", "subdomain", "confirmed_task")},
            "action_reprs": reprs, "actions": [rows[j][1] for j in order]}


_KINDS = RecordKinds(whole="actions", whole_id="annotation_id", line=("operation", "annotation_id"),
                     group_id="annotation_id", group_label="annotation_id",
                     neither="not a Mind2Web task ({kind} without actions)")


def import_mind2web(src: Path, dataset: str | None = None) -> ImportResult:
    """Import Mind2Web task records (see the module docstring)."""
    dataset = dataset or "mind2web"

    def convert(path: Path, objects: list[tuple[str, Any]], result: ImportResult, used: set[str]) -> None:
        sort_objects(path, objects, result, _KINDS, lambda obj: _mind2web_task(path, obj, dataset, used),
                     lambda aid, rows: _mind2web_task(path, _mind2web_rows(rows), dataset, used))

    return run_importer(source_files(src), convert)
