import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambench.record import EpisodeRecord
from lambench.run import RunConfig, RunDirError, run
from lambench.sandboxes.containers import process_start
from lambench.task import load_suite

ROOT = Path(__file__).resolve().parent.parent
FEW = ["mail-send-report@0", "files-clean-downloads-txt@0", "settings-enable-bluetooth"]


def lines(run_dir):
    return [json.loads(l) for l in (Path(run_dir) / "episodes.jsonl").read_text().splitlines()]


def keys(recs):
    return [(r["task_id"], r["variant"], r["seed"], r["trial"]) for r in recs]


def test_run_writes_records_config_and_summary(tmp_path):
    cfg = RunConfig(suite="mockos-core", agent="oracle", task_ids=FEW, trials=2)
    res = run(cfg, run_dir=tmp_path / "r")
    recs = lines(tmp_path / "r")
    assert len(recs) == 6 and res.ran == 6 and res.skipped == 0
    for r in recs:
        EpisodeRecord.model_validate(r)
    assert {r["seed"] for r in recs} == {0, 1}
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    m = summary["metrics"]
    assert m["episodes"] == 6 and m["success_rate"] == 1.0 and m["pass_hat_k"]["2"] == 1.0
    for field in ("success_ci", "unsafe_action_rate", "false_success_rate", "pass_at_k"):
        assert field in m
    assert len(summary["suite_version"]) == 12
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["agent"] == "oracle" and config["trials"] == 2


def test_same_command_resumes_without_duplicates(tmp_path):
    cfg = RunConfig(suite="mockos-core", agent="random", task_ids=FEW, trials=1)
    run(cfg, run_dir=tmp_path)
    first = lines(tmp_path)
    res = run(cfg, run_dir=tmp_path)
    assert res.ran == 0 and res.skipped == 3 and lines(tmp_path) == first
    more = RunConfig(suite="mockos-core", agent="random", task_ids=FEW, trials=3)
    res = run(more, run_dir=tmp_path)
    assert res.ran == 6 and res.skipped == 3
    ks = keys(lines(tmp_path))
    assert len(ks) == len(set(ks)) == 9


def test_different_configuration_in_same_dir_is_refused(tmp_path):
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=FEW[:1]), run_dir=tmp_path)
    with pytest.raises(RunDirError, match="different configuration"):
        run(RunConfig(suite="mockos-core", agent="random", task_ids=FEW[:1]), run_dir=tmp_path)


def test_a_run_resumed_with_fewer_episodes_is_refused_so_config_json_describes_every_episode(tmp_path):
    from click.testing import CliRunner

    from lambench.cli import main

    def cli(*args):
        return CliRunner().invoke(main, ["run", "--suite", "mockos-core", "--agent", "random", "--quiet",
                                         "--out", str(tmp_path), *args])

    two = ["--task", FEW[0], "--task", FEW[1]]
    assert cli(*two).exit_code == 0
    assert cli("--task", FEW[1], "--task", FEW[0]).exit_code == 0  # the same options, in another order: resumes
    wider = cli(*two, "--trials", "2", "--perturb", "popup")  # more episodes: those done are kept
    assert wider.exit_code == 0, wider.output
    assert len(lines(tmp_path)) == 2 * 2 * 2
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["trials"] == 2 and config["perturb"] == ["popup"]
    for narrower, named in (((*two, "--perturb", "popup"), "trials: 2 -> 1"), ((*two, "--trials", "2"), "perturb"),
                            (("--task", FEW[0], "--trials", "2", "--perturb", "popup"), "task_ids")):
        r = cli(*narrower)
        assert r.exit_code == 2, r.output
        assert named in r.output and "leaves out" in r.output and "another --out" in r.output
    assert len(lines(tmp_path)) == 8 and json.loads((tmp_path / "config.json").read_text()) == config


def test_partial_last_line_is_repaired_on_resume(tmp_path):
    cfg = RunConfig(suite="mockos-core", agent="oracle", task_ids=FEW)
    run(cfg, run_dir=tmp_path)
    path = tmp_path / "episodes.jsonl"
    data = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(data[:2]) + data[2][: len(data[2]) // 2])  # killed mid-write
    res = run(cfg, run_dir=tmp_path)
    assert res.ran == 1
    recs = lines(tmp_path)
    assert sorted(keys(recs)) == sorted(set(keys(recs))) and len(recs) == 3


def test_agent_that_raises_is_an_infra_error_retried_and_not_scored(tmp_path):
    cfg = RunConfig(suite="mockos-core", agent="tests.agents_for_tests:RaisingAgent", task_ids=FEW[:2], retries=1)
    res = run(cfg, run_dir=tmp_path)
    recs = lines(tmp_path)
    assert all(r["error"].startswith("ValueError: model backend exploded") for r in recs)
    assert all(r["attempts"] == 2 for r in recs)
    assert res.summary["metrics"]["errored"] == 2 and res.summary["metrics"]["episodes"] == 0


def test_garbage_agent_is_recorded_as_invalid_actions(tmp_path):
    cfg = RunConfig(suite="mockos-core", agent="tests.agents_for_tests:GarbageAgent", task_ids=FEW)
    res = run(cfg, run_dir=tmp_path)
    recs = lines(tmp_path)
    for r in recs:
        assert r["error"] is None and r["termination"] == "max_steps"
        assert r["n_invalid"] == r["n_steps"] > 0
        assert all(s["error"].startswith("invalid action") for s in r["steps"])
    assert res.summary["metrics"]["invalid_action_rate"] == 1.0


def test_step_timeout_ends_the_episode(tmp_path):
    cfg = RunConfig(suite="mockos-core", agent="tests.agents_for_tests:SleepyAgent", task_ids=FEW[:1],
                    step_timeout=0.3)
    t0 = time.perf_counter()
    run(cfg, run_dir=tmp_path)
    assert time.perf_counter() - t0 < 4
    rec, = lines(tmp_path)
    assert rec["termination"] == "step_timeout" and not rec["success"] and rec["error"] is None


def test_workers_give_the_same_records_as_one_process(tmp_path):
    tasks = [t.id for t in load_suite("mockos-core")][:8]
    a = run(RunConfig(suite="mockos-core", agent="random", task_ids=tasks, trials=2), run_dir=tmp_path / "a")
    b = run(RunConfig(suite="mockos-core", agent="random", task_ids=tasks, trials=2, workers=2),
            run_dir=tmp_path / "b")

    def norm(recs):
        out = {}
        for r in recs:
            r = dict(r)
            r.pop("wall_time_s")
            r["steps"] = [{k: v for k, v in s.items() if k != "latency_s"} for s in r["steps"]]
            out[keys([r])[0]] = r
        return out

    assert norm(lines(tmp_path / "a")) == norm(lines(tmp_path / "b"))
    assert a.summary["metrics"]["success_rate"] == b.summary["metrics"]["success_rate"]


def test_dead_worker_is_retried_then_recorded_as_infra_error(tmp_path):
    cfg = RunConfig(suite="mockos-core", agent="tests.agents_for_tests:DyingAgent", task_ids=FEW[:2],
                    workers=2, retries=1)
    res = run(cfg, run_dir=tmp_path)
    recs = lines(tmp_path)
    assert len(recs) == 2 and all("worker process died" in r["error"] for r in recs)
    assert res.summary["metrics"]["episodes"] == 0


def test_a_dying_worker_does_not_use_up_its_neighbours_retries(tmp_path):
    tasks = ["mail-send-report@0", "files-clean-downloads-txt@0", "settings-enable-bluetooth", "cal-create-dentist@0"]
    cfg = RunConfig(suite="mockos-core", agent="tests.agents_for_tests:KillOnOneTask", task_ids=tasks,
                    workers=3, retries=1)
    res = run(cfg, run_dir=tmp_path)
    by_task = {r["task_id"]: r for r in lines(tmp_path)}
    assert "worker process died" in by_task["mail-send-report@0"]["error"]
    assert by_task["mail-send-report@0"]["attempts"] == 2
    for t in tasks[1:]:
        assert by_task[t]["error"] is None and by_task[t]["success"], by_task[t]
    assert res.summary["metrics"]["errored"] == 1


def test_resume_retries_episodes_that_errored(tmp_path, monkeypatch):
    marker = tmp_path / "backend-up"
    monkeypatch.setenv("LAMBENCH_TEST_MARKER", str(marker))
    cfg = RunConfig(suite="mockos-core", agent="tests.agents_for_tests:FlakyOnce", task_ids=FEW[:2], retries=0)
    res = run(cfg, run_dir=tmp_path / "r")
    assert res.summary["metrics"]["errored"] == 2
    marker.write_text("up")
    res = run(cfg, run_dir=tmp_path / "r")
    assert res.ran == 2 and res.summary["metrics"]["errored"] == 0 and res.summary["metrics"]["episodes"] == 2


def test_odd_agent_output_cannot_stop_the_run(tmp_path):
    class Odd:
        calls = 0

        def reset(self, task):
            pass

        def act(self, obs):
            Odd.calls += 1
            return ['{"type":"call","tool":"files.search","args":{"query":"\\ud800"}}',
                    {"type": "call", "tool": "files.search", "args": {"query": {1, 2}}}][Odd.calls % 2]

    from lambench.episode import run_episode
    from lambench.run.rundir import Appender
    from lambench.task import get_task

    rec = run_episode(get_task("mail-send-report@0"), "odd", seed=0, trial=0, agent=Odd())
    w = Appender(tmp_path / "e.jsonl")
    w.write(rec)
    w.close()
    back = json.loads((tmp_path / "e.jsonl").read_text())
    assert back["n_steps"] == rec["n_steps"] > 0


def _children(pid):
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _alive(pid):
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["LAMBENCH_TEST_SLEEP"] = "0.03"
    return env


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_run_then_resume_loses_and_repeats_nothing(tmp_path, workers):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "lambench.cli", "run", "--suite", "mockos-core",
           "--agent", "tests.agents_for_tests:SlowOracle", "--trials", "2", "--workers", str(workers),
           "--out", str(out), "--quiet"]
    n_tasks = len(load_suite("mockos-core"))
    proc = subprocess.Popen(cmd, env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    path = out / "episodes.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= 5:
            break
        time.sleep(0.02)
    workers_before = _children(proc.pid)
    if workers > 1:
        assert len(workers_before) >= workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in workers_before):
        time.sleep(0.1)
    assert not [p for p in workers_before if _alive(p)], "worker processes outlived the killed run"
    before = path.read_bytes()
    n_before = before.count(b"\n")
    assert 5 <= n_before < 2 * n_tasks, "the run was not killed mid-way"
    finished_before = [json.loads(l) for l in before.split(b"\n")[:n_before]]
    done = subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    recs = lines(out)
    ks = keys(recs)
    assert len(ks) == len(set(ks)) == 2 * n_tasks
    by_key = {k: r for k, r in zip(ks, recs)}
    for r in finished_before:  # nothing finished was lost or rewritten
        assert by_key[keys([r])[0]] == r
    assert all(r["success"] for r in recs)


def test_episode_timeout_bounds_a_slow_agent_and_keeps_its_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMBENCH_TEST_SLEEP", "0.2")
    cfg = RunConfig(suite="mockos-core", agent="tests.agents_for_tests:SlowOracle", task_ids=["mail-send-report@0"],
                    episode_timeout=0.5, step_timeout=5)
    t0 = time.perf_counter()
    run(cfg, run_dir=tmp_path)
    assert time.perf_counter() - t0 < 3
    rec, = lines(tmp_path)
    assert rec["termination"] == "episode_timeout" and rec["error"] is None and not rec["success"]
    assert 1 <= rec["n_steps"] <= 3


_STUCK_POOL = """
import sys, time
from lambench import executors
from tests.agents_for_tests import torn_result_job

def stuck(_):
    time.sleep(3600)

def torn(_):
    torn_result_job(0, 0)  # dies as a worker killed while sending its result does

pool = executors.open_pool(2, 2)
pids = pool.pids
print(" ".join(map(str, pids)), flush=True)
pool.submit(0, 0, [({job}, (0,))]), pool.submit(1, 1, [(stuck, (1,))])
time.sleep(0.5)
{end}
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.slow
@pytest.mark.parametrize("job", ["stuck", "torn"])
@pytest.mark.parametrize("end", ["sys.exit(0)", "executors.close_pool(pool, grace=1.0); print('closed', flush=True)",
                                 "executors.close_pool(pool, kill=True, grace=1.0); print('closed', flush=True)"])
def test_a_pool_whose_workers_hang_cannot_hang_the_process_at_exit(tmp_path, job, end):
    """Python's exit joins every process pool's manager thread, which waits for the pool's work: a worker stuck in an
    episode, or one killed while it sent its result (the thread then waits for the rest of the message), kept the
    process alive for ever (a full test run hung at exit in CI after an interrupted run killed its workers). A pool
    still open at exit is closed with its workers killed; _close_pool kills workers that do not stop within its grace
    and ends the pipes its thread could wait on."""
    script = tmp_path / "stuck.py"
    script.write_text(_STUCK_POOL.format(job=job, end=end))
    t0 = time.monotonic()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    pids = [int(p) for p in proc.stdout.split()[:2]]
    assert len(pids) == 2 and took < 30, (took, proc.stdout, proc.stderr)
    alive = lambda: [p for p in pids if process_start(p) is not None]  # noqa: E731
    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive()
    if "close_pool" in end:
        assert "closed" in proc.stdout


@pytest.mark.slow
def test_a_worker_killed_while_sending_its_result_is_found_and_the_run_goes_on():
    """The pool never notices such a worker's death (its thread waits for the rest of the result): the run does,
    re-runs what was in flight one at a time, and charges only the job that kills its worker."""
    from lambench.executors import execute
    from tests.agents_for_tests import torn_result_job

    got, t0 = [], time.monotonic()
    interrupted = execute(list(range(12)), workers=2, retries=1, call=lambda i: (torn_result_job, (i, 5)),
                          key=lambda i: i, error_record=lambda i, err: {"job": i, "error": err},
                          finish=got.append)
    assert not interrupted and time.monotonic() - t0 < 60
    by_job = {r["job"]: r for r in got}
    assert sorted(by_job) == list(range(12)) and len(got) == 12
    assert "worker process died" in by_job[5]["error"] and by_job[5]["attempts"] == 2
    assert all(by_job[i]["error"] is None and by_job[i]["attempts"] == 1 for i in by_job if i != 5)


@pytest.mark.parametrize("way", ["argument", "record"])
def test_a_message_that_does_not_unpickle_fails_its_episode_not_the_run(way):
    """What pickles on one side of the pool's pipe but does not load on the other (an episode's argument in the
    worker, a record in the run) is that episode's failure: it is retried alone and recorded as errored, the
    others are unaffected; before, the first hung the worker for ever and the second crashed the run."""
    from lambench.executors import execute
    from tests.agents_for_tests import LoadsBadly, job_whose_record_loads_badly, job_with_arg

    def call(i):
        if way == "argument":
            return job_with_arg, (i, LoadsBadly() if i == 3 else None)
        return job_whose_record_loads_badly, (i, 3)

    got, t0 = [], time.monotonic()
    interrupted = execute(list(range(8)), workers=2, retries=1, call=call, key=lambda i: i,
                          error_record=lambda i, err: {"job": i, "error": err}, finish=got.append)
    assert not interrupted and time.monotonic() - t0 < 30
    by_job = {r["job"]: r for r in got}
    assert sorted(by_job) == list(range(8)) and len(got) == 8
    assert "not a number" in by_job[3]["error"] and by_job[3]["attempts"] == 2
    assert all(by_job[i]["error"] is None for i in by_job if i != 3)
