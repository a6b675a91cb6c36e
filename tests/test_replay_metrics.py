"""The LAM paper's step metrics on hand-computed examples."""

import math

import pytest

from lambench.metrics.replay import (action_text, canonical_args, replay_metrics, resolve_object, score_predictions,
                                     score_step, token_f1)

CONTROLS = [
    {"label": "1", "role": "button", "name": "Files"},
    {"label": "2", "role": "button", "name": "Mail"},
    {"label": "7", "role": "button", "name": "Send"},
    {"label": "8", "role": "edit", "name": "To"},
    {"label": "9", "role": "button", "name": "Save"},
    {"label": "10", "role": "button", "name": "Save"},
]


def test_objects_resolve_labels_and_unique_names_to_the_same_control():
    assert resolve_object({"type": "click", "target": "7"}, CONTROLS) == "#7"
    assert resolve_object({"type": "click", "target": "send"}, CONTROLS) == "#7"
    assert resolve_object({"type": "type", "target": "To", "text": "x"}, CONTROLS) == "#8"
    # two controls share a name: the name is ambiguous, so it stays text and matches neither label
    assert resolve_object({"type": "click", "target": "Save"}, CONTROLS) == "?save"
    assert resolve_object({"type": "click", "target": "Nowhere"}, CONTROLS) == "?nowhere"
    assert resolve_object({"type": "open_app", "app": " Mail "}, CONTROLS) == "app:mail"
    assert resolve_object({"type": "call", "tool": "mail.send", "args": {}}, CONTROLS) == "tool:mail.send"
    assert resolve_object({"type": "scroll", "direction": "down"}, CONTROLS) is None
    for a in ({"type": "hotkey", "keys": "ctrl+s"}, {"type": "wait"}, {"type": "finish", "status": "success"},
              {"type": "shell", "command": "ls"}, None):
        assert resolve_object(a, CONTROLS) is None


def test_argument_normalisation():
    assert canonical_args({"type": "type", "target": "8", "text": "  bob@acme.example \n"}) == "bob@acme.example"
    assert canonical_args({"type": "type", "target": "8", "text": "Bob"}) != canonical_args(
        {"type": "type", "target": "8", "text": "bob"})  # typed text keeps its case
    assert canonical_args({"type": "hotkey", "keys": "S+Control"}) == canonical_args({"type": "hotkey", "keys": "ctrl+s"})
    assert canonical_args({"type": "hotkey", "keys": "esc"}) == "escape"
    assert canonical_args({"type": "hotkey", "keys": "ctrl++"}) == "ctrl++"  # the plus key
    assert canonical_args({"type": "hotkey", "keys": "ctrl++"}) != canonical_args({"type": "hotkey", "keys": "ctrl"})
    assert canonical_args({"type": "hotkey", "keys": "ctrl+"}) != canonical_args({"type": "hotkey", "keys": "ctrl"})
    # free text keeps its inner spaces and line breaks; names and options collapse whitespace
    assert canonical_args({"type": "shell", "command": "echo 'a  b'"}) != canonical_args(
        {"type": "shell", "command": "echo 'a b'"})
    assert canonical_args({"type": "type", "target": "1", "text": "l1\nl2"}) != canonical_args(
        {"type": "type", "target": "1", "text": "l1 l2"})
    assert canonical_args({"type": "type", "target": "1", "text": "l1\r\nl2 "}) == canonical_args(
        {"type": "type", "target": "1", "text": "l1\nl2"})
    assert canonical_args({"type": "select", "target": "1", "option": " Economy   class"}) == "Economy class"
    a = {"type": "call", "tool": "t", "args": {"n": 1, "to": ["a@x", "b@x"], "flag": True, "x": None}}
    b = {"type": "call", "tool": "t", "args": {"to": ["a@x", "b@x"], "flag": True, "n": 1.0}}
    assert canonical_args(a) == canonical_args(b)  # key order, 1 == 1.0, null = absent
    assert canonical_args({**b, "args": {**b["args"], "flag": 1}}) != canonical_args(b)  # true is not 1
    assert canonical_args({**b, "args": {**b["args"], "to": ["b@x", "a@x"]}}) != canonical_args(b)  # order of a list
    # finish: the status counts, the message does not
    assert canonical_args({"type": "finish", "status": "success", "message": "done"}) == canonical_args(
        {"type": "finish", "status": "success", "message": ""})
    assert canonical_args({"type": "finish", "status": "success"}) != canonical_args(
        {"type": "finish", "status": "infeasible"})


def test_token_f1_by_hand():
    # pred tokens: quarterly, report, final (3); gold: the, quarterly, report (3); common 2 -> P = R = 2/3
    assert token_f1("Quarterly report final", "the quarterly report") == pytest.approx(2 / 3)
    # pred: a a b (3); gold: a b b c (4); common: a (1) + b (1) = 2 -> P 2/3, R 2/4 -> F1 = 4/7
    assert token_f1("a a b", "a b b c") == pytest.approx(4 / 7)
    assert token_f1("", "") == 1.0
    assert token_f1("x", "") == 0.0
    assert token_f1("x y", "z") == 0.0
    assert action_text({"type": "call", "tool": "mail.send", "args": {"to": ["x"], "subject": "Hi", "body": "Yo"}}) \
        == "Yo Hi"  # string arguments in key order: body, subject


def _score(pred, gold, *, alts=(), pred_status=None, gold_status="continue", controls=CONTROLS):
    golds = [(g, resolve_object(g, controls)) for g in (gold, *alts)]
    if pred is not None and pred_status is None:
        pred_status = "finish" if pred["type"] == "finish" else "continue"
    return score_step(pred, resolve_object(pred, controls), pred_status, golds, gold_status)


def test_score_step_components():
    gold = {"type": "type", "target": "8", "text": "bob@acme.example"}
    v = _score({"type": "type", "target": "To", "text": "bob@acme.example"}, gold)
    assert (v["object"], v["operation"], v["args"], v["status"], v["success"], v["f1"]) == (True,) * 5 + (1.0,)
    v = _score({"type": "type", "target": "8", "text": "alice@acme.example"}, gold)
    assert (v["object"], v["operation"], v["args"], v["success"]) == (True, True, False, False)
    # Mind2Web's operation F1: tokens {type} + alice|bob, acme, example -> 3 of 4 shared -> 0.75
    assert v["f1"] == pytest.approx(0.75)
    v = _score({"type": "shell", "command": "bob@acme.example"}, gold)  # same text, other operation
    assert v["f1"] == pytest.approx(0.75) and not v["operation"]
    v = _score({"type": "click", "target": "8"}, gold)  # right control, wrong operation: args not judged
    assert (v["object"], v["operation"], v["args"]) == (True, False, False)
    assert v["f1"] == 0.0 and v["gold_type"] == "type" and v["pred_type"] == "click"
    v = _score({"type": "click", "target": "7"}, {"type": "click", "target": "Send"})
    assert v["success"] and v["f1"] is None  # no typed text in the gold: no F1
    v = _score(None, gold)
    assert not any(v[k] for k in ("object", "operation", "args", "status", "success"))
    assert v["pred_type"] == "invalid" and v["f1"] == 0.0


def test_status_is_judged_separately():
    gold = {"type": "finish", "status": "success"}
    v = _score({"type": "finish", "status": "success", "message": "all done"}, gold, gold_status="finish")
    assert v["success"]
    v = _score({"type": "finish", "status": "infeasible"}, gold, gold_status="finish")
    assert (v["operation"], v["args"], v["status"], v["success"]) == (True, False, True, False)
    # a real action that completes the task (UFO's FINISH status): the status must be declared
    gold = {"type": "click", "target": "7"}
    assert not _score(gold, gold, gold_status="finish")["success"]
    assert _score(gold, gold, pred_status="finish", gold_status="finish")["success"]
    v = _score({"type": "finish", "status": "success"}, gold)  # stopping early: wrong status too
    assert (v["object"], v["operation"], v["status"]) == (False, False, False)


def test_alternatives_count_and_the_best_match_is_reported():
    gold = {"type": "open_app", "app": "Mail"}
    alt = {"type": "click", "target": "2"}
    v = _score({"type": "click", "target": "Mail"}, gold, alts=[alt])
    assert v["success"] and v["match"] == 1 and v["gold_type"] == "click"
    v = _score({"type": "click", "target": "1"}, gold, alts=[alt])  # wrong taskbar button
    assert not v["success"] and v["match"] == 1 and (v["object"], v["operation"]) == (False, True)
    v = _score({"type": "open_app", "app": "mail"}, gold, alts=[alt])
    assert v["success"] and v["match"] == 0


def test_replay_metrics_by_hand():
    ok = {"object": True, "operation": True, "args": True, "status": True, "success": True, "f1": None,
          "gold_type": "click", "pred_type": "click"}
    wrong_args = {**ok, "args": False, "success": False, "f1": 0.5, "gold_type": "type", "pred_type": "type"}
    invalid = {"object": False, "operation": False, "args": False, "status": False, "success": False, "f1": None,
               "gold_type": "finish", "pred_type": "invalid"}
    m = replay_metrics([
        {"verdicts": [ok, ok, ok], "complete": True},          # all right
        {"verdicts": [ok, wrong_args], "complete": True},      # one step wrong
        {"verdicts": [ok, invalid, ok, ok, ok], "complete": False},  # missing steps: not in TSR
    ])
    assert m["steps"] == 10 and m["trajectories"] == 3 and m["trajectories_complete"] == 2
    assert m["step_success_rate"] == pytest.approx(8 / 10)
    assert m["object_accuracy"] == pytest.approx(9 / 10)
    assert m["operation_accuracy"] == pytest.approx(9 / 10)
    assert m["argument_accuracy"] == pytest.approx(8 / 10)
    assert m["status_accuracy"] == pytest.approx(9 / 10)
    assert m["invalid_rate"] == pytest.approx(1 / 10)
    assert m["argument_f1"] == pytest.approx(0.5) and m["argument_f1_steps"] == 1
    assert m["task_success_rate"] == pytest.approx(1 / 2)
    assert m["macro"]["step_success_rate"] == pytest.approx((1 + 1 / 2 + 4 / 5) / 3)
    assert m["confusion"] == {"click": {"click": 8}, "type": {"type": 1}, "finish": {"invalid": 1}}
    assert m["by_gold_type"]["click"] == {"steps": 8, "step_success_rate": 1.0}
    lo, hi = m["step_success_ci95"]
    assert lo < 0.8 < hi


def test_empty_and_score_predictions():
    m = replay_metrics([])
    assert m["steps"] == 0 and m["step_success_rate"] is None and m["task_success_rate"] is None
    click = {"type": "click", "target": "7"}
    rows = [
        {"trajectory_id": "a", "pred": click, "pred_object": "#7", "pred_status": "continue",
         "golds": [[click, "#7"]], "gold_status": "continue"},
        {"trajectory_id": "a", "pred": None, "pred_object": None, "pred_status": None,
         "golds": [[{"type": "finish", "status": "success"}, None]], "gold_status": "finish"},
        {"trajectory_id": "b", "pred": click, "pred_object": "#7", "pred_status": "finish",
         "golds": [[click, "#7"]], "gold_status": "finish"},
    ]
    m = score_predictions(rows)
    assert m["steps"] == 3 and m["trajectories"] == 2
    assert m["step_success_rate"] == pytest.approx(2 / 3) and m["task_success_rate"] == pytest.approx(1 / 2)
    assert score_predictions(rows, incomplete=["a"])["task_success_rate"] == 1.0
    assert not math.isnan(m["macro"]["step_success_rate"])
