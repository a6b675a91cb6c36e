"""The Ray executor against a real Ray instance this module starts (2 CPUs; reached at 127.0.0.1): the same records
as the local executor for the same seeds, resume across executors both ways, no retries by Ray, a killed
worker as a retried infrastructure error, clear errors for an unreachable cluster and a missing Ray.
Skips without Ray on a user's machine; fails under CI=true, where the test extra installs it."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambench.run import RunConfig, run
from lambench.task import load_suite

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TASKS = [t.id for t in load_suite("mockos-core")][:6]

try:
    import ray
except ImportError:
    if CI:
        raise ImportError("Ray is missing and CI=true requires it: pip install -e '.[test]'") from None
    pytest.skip("Ray is not installed (pip install 'lambench[ray]')", allow_module_level=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray instance; its workers inherit PYTHONPATH (to import the test agents) and the marker path."""
    if ray.is_initialized():
        ray.shutdown()
    marker = tmp_path_factory.mktemp("ray") / "backend-up"
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "LAMBENCH_TEST_MARKER")}
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), saved["PYTHONPATH"]) if p)
    os.environ["LAMBENCH_TEST_MARKER"] = str(marker)
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=100 << 20,
             logging_level="WARNING")
    try:
        port = ray.get_runtime_context().gcs_address.rsplit(":", 1)[1]
        yield {"address": f"127.0.0.1:{port}", "marker": marker}
    finally:
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def lines(run_dir):
    return [json.loads(l) for l in (Path(run_dir) / "episodes.jsonl").read_text().splitlines()]


def key(r):
    return (r["task_id"], r["variant"], r["seed"], r["trial"])


def norm(recs):
    """Records by key, without the fields that measure time (they differ from run to run)."""
    out = {}
    for r in recs:
        r = {k: v for k, v in r.items() if k != "wall_time_s"}
        r["steps"] = [{k: v for k, v in s.items() if k != "latency_s"} for s in r["steps"]]
        assert key(r) not in out, f"episode {key(r)} recorded twice"
        out[key(r)] = r
    return out


def config(executor, **kw):
    base = dict(suite="mockos-core", agent="random", task_ids=TASKS, trials=2, perturb=["popup"], workers=2)
    return RunConfig(**{**base, **kw, "executor": executor})


def stop_after(n):
    seen = []

    def on_progress(rec):
        seen.append(rec)
        if len(seen) == n:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the run

    return on_progress


def test_ray_gives_the_same_records_as_local_for_the_same_seeds(tmp_path, cluster):
    local = run(config("local", workers=1), run_dir=tmp_path / "local")
    remote = run(config("ray"), run_dir=tmp_path / "ray")
    assert remote.ran == local.ran == 2 * 2 * len(TASKS) and not remote.interrupted
    assert norm(lines(tmp_path / "ray")) == norm(lines(tmp_path / "local"))
    untimed = lambda m: {k: v for k, v in m.items() if "latency" not in k and "wall_time" not in k}  # noqa: E731
    assert untimed(remote.summary["metrics"]) == untimed(local.summary["metrics"])
    assert json.loads((tmp_path / "ray" / "config.json").read_text())["executor"] == "ray"
    obs = [json.loads(l) for l in (tmp_path / "ray" / "observations.jsonl").read_text().splitlines()]
    assert len(obs) == remote.ran and all(o["observations"] for o in obs)


@pytest.mark.parametrize("first,then", [("local", "ray"), ("ray", "local")])
def test_a_run_interrupted_on_one_executor_resumes_on_the_other(tmp_path, cluster, first, then):
    reference = norm(lines(run(config("local", workers=1), run_dir=tmp_path / "ref").run_dir))
    out = tmp_path / "run"
    cut = run(config(first), run_dir=out, on_progress=stop_after(5))
    assert cut.interrupted
    before = (out / "episodes.jsonl").read_bytes()
    n_before = before.count(b"\n")
    assert 5 <= n_before < len(reference)
    done = run(config(then), run_dir=out)
    assert not done.interrupted and done.skipped == n_before and done.ran == len(reference) - n_before
    assert (out / "episodes.jsonl").read_bytes().startswith(before)  # nothing recorded was rewritten
    assert norm(lines(out)) == reference  # every episode exactly once, as an uninterrupted run records it
    assert done.summary["metrics"]["episodes"] == len(reference) // 2  # clean ones; popup kept apart


def test_ray_never_retries_an_episode_by_itself():
    from lambench.executors import ray as executors

    options = executors._actor_class()._default_options
    assert options["max_restarts"] == 0 and options["max_task_retries"] == 0


def test_a_killed_ray_worker_is_a_retried_infra_error_and_the_run_stays_consistent(tmp_path, cluster):
    tasks = ["mail-send-report@0", "files-clean-downloads-txt@0", "settings-enable-bluetooth", "cal-create-dentist@0"]
    cfg = RunConfig(suite="mockos-core", agent="tests.agents_for_tests:KillOnOneTask", task_ids=tasks, workers=2,
                    retries=1, executor="ray")
    res = run(cfg, run_dir=tmp_path)  # the agent calls os._exit inside the Ray worker on mail-send-report@0
    by_task = {r["task_id"]: r for r in lines(tmp_path)}
    assert len(lines(tmp_path)) == len(tasks)
    dead = by_task["mail-send-report@0"]
    assert "worker process died" in dead["error"] and "Ray" in dead["error"] and dead["attempts"] == 2
    for t in tasks[1:]:
        assert by_task[t]["error"] is None and by_task[t]["success"] and by_task[t]["attempts"] == 1
    assert res.summary["metrics"]["errored"] == 1 and res.summary["metrics"]["episodes"] == 3
    again = run(cfg.model_copy(update={"executor": "local"}), run_dir=tmp_path)  # resume: only the errored one runs
    assert again.ran == 1 and again.skipped == 3
    assert again.summary["metrics"]["errored"] == 1 and again.summary["metrics"]["episodes"] == 3


def _fast_job(i, die_on):
    """A job of a few microseconds (so jobs travel in chunks); job ``die_on`` kills its Ray worker."""
    if i == die_on:
        os._exit(3)
    return {"i": i, "error": None, "wall_time_s": 1e-5}


def test_a_worker_killed_in_a_chunk_charges_only_the_episode_that_kills_it(cluster):
    from lambench.executors import run_ray

    done = []
    run_ray(list(range(60)), workers=2, retries=1, call=lambda i: (_fast_job, (i, 41)), key=lambda i: i,
            error_record=lambda i, err: {"i": i, "error": err}, finish_many=done.extend)
    by = {r["i"]: r for r in done}
    assert len(done) == len(by) == 60  # each job finished exactly once
    assert "worker process died" in by[41]["error"] and by[41]["attempts"] == 2
    assert all(r["error"] is None and r["attempts"] == 1 for i, r in by.items() if i != 41)


def test_an_infra_error_in_a_ray_worker_is_retried_by_lambench(tmp_path, cluster):
    cfg = RunConfig(suite="mockos-core", agent="tests.agents_for_tests:FlakyOnce", task_ids=TASKS[:2], retries=2,
                    executor="ray")
    res = run(cfg, run_dir=tmp_path / "r")  # the backend is down: every attempt raises ConnectionError
    assert [r["attempts"] for r in lines(tmp_path / "r")] == [3, 3]
    assert all("ConnectionError" in r["error"] for r in lines(tmp_path / "r"))
    cluster["marker"].write_text("up")
    res = run(cfg, run_dir=tmp_path / "r")
    assert res.ran == 2 and res.summary["metrics"]["errored"] == 0 and res.summary["metrics"]["episodes"] == 2


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_cluster_is_named_with_the_fix_and_nothing_is_written(tmp_path, cluster):
    from click.testing import CliRunner

    from lambench.cli import main
    from lambench.executors import ExecutorError

    address = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(ExecutorError, match="ray start --head") as err:
        run(config("ray", ray_address=address), run_dir=tmp_path / "r")
    assert address in str(err.value)
    assert not (tmp_path / "r").exists()
    for bad in (address, f"ray://{address}", "no-port-here"):
        r = CliRunner().invoke(main, ["run", "--suite", "mockos-core", "--agent", "oracle", "--task", TASKS[0],
                                      "--executor", "ray", "--ray-address", bad, "--out", str(tmp_path / "c")])
        assert r.exit_code == 2 and bad in r.output and "--ray-address" in r.output, r.output
    assert not (tmp_path / "c").exists()
    assert ray.is_initialized()  # the cluster this process uses was left alone


def test_without_ray_the_executor_says_how_to_install_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lambench.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    r = CliRunner().invoke(main, ["run", "--suite", "mockos-core", "--agent", "oracle", "--task", TASKS[0],
                                  "--executor", "ray", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "pip install 'lambench[ray]'" in r.output, r.output
    assert not (tmp_path / "r").exists()


def test_the_cli_runs_on_a_cluster_given_by_address_and_resumes_locally(tmp_path, cluster):
    # This test process has run on the 2-CPU cluster already and keeps its episode actors for its next run: they
    # must not hold the cluster's CPUs from another driver (the CLI below would wait for them forever).
    run(config("ray", task_ids=TASKS[:2], trials=1), run_dir=tmp_path / "first")
    cmd = [sys.executable, "-m", "lambench.cli", "run", "--suite", "mockos-core", "--agent", "oracle",
           *[a for t in TASKS[:3] for a in ("--task", t)], "--workers", "2", "--out", str(tmp_path / "cli"), "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(cmd + ["--executor", "ray", "--ray-address", cluster["address"]], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(lines(tmp_path / "cli")) == 3 and all(x["success"] for x in lines(tmp_path / "cli"))
    again = subprocess.run(cmd + ["--trials", "2"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "resumed: 3 already recorded, 3 run" in again.stderr, again.stderr[-3000:]
    assert len(norm(lines(tmp_path / "cli"))) == 6


def test_a_process_keeps_its_actors_for_its_next_run_and_can_release_them(tmp_path, cluster):
    from lambench.executors import ray as executors

    run(config("ray", task_ids=TASKS[:2], trials=1), run_dir=tmp_path / "a")
    first = list(executors._crew["actors"])
    pids = ray.get([a.release.remote() for a in first])
    run(config("ray", task_ids=TASKS[:2], trials=1), run_dir=tmp_path / "b")
    assert executors._crew["actors"] == first  # no new processes for the second run
    assert ray.get([a.release.remote() for a in first]) == pids
    executors.release_actors()
    assert executors._crew["actors"] == []
    deadline = time.monotonic() + 30  # ray.kill goes through the GCS: a call sent right after may still run
    with pytest.raises(ray.exceptions.RayActorError):
        while time.monotonic() < deadline:
            ray.get(first[0].release.remote(), timeout=30)
            time.sleep(0.2)
    done = run(config("ray", task_ids=TASKS[:2], trials=1), run_dir=tmp_path / "c")  # a new crew starts
    assert done.ran == 4 and len(executors._crew["actors"]) == 2


def test_the_cli_runs_through_ray_client(tmp_path):
    """--ray-address ray://HOST:PORT end to end: a head started with `ray start` (its Ray Client server on a free
    port), the CLI as a driver outside the cluster's processes."""
    import shutil
    import signal
    import tempfile
    import time

    if not CI:
        pytest.importorskip("grpc", reason="Ray Client needs grpcio: pip install 'ray[client]'")
    port, client_port = _closed_port(), _closed_port()  # free ports
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short (socket paths), and not /tmp/ray
    env = dict(os.environ, RAY_AUTH_MODE="disabled", PYTHONPATH=str(ROOT))
    head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
                             f"--port={port}", f"--ray-client-server-port={client_port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", client_port), timeout=1).close()
                break
            except OSError:
                assert head.poll() is None, "ray start --head failed"
                assert time.monotonic() < deadline, "the Ray Client server did not come up"
                time.sleep(0.5)
        r = subprocess.run([sys.executable, "-m", "lambench.cli", "run", "--suite", "mockos-core", "--agent", "oracle",
                            *[a for t in TASKS[:2] for a in ("--task", t)], "--trials", "2", "--workers", "2",
                            "--executor", "ray", "--ray-address", f"ray://127.0.0.1:{client_port}",
                            "--out", str(tmp_path / "run"), "--quiet"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        recs = lines(tmp_path / "run")
        assert len(norm(recs)) == 4 and all(x["success"] and x["error"] is None for x in recs)
        assert json.loads((tmp_path / "run" / "config.json").read_text())["executor"] == "ray"
    finally:
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)
