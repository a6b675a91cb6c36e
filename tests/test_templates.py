"""Template task files: a file with params loads as the instances of its sweep, each a real task the oracle
solves and a claim-at-once fails; instances differ; any seed can be asked for; mistakes name file and seed."""

import textwrap

import pytest

from lambench.episode import run_episode
from lambench.task import TaskError, load_task, validate_paths
from lambench.task.loader import instance_of, load_tasks

TEMPLATE = textwrap.dedent("""\
    id: files-archive-param
    suite: templated
    params:
      doc: {type: filename, stems: [invoice, receipt, statement], ext: txt}
      folder: {type: choice, values: [Invoices, Receipts, Archive]}
      client: {type: person}
    instances: 4
    instruction: >-
      Move {{ doc }} from my Downloads into the Documents/{{ folder }} folder; it is {{ client.name }}'s.
    apps: [files]
    setup:
      files:
        ~/Downloads/{{ doc }}: "From {{ client.name }}"
        ~/Documents/{{ folder }}: {kind: dir}
    checks:
      - file_exists: {path: "~/Documents/{{ folder }}/{{ doc }}"}
      - file_absent: {path: "~/Downloads/{{ doc }}"}
    gold:
      - {type: call, tool: files.move, args: {path: "~/Downloads/{{ doc }}", dest_dir: "~/Documents/{{ folder }}"}}
      - {type: finish, status: success}
    """)


@pytest.fixture
def template(tmp_path):
    path = tmp_path / "files-archive-param.yaml"
    path.write_text(TEMPLATE)
    return path


def test_a_template_loads_as_the_instances_of_its_sweep(template):
    tasks = load_tasks(template)
    assert [t.id for t in tasks] == [f"files-archive-param@{s}" for s in range(4)]
    assert [t.instance.seed for t in tasks] == [0, 1, 2, 3]
    assert all(t.instance.template == "files-archive-param" and t.path == str(template) for t in tasks)
    assert len({t.instruction for t in tasks}) == 4
    assert len({str(t.gold) for t in tasks}) >= 3
    first = tasks[0]
    assert first.instance.values["doc"] in first.instruction and "{{" not in first.instruction
    assert load_task(template) == first  # a template file loads as its first instance


def test_every_instance_is_solved_by_the_oracle_and_failed_by_a_claim(template):
    for task in load_tasks(template):
        good = run_episode(task, "oracle", seed=0, trial=0)
        assert good["error"] is None and good["success"] and not good["unsafe"], (task.id, good["checks"])
        assert good["task_id"] == task.id
        bad = run_episode(task, "noop-claim", seed=0, trial=0)
        assert not bad["success"] and bad["false_success"]


def test_any_seed_is_an_instance_and_the_same_seed_the_same_instance(template):
    far = load_task(template, seed=41)
    assert far.id == "files-archive-param@41" and far.instance.seed == 41
    assert load_task(template, seed=41) == far
    sibling = instance_of(load_tasks(template)[0], 41)
    assert sibling == far and sibling.path == str(template)


def test_a_fixed_task_has_no_other_instance(tmp_path):
    fixed = tmp_path / "plain.yaml"
    fixed.write_text(TEMPLATE.replace("files-archive-param", "plain").split("params:")[0]
                     + "instruction: Move a.txt.\nchecks:\n  - file_exists: {path: ~/a.txt}\n"
                       "setup: {files: {~/a.txt: x}}\ngold: [{type: finish, status: success}]\n")
    task = load_task(fixed)
    assert task.instance is None and load_tasks(fixed) == [task]
    with pytest.raises(TaskError, match="no parameters, so it has no other instances"):
        load_task(fixed, seed=3)
    with pytest.raises(TaskError, match="a fixed task has no other instances"):
        instance_of(task, 1)


@pytest.mark.parametrize("change,message", [
    (("instances: 4", "instances: 1"), "instances: the number of instances of the default sweep is an integer from 2"),
    (("{{ client.name }}'s", "{{ client.phone }}'s"), "parameter client has no attribute 'phone'"),
    (("folder: {type: choice, values: [Invoices, Receipts, Archive]}",
      "folder: {type: choice, values: [Invoices, Receipts, Archive]}\n  spare: {type: int}"),
     "params spare are declared but never used"),
    (("- file_absent: {path: \"~/Downloads/{{ doc }}\"}", "- file_absent: {path: \"~/Downloads/{{ doc }}\", x: 1}"),
     r"instance @0: checks: check 1: x: unknown argument"),
    (("id: files-archive-param", "id: other-name"), "id: 'other-name' must match the file name"),
])
def test_template_mistakes_name_the_file_and_what_to_fix(template, change, message):
    template.write_text(TEMPLATE.replace(*change))
    with pytest.raises(TaskError, match=message) as err:
        load_tasks(template)
    assert str(template) in str(err.value)


def test_validate_paths_checks_every_instance(template):
    tasks, errors = validate_paths([template.parent])
    assert errors == [] and len(tasks) == 4


def test_blind_replay_solves_the_recorded_instance_only_and_every_fixed_task(template, tmp_path):
    tasks = load_tasks(template)
    results = [run_episode(t, "blind-replay", seed=0, trial=0) for t in tasks]
    assert all(r["error"] is None for r in results)
    assert results[0]["success"]  # the recorded instance: its own gold
    assert not any(r["success"] for r in results[1:]), [r["checks"] for r in results[1:]]
    assert all(r["claim"] == "success" and r["false_success"] for r in results[1:])
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    (fixed / "plain.yaml").write_text(
        "id: plain\nsuite: t\ninstruction: Move a.txt to Documents.\nsetup: {files: {~/a.txt: x}}\n"
        "checks: [{file_exists: {path: ~/Documents/a.txt}}]\n"
        "gold: [{type: call, tool: files.move, args: {path: ~/a.txt, dest_dir: ~/Documents}}, "
        "{type: finish, status: success}]\n")
    assert run_episode(load_task(fixed / "plain.yaml"), "blind-replay", seed=0, trial=0)["success"]


def _validate_cli(*paths):
    from click.testing import CliRunner

    from lambench.cli import main

    return CliRunner().invoke(main, ["tasks", "validate", "--self-check", *map(str, paths)])


def test_the_self_check_prints_the_non_memorizability_of_a_templated_suite(template):
    result = _validate_cli(template.parent)
    assert result.exit_code == 0, result.output
    assert "templated: non-memorizability 100.0% (blind replay solves 0 of 3 instances" in result.output
    assert "1 valid task file(s) (4 tasks, counting each instance of a template), 0 invalid, 0 self-check" \
        in result.output


def test_a_template_whose_parameters_do_not_reach_the_actions_fails_the_self_check(tmp_path):
    # the parameter only rewords the request: the same gold solves every instance, so blind replay passes
    memorized = TEMPLATE.replace("files-archive-param", "memorized").replace(
        "doc: {type: filename, stems: [invoice, receipt, statement], ext: txt}",
        "doc: {type: choice, values: [invoice-1.txt]}\n  tone: {type: choice, values: [Please, Kindly, Now]}"
    ).replace("folder: {type: choice, values: [Invoices, Receipts, Archive]}",
              "folder: {type: choice, values: [Invoices]}").replace("Move {{ doc }}", "{{ tone }} move {{ doc }}")
    memorized = memorized.replace("\"From {{ client.name }}\"", "\"From a client\"").replace(
        "; it is {{ client.name }}'s", "").replace("  client: {type: person}\n", "")
    (tmp_path / "memorized.yaml").write_text(memorized)
    result = _validate_cli(tmp_path / "memorized.yaml")
    assert result.exit_code == 1, result.output
    assert "memorized: blind replay of instance @0's gold solves 3 of 3 other instances" in result.output
    assert "templated: non-memorizability 0.0%" in result.output


def test_a_template_whose_instances_are_the_same_task_fails_the_self_check(tmp_path):
    same = TEMPLATE.replace("files-archive-param", "same").replace(
        "doc: {type: filename, stems: [invoice, receipt, statement], ext: txt}", "doc: {type: choice, values: [a.txt]}"
    ).replace("folder: {type: choice, values: [Invoices, Receipts, Archive]}",
              "folder: {type: choice, values: [Invoices]}").replace(
        "client: {type: person}", "client: {type: choice, values: [{name: Ana}]}")
    (tmp_path / "same.yaml").write_text(same)
    result = _validate_cli(tmp_path / "same.yaml")
    assert result.exit_code == 1
    assert "same: instances same@0 and same@1 are the same task" in result.output


def _cli(*args):
    from click.testing import CliRunner

    from lambench.cli import main

    return CliRunner().invoke(main, list(map(str, args)))


def test_tasks_list_shows_the_template_once_and_tasks_show_prints_any_instance(template):
    import json

    import yaml

    root = template.parent.parent
    suite = root / "templated"
    suite.mkdir()
    template.rename(suite / template.name)
    listed = _cli("tasks", "list", "--tasks-dir", root, "--suite", "templated", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["id"], r["instances"], r["params"]) for r in rows] == [("files-archive-param", 4,
                                                                        ["client", "doc", "folder"])]
    assert rows[0]["difficulty"] == "easy" and rows[0]["human_time_s"] > 0
    shown = _cli("tasks", "show", "files-archive-param", "--seed", 7, "--tasks-dir", root)
    assert shown.exit_code == 0, shown.output
    data = yaml.safe_load(shown.output)
    assert data["id"] == "files-archive-param@7" and data["instance"]["seed"] == 7 and "params" not in data
    doc = data["instance"]["values"]["doc"]
    assert doc in data["instruction"] and data["gold"][0]["args"]["path"] == f"~/Downloads/{doc}"
    assert yaml.safe_load(_cli("tasks", "show", "files-archive-param@7", "--tasks-dir", root).output) == data
    first = yaml.safe_load(_cli("tasks", "show", "files-archive-param", "--tasks-dir", root).output)
    assert first["id"] == "files-archive-param@0"
    clash = _cli("tasks", "show", "files-archive-param@2", "--seed", 3, "--tasks-dir", root)
    assert clash.exit_code == 2 and "is instance @2; --seed 3 asks for another one" in clash.output
    fixed = _cli("tasks", "show", "cal-cancel-globex-dinner", "--seed", 1)  # infeasible: stays fixed
    assert fixed.exit_code == 2 and "is a fixed task (no params)" in fixed.output
    plain = yaml.safe_load(_cli("tasks", "show", "cal-cancel-globex-dinner").output)
    assert plain["id"] == "cal-cancel-globex-dinner" and "instance" not in plain


def test_run_task_takes_a_template_id_for_its_instances_and_an_instance_outside_the_sweep(template, tmp_path):
    import json

    root = tmp_path / "suites"
    (root / "templated").mkdir(parents=True)
    template.rename(root / "templated" / template.name)
    out = tmp_path / "run"
    res = _cli("run", "--suite", "templated", "--task", "files-archive-param", "--task", "files-archive-param@9",
               "--agent", "oracle", "--out", out, "--quiet", "--tasks-dir", root)
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert sorted(r["task_id"] for r in recs) == [f"files-archive-param@{s}" for s in (0, 1, 2, 3, 9)]
    assert all(r["success"] for r in recs)


def test_intervals_cluster_the_instances_of_a_template_as_one_task():
    from lambench.metrics.episode import compute_metrics

    def ep(task_id, success):
        return {"task_id": task_id, "suite": "s", "seed": 0, "trial": 0, "agent": "a", "success": success,
                "claim": "success", "false_success": not success, "n_steps": 1}

    instances = compute_metrics([ep(f"t@{i}", True) for i in range(4)])
    fixed = compute_metrics([ep(f"t{i}", True) for i in range(4)])
    assert instances["success_rate"] == fixed["success_rate"] == 1.0
    assert instances["success_ci"][0] < fixed["success_ci"][0]  # one template is one task's worth of evidence
    assert compute_metrics([ep("t@0", True)])["success_ci"] == instances["success_ci"]


def test_tasks_show_reads_the_tasks_own_file_so_a_broken_neighbour_does_not_stop_it(template):
    import yaml

    root = template.parent / "dirs"
    suite = root / "templated"
    suite.mkdir(parents=True)
    template.rename(suite / template.name)
    (suite / "half-written.yaml").write_text("id: half-written\nsuite: templated\ninstruction: [unclosed\n")
    shown = _cli("tasks", "show", "files-archive-param@3", "--tasks-dir", root)
    assert shown.exit_code == 0, shown.output
    assert yaml.safe_load(shown.output)["id"] == "files-archive-param@3"
    broken = _cli("tasks", "show", "half-written", "--tasks-dir", root)  # the broken file itself is still named
    assert broken.exit_code == 2 and "half-written.yaml" in broken.output
