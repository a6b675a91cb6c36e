"""Where suites, datasets and build contexts are found: the shipped ones, a user's own through ``--tasks-dir`` and
``$LAMBENCH_TASKS_DIR``, and the errors when a suite is missing, doubled or none is found (tests/test_wheel.py runs
the same from an installed wheel)."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from lambench.cli import main
from lambench.replay.dataset import DatasetError, load_dataset
from lambench.sandboxes.containers import sandboxes_root
from lambench.shipped import shipped_datasets, shipped_dir
from lambench.task import load_suite, list_suites, suite_version

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tasks/mockos-core/mail-send-report.yaml"


def invoke(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def user_suite(parent: Path, suite: str, task_id: str) -> Path:
    """``parent/suite/task_id.yaml``: a copy of a built-in task under another id and suite; returns ``parent``."""
    text = SOURCE.read_text().replace("id: mail-send-report", f"id: {task_id}", 1)
    text = text.replace("suite: mockos-core", f"suite: {suite}", 1)
    (parent / suite).mkdir(parents=True)
    (parent / suite / f"{task_id}.yaml").write_text(text)
    return parent


@pytest.fixture(autouse=True)
def no_user_dirs(monkeypatch):
    monkeypatch.delenv("LAMBENCH_TASKS_DIR", raising=False)
    monkeypatch.delenv("LAMBENCH_TASKS", raising=False)


def test_an_editable_install_reads_the_checkouts_folders():
    assert shipped_dir("tasks") == ROOT / "tasks" and shipped_dir("sandboxes") == ROOT / "sandboxes"
    assert sandboxes_root() == ROOT / "sandboxes"
    assert set(shipped_datasets()) == {p.name.removesuffix(".jsonl.gz") for p in (ROOT / "tasks/replay").glob("*.gz")}


def test_the_committed_leaderboards_versions_are_the_suites_versions():
    summaries = [json.loads(p.read_text()) for p in ROOT.glob("leaderboards/*/*.summary.json")]
    assert summaries
    for s in summaries:
        assert s["suite_version"] == suite_version(s["suite"]), s["agent"]


def test_a_shipped_dataset_is_found_by_name_and_an_unknown_name_lists_them():
    ds = load_dataset("mockos-injection")  # the smaller of the two (mockos-core's 25k steps load in ~3 s)
    assert ds.path == ROOT / "tasks/replay/mockos-injection.jsonl.gz" and ds.trajectories
    with pytest.raises(DatasetError, match="mockos-core, mockos-injection"):
        load_dataset("mockos-cor")


def test_tasks_dir_adds_a_users_suites_and_repeats(tmp_path):
    a = user_suite(tmp_path / "a", "mine", "my-send-report")
    b = user_suite(tmp_path / "b", "theirs", "their-send-report")
    r = invoke("tasks", "list", "--tasks-dir", str(a), "--tasks-dir", str(b), "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert {"mine", "theirs", "mockos-core"} <= {row["suite"] for row in rows}
    mine = [row for row in rows if row["suite"] == "mine"]
    assert [row["id"] for row in mine] == ["my-send-report"]
    assert mine[0]["suite_version"] != suite_version("mockos-core")
    assert "mine" not in list_suites()  # only while the command runs


def test_run_score_and_validate_take_tasks_dir(tmp_path):
    dirs = user_suite(tmp_path / "suites", "mine", "my-send-report")
    out = tmp_path / "run"
    r = invoke("run", "--suite", "mine", "--agent", "oracle", "--tasks-dir", str(dirs), "--out", str(out), "--quiet")
    assert r.exit_code == 0, r.output
    config = json.loads((out / "config.json").read_text())
    assert config["suite"] == "mine" and config["suite_version"] == json.loads(
        invoke("tasks", "list", "--suite", "mine", "--tasks-dir", str(dirs), "--json").output)[0]["suite_version"]
    r = invoke("score", str(out), "--json", "--tasks-dir", str(dirs))
    assert r.exit_code == 0, r.output
    instances = len(load_suite("mockos-core")) and sum(1 for t in load_suite("mockos-core")
                                                      if t.file_id == "mail-send-report")  # a template: its sweep
    assert json.loads(r.output)["tasks_in_suite"] == instances > 1
    r = invoke("tasks", "validate", "--tasks-dir", str(dirs))
    assert r.exit_code == 0, r.output
    built_in = sum(1 for s in list_suites() for _ in (ROOT / "tasks" / s).glob("*.yaml"))
    assert f"{built_in + 1} valid task file(s)" in r.output


def test_the_environment_variable_takes_several_folders(tmp_path):
    a = user_suite(tmp_path / "a", "mine", "my-send-report")
    b = user_suite(tmp_path / "b", "theirs", "their-send-report")
    r = invoke("tasks", "list", "--json", env={"LAMBENCH_TASKS_DIR": f"{a}{os.pathsep}{b}"})
    assert r.exit_code == 0, r.output
    assert {"mine", "theirs", "mockos-core"} <= {row["suite"] for row in json.loads(r.output)}
    r = invoke("tasks", "list", env={"LAMBENCH_TASKS_DIR": str(tmp_path / "nope")})
    assert r.exit_code == 2 and "LAMBENCH_TASKS_DIR names" in r.output and "not a directory" in r.output


def test_a_suite_name_in_two_places_is_an_error_naming_both(tmp_path):
    dirs = user_suite(tmp_path / "suites", "mockos-core", "my-send-report")
    r = invoke("run", "--suite", "mockos-core", "--agent", "oracle", "--tasks-dir", str(dirs),
               "--out", str(tmp_path / "run"), "--quiet")
    assert r.exit_code == 2, r.output
    assert "found in 2 places" in r.output
    assert str(dirs / "mockos-core") in r.output and str(ROOT / "tasks" / "mockos-core") in r.output
    assert not (tmp_path / "run").exists()
    # the built-in folder named again is the same place, not a second one
    r = invoke("tasks", "list", "--suite", "mockos-core", "--tasks-dir", str(ROOT / "tasks"), "--json")
    assert r.exit_code == 0 and json.loads(r.output)


def test_an_unknown_suite_names_the_folders_searched(tmp_path):
    dirs = user_suite(tmp_path / "suites", "mine", "my-send-report")
    r = invoke("run", "--suite", "mien", "--agent", "oracle", "--tasks-dir", str(dirs), "--out", str(tmp_path / "r"))
    assert r.exit_code == 2
    assert "unknown suite 'mien'" in r.output and "Did you mean 'mine'" in r.output
    assert f"{dirs} (--tasks-dir)" in r.output and f"{ROOT / 'tasks'} (built-in)" in r.output
    assert "--tasks-dir DIR" in r.output and "LAMBENCH_TASKS_DIR" in r.output


def test_no_suite_at_all_is_an_error_naming_where_lambench_looked(tmp_path):
    env = {"LAMBENCH_TASKS": str(tmp_path)}
    for args in (("tasks", "list"), ("tasks", "validate")):
        r = invoke(*args, env=env)
        assert r.exit_code == 2, (args, r.output)
        assert "no task suites found" in r.output and str(tmp_path) in r.output and "--tasks-dir" in r.output


@pytest.mark.parametrize("command", [("run",), ("tasks", "list"), ("tasks", "validate"), ("replay",), ("score",),
                                     ("report",), ("gate",)])
def test_every_command_that_resolves_suites_takes_tasks_dir(command):
    cmd = main
    for name in command:
        cmd = cmd.commands[name]
    assert "--tasks-dir" in {opt for p in cmd.params for opt in p.opts}
