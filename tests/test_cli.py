import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from lambench.cli import main
from tests.children import default_sigint

ROOT = Path(__file__).resolve().parent.parent
FEW = ["--task", "mail-send-report@0", "--task", "files-clean-downloads-txt@0", "--task", "settings-enable-bluetooth"]


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_run_prints_a_comparison_table(tmp_path):
    r = invoke("run", "--suite", "mockos-core", "--agent", "oracle", "--agent", "noop-claim", *FEW,
               "--out", str(tmp_path), "--quiet")
    assert r.exit_code == 0, r.output
    assert "oracle" in r.output and "noop-claim" in r.output
    oracle_row = next(l for l in r.output.splitlines() if "│ oracle" in l)
    noop_row = next(l for l in r.output.splitlines() if "│ noop-claim" in l)
    assert "100.0%" in oracle_row and "100.0%" in noop_row  # oracle SR, noop FSR
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mockos-core__noop-claim__s0", "mockos-core__oracle__s0"]


def test_score_recomputes_from_episodes_alone(tmp_path):
    invoke("run", "--suite", "mockos-core", "--agent", "noop-claim", *FEW, "--out", str(tmp_path), "--quiet")
    (tmp_path / "summary.json").unlink()
    (tmp_path / "config.json").unlink()
    r = invoke("score", str(tmp_path), "--json")
    assert r.exit_code == 0, r.output
    m = json.loads(r.output)["metrics"]
    assert m["episodes"] == 3 and m["success_rate"] == 0.0
    assert m["false_success_rate"] == 1.0 and m["claims"]["success"] == 3
    assert (tmp_path / "summary.json").exists()


def test_usage_errors_exit_2_with_a_message(tmp_path):
    r = invoke("run", "--suite", "no-such-suite", "--agent", "oracle", "--out", str(tmp_path))
    assert r.exit_code == 2 and "unknown suite" in r.output and "mockos-core" in r.output
    r = invoke("run", "--suite", "mockos-core", "--agent", "orcale", "--out", str(tmp_path))
    assert r.exit_code == 2 and "Did you mean 'oracle'" in r.output
    r = invoke("run", "--suite", "mockos-core", "--agent", "oracle", "--task", "nope", "--out", str(tmp_path))
    assert r.exit_code == 2 and "unknown task" in r.output
    r = invoke("score", str(tmp_path / "empty"))
    assert r.exit_code == 2 and "no episodes.jsonl" in r.output


def test_score_names_a_corrupt_line(tmp_path):
    invoke("run", "--suite", "mockos-core", "--agent", "oracle", *FEW, "--out", str(tmp_path), "--quiet")
    path = tmp_path / "episodes.jsonl"
    ls = path.read_text().splitlines()
    ls[1] = ls[1][:30]
    path.write_text("\n".join(ls) + "\n")
    r = invoke("score", str(tmp_path))
    assert r.exit_code == 2 and "line 2" in r.output


import pytest


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_stops_cleanly_and_the_run_resumes(tmp_path, sig):
    env = dict(os.environ, PYTHONPATH=str(ROOT), LAMBENCH_TEST_SLEEP="0.05")
    cmd = [sys.executable, "-m", "lambench.cli", "run", "--suite", "mockos-core", "--agent",
           "tests.agents_for_tests:SlowOracle", "--out", str(tmp_path), "--quiet"]
    p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)
    path = tmp_path / "episodes.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (path.exists() and path.read_text().count("\n") >= 3):
        time.sleep(0.02)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err and "resume" in err
    n = path.read_text().count("\n")
    assert json.loads((tmp_path / "summary.json").read_text())["metrics"]["episodes"] == n
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resumed: {n} already recorded" in done.stderr


# ---------------------------------------------------------------------------- errored episodes: exit 3


def test_episodes_left_errored_exit_3_naming_how_many_and_how_to_retry(tmp_path):
    out = tmp_path / "runs"
    args = ["run", "--suite", "mockos-core", "--agent", "oracle", "--agent", "tests.agents_for_tests:RaisingAgent",
            *FEW, "--retries", "1", "--out", str(out), "--quiet"]
    r = invoke(*args)
    assert r.exit_code == 3, r.output
    assert "3 episode(s) are left errored after retries" in r.output
    assert "tests.agents_for_tests:RaisingAgent: 3" in r.output and "same command again" in r.output
    assert "model backend exploded" in r.output  # the cause, from the records
    # the same command retries only the errored episodes, and still says so
    again = invoke(*args)
    assert again.exit_code == 3 and "resumed: 3 already recorded" in again.output


def test_a_run_where_every_episode_errored_never_exits_0(tmp_path):
    r = invoke("run", "--suite", "mockos-core", "--agent", "tests.agents_for_tests:RaisingAgent", *FEW,
               "--retries", "0", "--out", str(tmp_path), "--quiet")
    assert r.exit_code == 3, r.output
    assert json.loads((tmp_path / "summary.json").read_text())["metrics"]["episodes"] == 0


def test_run_help_documents_exit_code_3():
    r = invoke("run", "--help")
    assert r.exit_code == 0 and "3 some episodes still errored" in " ".join(r.output.split())


# ---------------------------------------------------------------------------- messages printed as written


def test_validation_messages_with_brackets_come_out_whole(tmp_path):
    (tmp_path / "d[bold]").mkdir()
    bad = tmp_path / "d[bold]" / "t[red]x.yaml"
    bad.write_text("id: other-id\nsuite: s\nsandbox: mockos\ninstruction: '[red]do it[/red]'\n")
    r = invoke("tasks", "validate", str(bad))
    assert r.exit_code == 1, r.output
    assert "d[bold]/t[red]x.yaml" in " ".join(r.output.split())  # rich markup would have eaten the brackets


def test_usage_problem_text_with_brackets_comes_out_whole(tmp_path):
    r = invoke("score", str(tmp_path / "runs[red]" / "x[/]"))
    assert r.exit_code == 2 and "runs[red]/x[/]" in r.output
