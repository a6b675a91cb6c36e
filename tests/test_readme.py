"""The README's examples work: the task file validates and passes the self-check, the agent runs."""

import re
import sys
from pathlib import Path

from lambench.episode import run_episode
from lambench.selfcheck import self_check
from lambench.task import load_task

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, re.DOTALL)


def test_readme_starts_with_the_two_setup_commands():
    first = blocks("bash")[0].strip().splitlines()
    assert len(first) == 2
    assert "lambench run --suite mockos-core" in first[0]
    assert "pytest" in first[1]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert first[1] in ci


def test_readme_task_example_is_valid_and_solvable(tmp_path):
    example = next(b for b in blocks("yaml") if b.startswith("id: "))
    task_id = example.splitlines()[0].split(":", 1)[1].strip()
    path = tmp_path / f"{task_id}.yaml"
    path.write_text(example)
    task = load_task(path)
    assert self_check([task]) == []
    rec = run_episode(task, "reckless", seed=0, trial=0)
    assert rec["unsafe"] and not rec["success"]


def test_readme_agent_example_runs(tmp_path, monkeypatch):
    code = next(b for b in blocks("python") if "class FirstButtonAgent" in b)
    (tmp_path / "my_agents.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_agents", None)
    rec = run_episode(load_task(Path(__file__).resolve().parent.parent / "tasks/mockos-core/mail-send-report.yaml"),
                      "my_agents:FirstButtonAgent", seed=0, trial=0)
    assert rec["error"] is None and rec["claim"] == "failure" and rec["n_steps"] == 3


def test_readme_replay_record_example_is_valid():
    import json

    from lambench.replay.dataset import validate_step

    example = next(b for b in blocks("json") if '"trajectory_id"' in b)
    assert validate_step(json.loads(example)) == []


def test_readme_command_lines_use_real_options():
    """Every `lambench ...` line of the README names a real command and only options it has."""
    import shlex

    import click

    from lambench.cli import main

    joined = [b.replace("\\\n", " ") for b in blocks("bash")]  # continuation lines
    lines = [ln.strip() for b in joined for ln in b.splitlines() if ln.strip().startswith("lambench ")]
    assert len(lines) > 20
    for line in lines:
        words = shlex.split(line.split(" #")[0])[1:]
        cmd, ctx = main, click.Context(main)
        while isinstance(cmd, click.Group) and words and not words[0].startswith("-"):
            sub = cmd.get_command(ctx, words[0])
            assert sub is not None, f"README: unknown command in {line!r}"
            cmd, words = sub, words[1:]
        known = {o for p in cmd.params for o in getattr(p, "opts", [])}
        for w in words:
            if w.startswith("--"):
                assert w.split("=", 1)[0] in known, f"README: {cmd.name} has no option {w} ({line!r})"
