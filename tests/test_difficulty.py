"""Difficulty labels and human-time estimates: derived from the gold and the apps, overridable in the task file,
carried by every episode record, and broken down in the run's summary."""

import pytest

from lambench.episode import run_episode
from lambench.run.summary import live_summary
from lambench.task import Task
from lambench.task.difficulty import derived_difficulty, derived_human_time_s, difficulty, human_time_s


def task(gold, apps=(), **kw):
    return Task.model_validate({"id": "t", "suite": "s", "instruction": "Do the thing.", "apps": list(apps),
                                "checks": [{"file_exists": {"path": "~/x"}}],
                                "gold": [*gold, {"type": "finish", "status": "success"}], **kw})


CLICK = {"type": "click", "target": "1"}


@pytest.mark.parametrize("gold,apps,level", [
    ([CLICK] * 3, ["files"], "easy"),
    ([CLICK] * 4, ["files"], "medium"),
    ([CLICK] * 2, ["files", "mail"], "medium"),
    ([CLICK] * 6, ["files", "mail"], "hard"),
    ([CLICK] * 8, ["files"], "hard"),
    ([CLICK], ["files", "mail", "calendar"], "hard"),
    ([{"type": "call", "tool": "files.move", "args": {}}, {"type": "call", "tool": "mail.send", "args": {}},
      {"type": "call", "tool": "calendar.create", "args": {}}], [], "hard"),  # apps read from the calls
])
def test_the_label_follows_gold_length_and_apps(gold, apps, level):
    assert derived_difficulty(task(gold, apps)) == level


def test_a_chained_shell_command_counts_each_command():
    one = task([{"type": "shell", "command": "ls"}], sandbox="shell")
    chained = task([{"type": "shell", "command": "cd a && grep -c x f | sort; tar czf b.tgz b && rm -r b"}],
                   sandbox="shell")
    assert derived_difficulty(one) == "easy" and derived_difficulty(chained) == "medium"


def test_typing_costs_time_and_declared_values_win():
    short = task([{"type": "type", "target": "1", "text": "hi"}])
    long = task([{"type": "type", "target": "1", "text": "x" * 400}])
    assert derived_human_time_s(long) - derived_human_time_s(short) >= 100
    assert derived_human_time_s(short) % 5 == 0
    declared = task([CLICK], difficulty="hard", human_time_s=600)
    assert difficulty(declared) == "hard" and human_time_s(declared) == 600
    with pytest.raises(ValueError):
        task([CLICK], difficulty="trivial")


def test_records_carry_the_label_and_the_summary_breaks_success_down_by_it(tmp_path):
    easy = task([], apps=["files"], setup={"files": {"~/x": "here"}})
    hard = task([CLICK] * 8, apps=["files"], setup={"files": {"~/y": "here"}}, id="h")
    recs = [run_episode(t, "noop-claim", seed=0, trial=0) for t in (easy, hard)]
    assert [r["difficulty"] for r in recs] == ["easy", "hard"] and recs[0]["human_time_s"] >= 15
    assert recs[0]["success"] and not recs[1]["success"]
    summary = live_summary(tmp_path, {"suite": None}, recs)
    assert summary["by_difficulty"]["easy"]["success_rate"] == 1.0
    assert summary["by_difficulty"]["hard"]["success_rate"] == 0.0
    old = [{k: v for k, v in r.items() if k not in ("difficulty", "human_time_s")} for r in recs]
    assert live_summary(tmp_path, {"suite": None}, old)["by_difficulty"] == {}


def _call(tool):
    return {"type": "call", "tool": tool, "args": {}}


@pytest.mark.parametrize("gold,apps,expected", [
    ([CLICK] * 5, ["files"], False),  # long, but one app and no record-changing call
    ([CLICK] * 3, ["files", "mail"], True),  # across apps
    ([CLICK] * 2, ["files", "mail"], False),  # too short
    ([_call("files.list"), _call("files.move"), _call("files.rename")], ["files"], True),  # two changes, one app
    ([_call("files.list"), _call("files.read"), _call("files.move")], ["files"], False),  # reads do not count
])
def test_multi_step_means_across_apps_or_records(gold, apps, expected):
    from lambench.task.difficulty import multi_step

    assert multi_step(task(gold, apps)) is expected


def test_web_app_reads_and_writes_are_told_apart_by_the_operation_name():
    from lambench.task.difficulty import _READS

    reads = ["getClaim", "listNotes", "searchCustomers", "whoAmI", "listApprovals"]
    writes = ["updateClaim", "addNote", "payClaim", "createTask", "approvePayout", "refundPayment"]
    assert all(_READS.match(r) for r in reads) and not any(_READS.match(w) for w in writes)


def test_tasks_list_prints_the_corpus_per_sandbox():
    import json
    import re

    from click.testing import CliRunner

    from lambench.cli import main

    out = CliRunner().invoke(main, ["tasks", "list", "--suite", "mockos-core"])
    assert out.exit_code == 0, out.output
    line = re.search(r"mockos: (\d+) task files \((\d+) templates, (\d+) fixed\), (\d+) instances; multi-step across "
                     r"apps or records: (\d+) \(\d+%\)", out.output)
    rows = json.loads(CliRunner().invoke(main, ["tasks", "list", "--suite", "mockos-core", "--json"]).output)
    assert line and int(line.group(1)) == len(rows) and int(line.group(4)) == sum(r["instances"] for r in rows)
    assert int(line.group(2)) == sum(1 for r in rows if r["params"]) and int(line.group(5)) == sum(
        r["multi_step"] for r in rows)
