"""Importers of published trajectory formats (UFO dataflow, Mind2Web) into replay step records."""

import gzip
import json
import random
import shutil
from pathlib import Path

import pytest

from lambench.action import parse_action
from lambench.replay.dataset import (
    DatasetError,
    LineTooLong,
    load_dataset,
    validate_step,
    write_dataset,
)
from lambench.replay.importers import IMPORTERS, MAX_IMPORT_BYTES, ImportResult, import_dataset
from lambench.replay.importers import read_objects as _read_objects
from lambench.replay.run import ReplayConfig, replay
from tests.bombs import cli, peak_growth, write_gzip_bomb

DATA = Path(__file__).parent / "data" / "importers"
UFO_RESULT = DATA / "ufo_result.json"
UFO_STEPS = DATA / "ufo_steps.jsonl"
MIND2WEB = DATA / "mind2web.json"
REAL_UFO = Path("/work/shared/external/ufo-dataflow/result_bulleted.json")


def _by_traj(result: ImportResult) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for rec in result.records:
        out.setdefault(rec["trajectory_id"], []).append(rec)
    return out


def _check_records(result: ImportResult) -> None:
    """Every record validates, histories are the earlier golds, actions are stored normalised."""
    for rec in result.records:
        assert validate_step(rec) == [], rec
        for a in [rec["gold"]["action"], *rec["gold"]["alternatives"], *rec["history"]]:
            assert parse_action(a).valid and parse_action(a).action.model_dump() == a
        assert rec["suite"] is None and rec["variant"] == "clean"
    for steps in _by_traj(result).values():
        assert [s["step"] for s in steps] == list(range(len(steps)))
        assert all(s["n_steps"] == len(steps) for s in steps)
        for i, s in enumerate(steps):
            assert s["history"] == [p["gold"]["action"] for p in steps[:i]]
            assert s["gold"]["status"] == ("finish" if i == len(steps) - 1 else "continue")
    assert result.trajectories == len(_by_traj(result))


# ---------------------------------------------------------------------------- ufo


def test_ufo_result_record():
    res = import_dataset("ufo", UFO_RESULT)
    _check_records(res)
    assert res.skipped == [] and res.trajectories == 1
    s0, s1, s2 = res.records
    assert s0["dataset"] == "ufo" and s0["trajectory_id"] == s0["task_id"] == "t-101"
    assert s0["request"] == "Add the watermark 'DRAFT' to the report, then select its title 'Quarterly report'."
    assert s0["gold"] == {"action": {"type": "click", "target": "12"},
                          "alternatives": [{"type": "click", "target": "Design"}], "status": "continue"}
    assert s1["gold"] == {"action": {"type": "type", "target": "40", "text": "DRAFT"},
                          "alternatives": [{"type": "type", "target": "Text", "text": "DRAFT"},
                                           {"type": "type", "target": "Watermark text", "text": "DRAFT"}],
                          "status": "continue"}
    assert s2["gold"] == {"action": {"type": "call", "tool": "select_text", "args": {"text": "Quarterly report"}},
                          "alternatives": [], "status": "finish"}
    assert s2["history"] == [s0["gold"]["action"], s1["gold"]["action"]]
    # no screen in the source: said plainly, no controls, and no subtask text (it would give the answer away)
    for s in res.records:
        assert s["observation"] == {"text": "App: word\n(no screen recorded in the source; the control list is empty)",
                                    "controls": []}
    assert "Design" not in json.dumps(s0["observation"])
    assert s0["meta"]["subtask"] == "Open the Design tab"
    assert s1["meta"]["function"] == "set_edit_text" and s1["meta"]["args"] == {"text": "DRAFT"}
    assert s2["meta"]["success"] is False and s0["meta"]["complete"] == "no"
    assert s0["meta"]["apps"] == ["word"] and s0["meta"]["source"] == "ufo"


def test_ufo_step_lines():
    res = import_dataset("ufo", UFO_STEPS, dataset="ufo-lam")
    _check_records(res)
    trajs = _by_traj(res)
    assert list(trajs) == ["e1", "e3"]
    assert {r["dataset"] for r in res.records} == {"ufo-lam"}
    e1, e3 = trajs["e1"], trajs["e3"]
    # lines out of order in the file are put in step_id order
    assert [s["gold"]["action"] for s in e1] == [
        {"type": "hotkey", "keys": "ctrl+a"},
        {"type": "click", "target": "12"},
        {"type": "scroll", "target": "5", "direction": "down"},
    ]
    assert e1[0]["gold"]["alternatives"] == [{"type": "hotkey", "keys": "{VK_CONTROL}a"}]
    assert e1[1]["gold"]["alternatives"] == [{"type": "click", "target": "Bold"}]
    assert e1[2]["gold"]["alternatives"] == [{"type": "scroll", "target": "Document", "direction": "down"}]
    assert [s["gold"]["status"] for s in e1] == ["continue", "continue", "finish"]
    # controls from control_infos, sorted by label; the step's observation text added; no thought or subtask
    assert e1[1]["observation"]["controls"] == [
        {"label": "3", "role": "TabItem", "name": "Home"},
        {"label": "5", "role": "Edit", "name": "Document"},
        {"label": "12", "role": "Button", "name": "Bold"},
    ]
    assert e1[1]["observation"]["text"] == ('App: word\n[3] TabItem "Home"\n[5] Edit "Document"\n[12] Button "Bold"\n'
                                           "Screen description: The document text is selected.")
    assert "I should do it" not in json.dumps([s["observation"] for s in res.records])
    assert "Subtask" not in json.dumps([s["observation"] for s in res.records])
    assert e1[0]["meta"]["thought"] == "I should do it." and e1[0]["meta"]["subtask"] == "Subtask: keyboard_input"
    assert "ui_tree" not in json.dumps(e1[0]["meta"])
    # 1-based step_ids, control_infos as a dict of lists, control_text key, OVERALL_FINISH, unknown function -> call
    assert [s["gold"]["action"] for s in e3] == [
        {"type": "type", "target": "7", "text": "Hello"},
        {"type": "call", "tool": "summary", "args": {"text": "The subject is Hello."}},
    ]
    assert e3[0]["gold"]["alternatives"] == [{"type": "type", "target": "Subject", "text": "Hello"}]
    assert e3[1]["gold"]["status"] == "finish" and e3[1]["meta"]["status"] == "OVERALL_FINISH"
    assert [c["label"] for c in e3[0]["observation"]["controls"]] == ["2", "7"]
    # the malformed line and the execution with a line lacking its step are named with file and line
    assert len(res.skipped) == 2
    bad_json = [s for s in res.skipped if "not valid JSON" in s]
    assert len(bad_json) == 1 and str(UFO_STEPS) in bad_json[0] and "line 4" in bad_json[0]
    e2 = [s for s in res.skipped if "'e2'" in s]
    assert len(e2) == 1 and str(UFO_STEPS) in e2[0] and "line 5" in e2[0] and "step" in e2[0]


def test_ufo_directory_walk_and_unique_ids(tmp_path):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    shutil.copy(UFO_RESULT, tmp_path / "a_result.json")
    shutil.copy(UFO_RESULT, tmp_path / "b" / "deep" / "copy.json")
    shutil.copy(UFO_STEPS, tmp_path / "b" / "steps.jsonl")
    (tmp_path / "task.json").write_text(json.dumps({"app": "word", "unique_id": "9", "task": "x"}))
    (tmp_path / "notes.txt").write_text("not data")
    res = import_dataset("ufo", tmp_path)
    _check_records(res)
    # sorted walk: a_result.json, b/deep/copy.json, b/steps.jsonl, task.json
    assert list(_by_traj(res)) == ["t-101", "t-101:copy", "e1", "e3"]
    assert {r["task_id"] for r in res.records if r["trajectory_id"].startswith("t-101")} == {"t-101"}
    assert any("task.json" in s and "not a UFO" in s for s in res.skipped)
    assert not any("notes.txt" in s for s in res.skipped)


def test_hotkey_conversion_and_function_fallbacks(tmp_path):
    def plan_step(fn, args, label="4", text="Name"):
        return {"Step": 1, "Subtask": "s", "ControlLabel": label, "ControlText": text, "Function": fn,
                "Args": args, "Success": True, "MatchedControlText": None}

    cases = [
        (plan_step("keyboard_input", {"keys": "^s"}), {"type": "hotkey", "keys": "ctrl+s"}),
        (plan_step("keyboard_input", {"keys": "{ENTER}"}), {"type": "hotkey", "keys": "enter"}),
        (plan_step("keyboard_input", {"keys": "{VK_CONTROL}{VK_SHIFT}n"}), {"type": "hotkey", "keys": "ctrl+shift+n"}),
        (plan_step("keyboard_input", {"keys": "Hello world{ENTER}"}),
         {"type": "call", "tool": "keyboard_input", "args": {"keys": "Hello world{ENTER}"}}),
        (plan_step("wheel_mouse_input", {"wheel_dist": 5}), {"type": "scroll", "target": "4", "direction": "up"}),
        (plan_step("wheel_mouse_input", {"wheel_dist": 0}),
         {"type": "call", "tool": "wheel_mouse_input", "args": {"wheel_dist": 0}}),
        (plan_step("click_input", {"button": "left"}, label=None, text=""),
         {"type": "call", "tool": "click_input", "args": {"button": "left"}}),
        (plan_step("click_input", {}, label=None, text="OK"), {"type": "click", "target": "OK"}),
        (plan_step("set_edit_text", {}), {"type": "call", "tool": "set_edit_text", "args": {}}),
        (plan_step("texts", None), {"type": "call", "tool": "texts", "args": {}}),
    ]
    for i, (st, expected) in enumerate(cases):
        rec = {"unique_id": f"k{i}", "app": "word",
               "instantiation_result": {"prefill": {"result": {"instantiated_request": "r",
                                                                "instantiated_plan": [st]}}}}
        path = tmp_path / f"k{i}.json"
        path.write_text(json.dumps(rec))
        res = import_dataset("ufo", path)
        _check_records(res)
        assert res.records[0]["gold"]["action"] == expected, st
    # a target given only as text has no text alternative; label + text has one
    assert res.records[0]["gold"]["alternatives"] == []


def test_ufo_bad_input_is_skipped_never_raised(tmp_path):
    good = json.loads(UFO_RESULT.read_text())
    bad_plan = json.loads(UFO_RESULT.read_text())
    bad_plan["unique_id"] = "bad-plan"
    bad_plan["instantiation_result"]["prefill"]["result"]["instantiated_plan"] = "not a list"
    bad_args = json.loads(UFO_RESULT.read_text())
    bad_args["unique_id"] = "bad-args"
    bad_args["instantiation_result"]["prefill"]["result"]["instantiated_plan"][1]["Args"] = [1, 2]
    no_prefill = {"unique_id": "np", "instantiation_result": {"prefill": {"result": None, "error": "boom"}}}
    nan_args = json.loads(UFO_RESULT.read_text())
    nan_args["unique_id"] = "nan"
    nan_args["instantiation_result"]["prefill"]["result"]["instantiated_plan"][2]["Args"] = {"x": float("nan")}
    (tmp_path / "all.json").write_text(json.dumps([good, bad_plan, bad_args, no_prefill, nan_args, 42, None]))
    lines = [
        {"execution_id": "x1", "request": "r", "step_id": 0, "total_steps": 2,
         "step": {"action": {"function": "click_input", "control_label": "1"}, "status": "CONTINUE"}},
        {"execution_id": "x2", "request": "r", "step_id": "zero", "step": {}},
        {"execution_id": "x3", "request": "r", "step_id": 0,
         "step": {"action": {"function": "", "control_label": "1"}, "status": "CONTINUE"}},
        {"execution_id": "x4", "request": "r", "step_id": 0, "step": {"action": "nonsense", "status": "FINISH",
                                                                       "control_infos": "???"}},
        {"execution_id": "x5", "request": ["not", "a", "string"], "step_id": 0, "step": {"status": "FINISH"}},
        {"execution_id": "x6", "request": "r", "step_id": 0,
         "step": {"action": {"function": "click_input", "args": "oops", "control_label": "1"}, "status": "FINISH"}},
        ["a", "list"],
    ]
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    res = import_dataset("ufo", tmp_path)
    _check_records(res)
    # good record; x4 (no function, status FINISH -> finish) is the only good execution
    assert list(_by_traj(res)) == ["t-101", "x4"]
    assert _by_traj(res)["x4"][0]["gold"]["action"] == {"type": "finish", "status": "success", "message": ""}
    text = "\n".join(res.skipped)
    for where in ("all.json, item 1", "all.json, item 2", "all.json, item 3", "all.json, item 4",
                  "all.json, item 5", "all.json, item 6", "lines.jsonl, line 7", "lines.jsonl, line 8"):
        assert where in text, where
    for eid in ("x1", "x2", "x3", "x5", "x6"):
        assert f"execution {eid!r}" in text, eid
    assert "total_steps is 2" in text and "prefill error: boom" in text


# ---------------------------------------------------------------------------- mind2web


def test_mind2web_tasks():
    res = import_dataset("mind2web", MIND2WEB)
    _check_records(res)
    steps = _by_traj(res)["a-1"]
    assert res.trajectories == 1 and len(steps) == 3
    s0, s1, s2 = steps
    assert s0["request"] == "Find one-way flights from Boston in economy class."
    assert s0["task_id"] == s0["trajectory_id"] == "a-1" and s0["dataset"] == "mind2web"
    assert s0["gold"] == {"action": {"type": "type", "target": "120", "text": "Boston"}, "alternatives": [],
                          "status": "continue"}
    assert s1["gold"] == {"action": {"type": "select", "target": "88", "option": "Economy"}, "alternatives": [],
                          "status": "continue"}
    # several positive candidates: the original target is the gold, the other an alternative
    assert s2["gold"] == {"action": {"type": "click", "target": "305"},
                          "alternatives": [{"type": "click", "target": "310"}], "status": "finish"}
    # controls sorted by backend_node_id: the gold is not first
    for s in steps:
        labels = [c["label"] for c in s["observation"]["controls"]]
        assert labels == sorted(labels, key=int)
        assert labels[0] != s["gold"]["action"]["target"]
    # every candidate is named alike (its text on the page, else its attributes): nothing marks the target
    assert s0["observation"]["controls"] == [
        {"label": "45", "role": "a", "name": "Home"},
        {"label": "120", "role": "input", "name": "Departure city"},
        {"label": "133", "role": "input", "name": "To"},
    ]
    assert s1["observation"]["text"] == ('Website: exampleair\n[9] button "Menu"\n[88] select "Economy Business"\n'
                                         '[140] div ""')
    names = {c["label"]: c["name"] for c in s2["observation"]["controls"]}
    assert names["305"] == names["310"] == "Search flights" and names["400"] == "Deals" and names["7"] == "Logo"
    assert s2["meta"]["action_uid"] == "a1-u2" and s2["meta"]["original_op"] == "CLICK"
    assert s1["meta"]["website"] == "exampleair" and s1["meta"]["domain"] == "Travel"
    assert s1["meta"]["subdomain"] == "Airlines"
    assert "<html" not in json.dumps(res.records)
    # the task with an action without positive candidates is left out, named
    assert len(res.skipped) == 1
    assert str(MIND2WEB) in res.skipped[0] and "item 1" in res.skipped[0] and "'b-2'" in res.skipped[0]
    assert "action 1" in res.skipped[0] and "no positive candidate" in res.skipped[0]


def test_mind2web_jsonl_and_flattened_rows(tmp_path):
    tasks = json.loads(MIND2WEB.read_text())
    (tmp_path / "tasks.jsonl").write_text("\n".join(json.dumps(t) for t in tasks) + "\nnot json\n")
    res = import_dataset("mind2web", tmp_path / "tasks.jsonl")
    _check_records(res)
    assert list(_by_traj(res)) == ["a-1"]
    assert any("tasks.jsonl, line 2" in s for s in res.skipped)
    assert any("tasks.jsonl, line 3" in s and "not valid JSON" in s for s in res.skipped)
    expected = [r["gold"] for r in res.records]

    # the flattened release: one action per row, operation and candidates as JSON strings, rows shuffled
    task = tasks[0]
    rows = []
    for i, act in enumerate(task["actions"]):
        row = {k: task[k] for k in ("annotation_id", "website", "domain", "subdomain", "confirmed_task",
                                    "action_reprs")}
        op = act["operation"]
        row.update(action_uid=act["action_uid"], target_action_index=str(i),
                   operation=op if isinstance(op, str) else json.dumps(op),
                   pos_candidates=[json.dumps(c) for c in act["pos_candidates"]],
                   neg_candidates=[json.dumps(c) for c in act["neg_candidates"]], cleaned_html="<html/>")
        rows.append(row)
    (tmp_path / "flat.json").write_text(json.dumps([rows[2], rows[0], rows[1]]))
    flat = import_dataset("mind2web", tmp_path / "flat.json")
    _check_records(flat)
    assert [r["gold"] for r in flat.records] == expected and flat.skipped == []
    (tmp_path / "gap.json").write_text(json.dumps([rows[0], rows[2]]))
    with pytest.raises(DatasetError, match="target_action_index"):
        import_dataset("mind2web", tmp_path / "gap.json")


def test_mind2web_bad_input_is_skipped_never_raised(tmp_path):
    task = json.loads(MIND2WEB.read_text())[0]
    weird = [
        {**task, "annotation_id": "bad-op", "actions": [{**task["actions"][0], "operation": {"op": "DRAG"}}]},
        {**task, "annotation_id": "bad-cands",
         "actions": [{**task["actions"][0], "pos_candidates": [{"tag": "a", "attributes": "{broken"}]}]},
        {**task, "annotation_id": "no-actions", "actions": []},
        {**task, "annotation_id": "", "actions": task["actions"]},
        {**task, "annotation_id": "bad-action", "actions": ["x"]},
        {**task, "annotation_id": "bad-task", "confirmed_task": None},
        {"hello": "world"},
        {**task, "annotation_id": "ok-attrs", "action_reprs": task["action_reprs"][:1],
         "actions": [{**task["actions"][0],
                      "pos_candidates": [{"tag": "a", "attributes": "{broken", "backend_node_id": 5}],
                      "neg_candidates": "nonsense"}]},
    ]
    (tmp_path / "weird.json").write_text(json.dumps(weird))
    res = import_dataset("mind2web", tmp_path / "weird.json")
    _check_records(res)
    assert list(_by_traj(res)) == ["ok-attrs"]
    # no page text and unreadable attributes: no name (never the action_reprs text, which only the target has)
    assert res.records[0]["observation"]["controls"] == [{"label": "5", "role": "a", "name": ""}]
    assert len(res.skipped) == 7
    for i in range(7):
        assert any(f"weird.json, item {i}" in s for s in res.skipped), i


# ---------------------------------------------------------------------------- errors and entry point


def test_import_dataset_errors(tmp_path):
    assert set(IMPORTERS) == {"ufo", "mind2web"}
    with pytest.raises(DatasetError) as exc:
        import_dataset("webarena", UFO_RESULT)
    assert "webarena" in str(exc.value) and "ufo" in str(exc.value) and "mind2web" in str(exc.value)
    with pytest.raises(DatasetError, match="no such file"):
        import_dataset("ufo", tmp_path / "missing.json")
    with pytest.raises(DatasetError, match="no .json or .jsonl"):
        import_dataset("ufo", tmp_path)
    (tmp_path / "junk.json").write_text("{definitely not json")
    with pytest.raises(DatasetError) as exc:
        import_dataset("ufo", tmp_path / "junk.json")
    assert "nothing importable" in str(exc.value) and "junk.json" in str(exc.value)
    # a Mind2Web file read as ufo (and the reverse) has nothing importable, named
    with pytest.raises(DatasetError, match="nothing importable as ufo"):
        import_dataset("ufo", MIND2WEB)
    with pytest.raises(DatasetError, match="nothing importable as mind2web"):
        import_dataset("mind2web", UFO_STEPS)
    # import_dataset = IMPORTERS[fmt](Path, dataset) plus the tool definitions
    direct = IMPORTERS["ufo"](UFO_RESULT, None)
    full = import_dataset("ufo", UFO_RESULT).records
    assert isinstance(direct, ImportResult) and direct.records == [{k: v for k, v in r.items() if k != "tools"}
                                                                   for r in full]


@pytest.mark.parametrize("fmt,src", [("ufo", UFO_RESULT), ("ufo", UFO_STEPS), ("mind2web", MIND2WEB)])
def test_round_trip_and_replay(tmp_path, fmt, src):
    res = import_dataset(fmt, src)
    path = tmp_path / "data.jsonl.gz"
    assert write_dataset(res.records, path) == len(res.records)
    ds = load_dataset(path)
    assert ds.steps == res.records and ds.incomplete == {} and ds.skipped == []
    assert len(ds.trajectories) == res.trajectories
    oracle = replay(ReplayConfig(dataset=str(path), agent="oracle"), run_dir=tmp_path / "oracle")
    assert oracle.summary["replay"]["step_success_rate"] == 1.0
    assert oracle.summary["replay"]["task_success_rate"] == 1.0
    noop = replay(ReplayConfig(dataset=str(path), agent="noop-claim"), run_dir=tmp_path / "noop")
    assert noop.summary["replay"]["step_success_rate"] < 1.0
    assert noop.summary["replay"]["task_success_rate"] < 1.0


@pytest.mark.skipif(not REAL_UFO.exists(), reason=f"{REAL_UFO} (microsoft/UFO dataflow sample) is not present")
def test_real_ufo_result_record():
    res = import_dataset("ufo", REAL_UFO)
    _check_records(res)
    assert res.skipped == [] and res.trajectories == 1
    s0, s1 = res.records
    assert s0["trajectory_id"] == "5" and s0["meta"]["app"] == "word" and s0["meta"]["complete"] == "yes"
    assert s0["gold"] == {"action": {"type": "call", "tool": "select_text", "args": {"text": "text to edit"}},
                          "alternatives": [], "status": "continue"}
    assert s1["gold"] == {"action": {"type": "click", "target": "61"},
                          "alternatives": [{"type": "click", "target": "Bullets"}], "status": "finish"}
    assert s1["history"] == [s0["gold"]["action"]]


def test_ufo_finish_before_the_end_and_jsonl_named_json(tmp_path):
    def line(sid, status, fn="click_input"):
        return json.dumps({"execution_id": "m1", "request": "r", "step_id": sid, "total_steps": 2,
                           "step": {"action": {"function": fn, "control_label": "1", "control_test": "OK"},
                                    "status": status}})

    # a post-processed file with a .json name holding JSON lines is read line by line
    (tmp_path / "steps.json").write_text(line(0, "FINISH") + "\n" + line(1, "CONTINUE") + "\n")
    res = import_dataset("ufo", tmp_path / "steps.json")
    assert [validate_step(r) for r in res.records] == [[], []]
    # FINISH before the last step cannot end the trajectory: continue, the original kept in meta
    assert [r["gold"]["status"] for r in res.records] == ["continue", "continue"]
    assert res.records[0]["meta"]["status"] == "FINISH"
    assert res.records[0]["meta"]["line"].endswith("steps.json, line 1")
    (tmp_path / "steps.json").write_text(line(0, "CONTINUE") + "\n" + line(1, "OVERALL_FINISH") + "\n")
    res = import_dataset("ufo", tmp_path / "steps.json")
    assert [r["gold"]["status"] for r in res.records] == ["continue", "finish"]
    assert res.records[1]["observation"]["text"] == "(no controls recorded in the source)"


def test_imported_records_carry_the_tools_their_actions_need():
    res = import_dataset("ufo", UFO_RESULT)
    tools = res.records[0]["tools"]
    assert all(r["tools"] == tools for r in res.records)
    names = {t["function"]["name"]: t["function"] for t in tools}
    assert {"click", "type", "finish"} <= set(names) and "select_text" in names
    assert names["select_text"]["parameters"]["properties"] == {"text": {"type": "string"}}
    for rec in res.records:  # every gold is expressible with the tools given
        gold = rec["gold"]["action"]
        assert (gold["tool"] if gold["type"] == "call" else gold["type"]) in names


def test_cli_import_then_replay(tmp_path):
    from click.testing import CliRunner

    from lambench.cli import main

    runner = CliRunner()
    out = tmp_path / "m2w.jsonl"
    res = runner.invoke(main, ["import", "mind2web", str(MIND2WEB), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "1 trajectories, 3 steps" in res.output and "skipped" in res.output and "no positive candidate" in res.output
    res = runner.invoke(main, ["replay", "--dataset", str(out), "--agent", "oracle", "--agent", "random",
                               "--out", str(tmp_path / "runs"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "mind2web (1 trajectories, 3 steps)" in res.output
    res = runner.invoke(main, ["import", "webarena", str(MIND2WEB), "--out", str(out)])
    assert res.exit_code == 2 and "webarena" in res.output
    res = runner.invoke(main, ["import", "ufo", str(tmp_path / "nothing"), "--out", str(out)])
    assert res.exit_code == 2 and "no such file" in res.output


# ---------------------------------------------------------------------------- bounded reading


def _value(rng: random.Random, depth: int = 0):
    r = rng.random()
    if depth > 3 or r < 0.4:
        return rng.choice([rng.randint(-10**15, 10**15), rng.random() * 1e6, "é\u2028€𝄞" * rng.randint(0, 9), True, None])
    if r < 0.7:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {f"k{i}": _value(rng, depth + 1) for i in range(rng.randint(0, 5))}


def test_json_arrays_read_item_by_item_give_what_the_whole_file_holds(tmp_path):
    rng = random.Random(7)
    for i, indent in enumerate((None, 1, None)):  # several MB: items, numbers and multi-byte characters cross
        items = [_value(rng) for _ in range(5000)] * 3  # the 1 MiB reads, of the plain file and of a gzip
        text = json.dumps(items, ensure_ascii=False, indent=indent)
        path = tmp_path / (f"a{i}.json.gz" if i == 2 else f"a{i}.json")
        path.write_bytes(gzip.compress(text.encode()) if i == 2 else text.encode())
        skipped: list[str] = []
        got = _read_objects(path, skipped)
        assert not skipped and [v for _, v in got] == json.loads(text)
        assert [w for w, _ in got[:2]] == [f"{path}, item 0", f"{path}, item 1"]
    for j in range(12):  # a number or a 4-byte character across the end of the first read (64 KiB)
        for tail in ("1234567890123456", '"\U0001d11e"'):
            text = '["' + "x" * (65536 - 5 - 6 + j) + '", ' + tail + "]"
            (tmp_path / "edge.json").write_text(text)
            assert [v for _, v in _read_objects(tmp_path / "edge.json", [])] == json.loads(text)
    for bad, why in [("[1,2", "the array is not closed"), ("[1,]", "Expecting value at character 3 (in item 1)"),
                     ("[1 2]", "expected ',' or ']' after item 0 at character 3"), ("[1] x", "extra data after"),
                     ("[" * 100000, "nested too deeply")]:
        (tmp_path / "bad.json").write_text(bad)
        skipped = []
        assert _read_objects(tmp_path / "bad.json", skipped) == []  # a file not JSON is skipped whole, as before
        assert len(skipped) == 1 and skipped[0].startswith(f"{tmp_path / 'bad.json'}: not valid JSON ({why}")


def test_a_line_item_or_document_over_the_limit_stops_the_import(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMBENCH_MAX_IMPORT_BYTES", "4096")
    good = json.loads(UFO_RESULT.read_text())
    big = {**good, "unique_id": "big", "pad": "x" * 5000}
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.json").write_text(json.dumps(good))  # a good file first: the import stops all the same
    (src / "b.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(big) + "\n")
    with pytest.raises(LineTooLong) as err:
        import_dataset("ufo", src)
    assert str(err.value) == (f"{src / 'b.jsonl'}: line 2 is longer than 4,096 bytes, the limit of an imported line "
                              "(is this a JSONL file, one record per line?); split the record, or set "
                              "LAMBENCH_MAX_IMPORT_BYTES to a larger number of bytes if it is right")
    (src / "b.jsonl").unlink()
    (src / "c.json").write_text(json.dumps([good, big]))
    with pytest.raises(LineTooLong, match=r"c.json: item 1 \(from character \d+\) is longer than 4,096 bytes, "
                                          "the limit of one imported item; split it, or set LAMBENCH_MAX_IMPORT"):
        import_dataset("ufo", src)
    (src / "c.json").write_text(json.dumps(big, indent=2))
    with pytest.raises(LineTooLong, match="c.json: the file is larger than 4,096 bytes, the limit of one JSON "
                                          "document to import"):
        import_dataset("ufo", src)
    # JSON lines under a .json name, more than the limit in all, each line under it: read line by line
    (src / "c.json").write_text("".join(json.dumps({**good, "unique_id": f"u{i}"}) + "\n" for i in range(4)))
    assert import_dataset("ufo", src).trajectories == 5
    monkeypatch.delenv("LAMBENCH_MAX_IMPORT_BYTES")
    (src / "c.json").write_text(json.dumps([good, big]))
    assert MAX_IMPORT_BYTES == 64 << 20 and import_dataset("ufo", src).trajectories == 3


@pytest.mark.slow  # decompresses up to the limit three times (~8 s): a memory test, outside the fast lane
@pytest.mark.parametrize("name,prefix", [("line.jsonl.gz", b""), ("doc.json.gz", b""), ("array.json.gz", b'["')])
def test_a_2mb_gzip_bomb_stops_the_import_reading_about_the_limit(tmp_path, name, prefix):
    bomb = write_gzip_bomb(tmp_path / name, 2048, prefix=prefix)  # 2 GiB decompressed, no newline
    got = peak_growth(bomb, "ufo")
    what = {"line.jsonl.gz": "line 1 is longer than 64 MiB, the limit of an imported line",
            "doc.json.gz": "the file is larger than 64 MiB, the limit of one JSON document to import",
            "array.json.gz": "item 0 (from character 1) is longer than 64 MiB, the limit of one imported item"}[name]
    assert got["error"].startswith(f"{bomb}: {what}") and "\n" not in got["error"]
    # before: the whole file was read, 4.1 GB of peak memory growth for the first; now a few times the limit
    assert got["peak_growth_mb"] < 256, got
    res = cli("import", "ufo", str(bomb), "--out", str(tmp_path / "out.jsonl"))
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [f"error: {got['error']}"], res.stderr
    assert not (tmp_path / "out.jsonl").exists()
