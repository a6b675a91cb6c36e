"""Ctrl-C (SIGINT) and SIGTERM sent to a `lambench run` process: it stops cleanly (exit code 130, a message
saying how to resume, the summary of what finished), leaves no worker process behind, and the same command
then finishes the run with every episode exactly once — on one process, on a pool of workers, and on Ray
(a Ray instance the run starts itself).  Container clean-up on signals is tested with the container sandboxes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambench.task import load_suite
from tests.children import default_sigint

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TASKS = [t.id for t in load_suite("mockos-core")][:8]
TRIALS = 2


def _ray_installed() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        if CI:
            raise ImportError("Ray is missing and CI=true requires it: pip install -e '.[test]'") from None
        return False
    return True


def _descendants(pid):
    """Every process below ``pid`` (pool workers; Ray's GCS, raylet and workers)."""
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid):
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False



def _keys(path):
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    keys = [(r["task_id"], r["variant"], r["seed"], r["trial"]) for r in recs]
    return recs, keys


@pytest.mark.slow
@pytest.mark.parametrize("how", ["1 worker", "2 workers", "ray"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_the_run_cleanly_and_the_same_command_finishes_it(tmp_path, sig, how):
    if how == "ray" and not _ray_installed():
        pytest.skip("Ray is not installed (pip install 'lambench[ray]')")
    workers = "1" if how == "1 worker" else "2"
    cmd = [sys.executable, "-m", "lambench.cli", "run", "--suite", "mockos-core",
           "--agent", "tests.agents_for_tests:SlowOracle", *[a for t in TASKS for a in ("--task", t)],
           "--trials", str(TRIALS), "--workers", workers, "--out", str(tmp_path), "--quiet"]
    if how == "ray":
        cmd += ["--executor", "ray"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), LAMBENCH_TEST_SLEEP="0.05")
    path = tmp_path / "episodes.jsonl"
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    deadline = time.time() + 120
    while time.time() < deadline and not (path.exists() and path.read_bytes().count(b"\n") >= 3):
        time.sleep(0.02)
    below = _descendants(proc.pid)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted" in err and "resume" in err
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(p) for p in below):
        time.sleep(0.1)
    assert not [p for p in below if _alive(p)], "processes of the interrupted run outlived it"

    recs, keys = _keys(path)
    n = len(recs)
    assert 3 <= n < len(TASKS) * TRIALS, "the run was not stopped mid-way"
    assert len(set(keys)) == n  # nothing written twice, no partial line
    assert json.loads((tmp_path / "summary.json").read_text())["metrics"]["episodes"] == n
    before = path.read_bytes()

    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resumed: {n} already recorded, {len(TASKS) * TRIALS - n} run" in done.stderr
    assert path.read_bytes().startswith(before)  # what was recorded stays as it was
    recs, keys = _keys(path)
    assert len(keys) == len(set(keys)) == len(TASKS) * TRIALS  # every episode exactly once
    assert all(r["success"] and r["error"] is None for r in recs)
