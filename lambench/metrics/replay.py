"""Step-level scoring of offline replay, with the LAM paper's metrics.

For every step, a prediction is compared with the gold action and each acceptable alternative;
the best-matching one counts.  Four things are judged:

- **object**: the target — the control a GUI action addresses (resolved through the step's
  controls, so a label and the control's unique name are the same object; a point of the screenshot is the
  control whose recorded box holds it), the app of
  ``open_app``, the tool of ``call``; actions without one (``hotkey``, ``wait``, ``shell``,
  ``finish``, untargeted ``scroll``) have the object ``None``;
- **operation**: the action type;
- **arguments**: everything else, exactly after normalisation (whitespace collapsed, Unicode NFC,
  1 == 1.0, key combinations in a canonical order; ``finish`` compares its status, not its
  message), judged only when the operation is right; plus **argument F1**, the token F1 of the
  typed text (``type`` text, ``select`` option, ``shell`` command, string arguments of ``call``)
  on the steps whose gold has any, as in Mind2Web's operation F1;
- **status**: ``continue`` vs ``finish`` — ``finish`` when the predicted action is ``finish`` or
  the agent set ``last_status = "finish"`` (it declares that its action completes the task).

A step succeeds when all four hold (**SSR**); a trajectory succeeds when all its steps do
(**TSR**; trajectories with missing steps are left out of it).  An output that does not parse
is wrong on all four.  Step metrics are given over all steps (micro) and averaged per
trajectory (macro); the confusion table counts gold action type x predicted type.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any, Iterable, Mapping

from lambench.metrics.stats import wilson_interval

__all__ = ["replay_summary", "resolve_object", "canonical_args", "action_text", "token_f1", "score_step", "replay_metrics",
           "score_predictions", "COMPONENTS", "INVALID"]

COMPONENTS = ("object", "operation", "args", "status")
INVALID = "invalid"
_TARGETED = frozenset(("click", "double_click", "type", "select", "scroll"))
_TOKEN = re.compile(r"\w+")
_KEY_ALIASES = {"control": "ctrl", "esc": "escape", "return": "enter", "option": "alt", "cmd": "meta",
                "command": "meta", "win": "meta", "super": "meta"}
_MODIFIERS = ("ctrl", "alt", "shift", "meta")


def _norm_name(s: str) -> str:
    """A name (target, option, app, tool): Unicode NFC, whitespace runs collapsed."""
    if not s.isascii():
        s = unicodedata.normalize("NFC", s)
    return " ".join(s.split())


def _norm_free(s: str) -> str:
    """Free text (typed text, a command, a message body): NFC, line endings unified, ends stripped —
    inner spaces and line breaks are part of the content."""
    if not s.isascii():
        s = unicodedata.normalize("NFC", s)
    return s.replace("\r\n", "\n").strip()


def resolve_object(action: Mapping[str, Any] | None, controls: list[Mapping[str, Any]] | None = None) -> str | None:
    """The canonical object of an action, given the controls of the observation it was taken in.

    A GUI target that is a control's label or the unique name of one becomes ``#<label>``; a
    target matching no control is compared by its text (``?<text>``); ``open_app`` gives
    ``app:<name>``, ``call`` gives ``tool:<name>``; other actions have none.
    """
    if not action:
        return None
    kind = action.get("type")
    if kind in _TARGETED:
        target = action.get("target")
        if target is None and isinstance(action.get("x"), int) and isinstance(action.get("y"), int):
            return _object_at(action["x"], action["y"], controls)
        if target is None:
            return None
        target = _norm_name(str(target))
        if controls:
            for c in controls:
                if c.get("label") == target:
                    return "#" + target
            low = target.casefold()
            hits = [c for c in controls if str(c.get("name", "")).strip().casefold() == low]
            if len(hits) == 1:
                return "#" + str(hits[0].get("label"))
        return "?" + target.casefold()
    if kind == "open_app":
        return "app:" + _norm_name(str(action.get("app", ""))).casefold()
    if kind == "call":
        return "tool:" + _norm_name(str(action.get("tool", ""))).casefold()
    return None


def _object_at(x: int, y: int, controls: list[Mapping[str, Any]] | None) -> str:
    """The object of an action at a point: the control whose ``box`` (recorded in the image observation modes)
    holds it, the topmost (last) one; a point on no control is its own, wrong, object."""
    for c in reversed(controls or []):
        box = c.get("box")
        if isinstance(box, (list, tuple)) and len(box) == 4 and box[0] <= x < box[2] and box[1] <= y < box[3]:
            return "#" + str(c.get("label"))
    return f"@{x},{y}"


def _canon(value: Any) -> Any:
    if isinstance(value, str):
        return _norm_free(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return ("n", float(value))
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _canon(v)) for k, v in value.items() if v is not None))
    if isinstance(value, (list, tuple)):
        return tuple(_canon(v) for v in value)
    return repr(value)


def _keys(keys: str) -> str:
    keys = keys.lower().replace(" ", "")
    if keys.endswith("++") or keys == "+":  # the plus key itself
        parts = keys[:-2].split("+") + ["+"] if len(keys) > 1 else ["+"]
    else:
        parts = keys.split("+")  # an empty part (``ctrl+``) stays: it is not ``ctrl``
    parts = [_KEY_ALIASES.get(p, p) for p in parts]
    mods = sorted((p for p in parts if p in _MODIFIERS), key=_MODIFIERS.index)
    return "+".join(mods + [p for p in parts if p not in _MODIFIERS])


def canonical_args(action: Mapping[str, Any]) -> Any:
    """The arguments of an action (all but its type and object), normalised for an exact comparison."""
    kind = action.get("type")
    if kind == "type":
        return _norm_free(str(action.get("text", "")))
    if kind == "select":
        return _norm_name(str(action.get("option", "")))
    if kind == "scroll":
        return action.get("direction", "down")
    if kind == "hotkey":
        return _keys(str(action.get("keys", "")))
    if kind == "call":
        return _canon(action.get("args") or {})
    if kind == "shell":
        return _norm_free(str(action.get("command", "")))
    if kind == "finish":
        return action.get("status")
    return None  # click, open_app, wait: nothing beyond the object


def action_text(action: Mapping[str, Any] | None) -> str:
    """The typed text of an action (what argument F1 compares); empty when it has none."""
    if not action:
        return ""
    kind = action.get("type")
    if kind == "type":
        return str(action.get("text", ""))
    if kind == "select":
        return str(action.get("option", ""))
    if kind == "shell":
        return str(action.get("command", ""))
    if kind == "call":
        args = action.get("args") or {}
        return " ".join(str(args[k]) for k in sorted(args) if isinstance(args[k], str))
    return ""


def token_f1(pred: str, gold: str, *, pred_op: str | None = None, gold_op: str | None = None) -> float:
    """Token-level F1 of two texts (case-insensitive word tokens); 1.0 when both have no tokens.

    With ``pred_op``/``gold_op`` the operation is one more token of each side, as in Mind2Web's
    operation F1 (the same text typed through another operation gets partial credit only).
    """
    if pred == gold and pred_op == gold_op:
        return 1.0
    p, g = _TOKEN.findall(pred.casefold()), _TOKEN.findall(gold.casefold())
    if pred_op is not None:
        p.append("\x00" + pred_op)
    if gold_op is not None:
        g.append("\x00" + gold_op)
    if not p and not g:
        return 1.0
    if not p or not g:
        return 0.0
    left: dict[str, int] = {}
    for t in g:
        left[t] = left.get(t, 0) + 1
    common = 0
    for t in p:  # multiset intersection, without Counter's overhead (these lists are short)
        c = left.get(t)
        if c:
            common += 1
            left[t] = c - 1
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def score_step(pred: Mapping[str, Any] | None, pred_object: str | None, pred_status: str | None,
               golds: list[tuple[Mapping[str, Any], str | None]], gold_status: str) -> dict[str, Any]:
    """Judge one prediction against the gold action and its alternatives (``golds[0]`` is the gold action).

    ``pred`` is the parsed action (``None`` when the output did not parse); objects come from
    :func:`resolve_object`.  Returns ``object``, ``operation``, ``args``, ``status``, ``success``
    (booleans), ``f1`` (argument F1, ``None`` when the gold has no typed text), ``gold_type``,
    ``pred_type`` and ``match`` (index of the candidate that counted: 0 is the gold action).
    """
    gold0, gobj0 = golds[0]
    if pred is None:
        return {"object": False, "operation": False, "args": False, "status": False, "success": False,
                "f1": 0.0 if action_text(gold0) else None, "gold_type": gold0.get("type"), "pred_type": INVALID,
                "match": 0}
    ptype = pred.get("type")
    status_ok = pred_status == gold_status
    if status_ok and pred == gold0 and pred_object == gobj0:  # fast path: exactly the gold action
        return {"object": True, "operation": True, "args": True, "status": True, "success": True,
                "f1": 1.0 if action_text(gold0) else None, "gold_type": ptype, "pred_type": ptype, "match": 0}
    best: tuple | None = None
    pargs = None
    for i, (gold, gobj) in enumerate(golds):
        gtype = gold.get("type")
        obj_ok = pred_object == gobj
        op_ok = ptype == gtype
        if op_ok:
            if pargs is None:
                pargs = canonical_args(pred)
            args_ok = pargs == canonical_args(gold)
        else:
            args_ok = False
        success = obj_ok and op_ok and args_ok and status_ok
        key = (success, obj_ok + op_ok + args_ok, -i)
        if best is None or key > best[0]:
            best = (key, i, obj_ok, op_ok, args_ok, success, gold)
            if success:
                break
    _key, i, obj_ok, op_ok, args_ok, success, gold = best
    gtext = action_text(gold)
    f1 = (1.0 if success else token_f1(action_text(pred), gtext, pred_op=ptype, gold_op=gold.get("type"))
          ) if gtext else None
    return {"object": obj_ok, "operation": op_ok, "args": args_ok, "status": status_ok, "success": success,
            "f1": f1, "gold_type": gold.get("type"), "pred_type": ptype, "match": i}


def _rate(num: float, den: int) -> float | None:
    return num / den if den else None


def _by_gold_type(pairs: Mapping[tuple[str, str], list[int]]
                  ) -> tuple[dict[str, dict[str, int]], dict[str, list[int]], int]:
    """From ``{(gold type, predicted type): [steps, successes]}``: the confusion table, ``{gold type:
    [steps, successes]}`` and the number of invalid predictions."""
    confusion: dict[str, dict[str, int]] = {}
    by_type: dict[str, list[int]] = {}
    invalid = 0
    for (gt, pt), (count, ok) in pairs.items():
        row = confusion.setdefault(gt, {})
        row[pt] = row.get(pt, 0) + count
        bt = by_type.setdefault(gt, [0, 0])
        bt[0] += count
        bt[1] += ok
        if pt == INVALID:
            invalid += count
    return confusion, by_type, invalid


def replay_metrics(trajectories: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate step verdicts into the replay metrics.

    Each trajectory is a mapping with ``verdicts`` (the :func:`score_step` results of its steps,
    in order) and ``complete`` (False when the dataset misses some of its steps: left out of TSR).
    """
    n_steps = 0
    sums = dict.fromkeys(("object", "operation", "args", "status", "success", "invalid"), 0)
    f1s: list[float] = []
    # per-trajectory shares, summed exactly (math.fsum) so the order of trajectories never changes a digit
    macro: dict[str, list[float]] = {k: [] for k in ("object", "operation", "args", "status", "success")}
    n_traj = 0
    complete = 0
    traj_success = 0
    pairs: dict[tuple[str, str], list[int]] = {}  # (gold type, predicted type) -> [steps, successes]
    for traj in trajectories:
        verdicts = traj["verdicts"]
        if not verdicts:
            continue
        n_traj += 1
        c_obj = c_op = c_args = c_status = c_ok = 0
        for v in verdicts:
            c_obj += v["object"]
            c_op += v["operation"]
            c_args += v["args"]
            c_status += v["status"]
            ok = v["success"]
            c_ok += ok
            f1 = v["f1"]
            if f1 is not None:
                f1s.append(f1)
            key = (v["gold_type"], v["pred_type"])
            cell = pairs.get(key)
            if cell is None:
                pairs[key] = [1, int(ok)]
            else:
                cell[0] += 1
                cell[1] += ok
        n = len(verdicts)
        n_steps += n
        for k, c in (("object", c_obj), ("operation", c_op), ("args", c_args), ("status", c_status),
                     ("success", c_ok)):
            sums[k] += c
            macro[k].append(c / n)
        if traj.get("complete", True):
            complete += 1
            traj_success += c_ok == n
    confusion, by_type, sums["invalid"] = _by_gold_type(pairs)
    ssr_lo, ssr_hi = wilson_interval(sums["success"], n_steps) if n_steps else (math.nan, math.nan)
    tsr_lo, tsr_hi = wilson_interval(traj_success, complete) if complete else (math.nan, math.nan)
    return {
        "steps": n_steps,
        "trajectories": n_traj,
        "trajectories_complete": complete,
        "object_accuracy": _rate(sums["object"], n_steps),
        "operation_accuracy": _rate(sums["operation"], n_steps),
        "argument_accuracy": _rate(sums["args"], n_steps),
        "argument_f1": _rate(math.fsum(f1s), len(f1s)),
        "argument_f1_steps": len(f1s),
        "status_accuracy": _rate(sums["status"], n_steps),
        "step_success_rate": _rate(sums["success"], n_steps),
        "step_success_ci95": [ssr_lo, ssr_hi] if n_steps else None,
        "task_success_rate": _rate(traj_success, complete),
        "task_success_ci95": [tsr_lo, tsr_hi] if complete else None,
        "invalid_rate": _rate(sums["invalid"], n_steps),
        "macro": {
            "object_accuracy": _rate(math.fsum(macro["object"]), n_traj),
            "operation_accuracy": _rate(math.fsum(macro["operation"]), n_traj),
            "argument_accuracy": _rate(math.fsum(macro["args"]), n_traj),
            "status_accuracy": _rate(math.fsum(macro["status"]), n_traj),
            "step_success_rate": _rate(math.fsum(macro["success"]), n_traj),
        },
        "by_gold_type": {t: {"steps": c[0], "step_success_rate": c[1] / c[0]} for t, c in sorted(by_type.items())},
        "confusion": {g: dict(sorted(row.items())) for g, row in sorted(confusion.items())},
    }


def score_predictions(steps: Iterable[Mapping[str, Any]], incomplete: Iterable[str] = ()) -> dict[str, Any]:
    """Score already-predicted steps and aggregate them (what ``lambench score`` does for a replay run).

    Each step is a mapping with ``trajectory_id``, ``pred`` (the parsed action or ``None``),
    ``pred_object``, ``pred_status``, ``golds`` (``[[action, object], ...]``, the gold action first)
    and ``gold_status``.  Steps of a trajectory must be consecutive.
    """
    skip = set(incomplete)
    trajs: list[dict[str, Any]] = []
    current = None
    for s in steps:
        tid = s["trajectory_id"]
        if current is None or current["id"] != tid:
            current = {"id": tid, "verdicts": [], "complete": tid not in skip}
            trajs.append(current)
        current["verdicts"].append(score_step(s["pred"], s.get("pred_object"), s.get("pred_status"),
                                              s["golds"], s["gold_status"]))
    return replay_metrics(trajs)


def replay_summary(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The LAM paper's metrics of a replay run, re-scored from the stored predictions."""
    scored = [e for e in episodes if e.get("error") is None]

    def rows():
        for e in scored:
            for st in e.get("steps") or []:
                yield {"trajectory_id": e["task_id"], "pred": st.get("action") if st.get("valid") else None,
                       "pred_object": st.get("pred_object"), "pred_status": st.get("pred_status"),
                       "golds": st["golds"], "gold_status": st["gold_status"]}

    incomplete = [e["task_id"] for e in scored if not (e.get("replay") or {}).get("complete", True)]
    out = score_predictions(rows(), incomplete)
    out["errored_trajectories"] = len(episodes) - len(scored)
    return out
