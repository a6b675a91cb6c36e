"""Whole runs of a container suite through the CLI: a SIGKILLed run's orphans are removed by the next
run (and nothing else is touched); SIGTERM and Ctrl-C stop a run with no container left and the run
resumes to every episode exactly once. Skips without an engine; fails under CI=true."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.children import default_sigint
from tests.conftest import require_docker

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parent.parent
LABEL = "dev.lambench"


@pytest.fixture(autouse=True)
def _engine():
    require_docker()


@pytest.fixture
def client():
    from lambench.sandboxes.containers import get_client

    c = get_client()
    yield c
    c.close()


def _suite(tmp_path, n=4):
    root = tmp_path / "tasks"
    d = root / "sh-mini"
    d.mkdir(parents=True)
    for i in range(n):
        (d / f"sh-mini-{i}.yaml").write_text(json.dumps({
            "id": f"sh-mini-{i}", "suite": "sh-mini", "sandbox": "shell",
            "instruction": f"Write {i} into ~/out.txt.",
            "checks": [{"command": {"cmd": "cat ~/out.txt", "stdout_equals": str(i)}}],
            "gold": [{"type": "shell", "command": f"echo {i} > ~/out.txt"}, {"type": "shell", "command": "cat out.txt"},
                     {"type": "finish", "status": "success", "message": "done"}]}))
    return root


def _start(tmp_path, root, out, *, workers, sleep="1.5", agent="tests.agents_for_tests:SlowOracle", executor="local",
           stale_owner=False):
    env = {**os.environ, "LAMBENCH_TASKS": str(root), "PYTHONPATH": str(ROOT), "LAMBENCH_TEST_SLEEP": sleep}
    env.pop("LAMBENCH_OWNER_PID", None)
    env.pop("LAMBENCH_OWNER_START", None)
    if stale_owner:  # inherited from a parent that ran a container suite itself (this test process, say)
        from lambench.sandboxes.containers import process_start

        env.update(LAMBENCH_OWNER_PID=str(os.getpid()), LAMBENCH_OWNER_START=process_start(os.getpid()) or "",
                   LAMBENCH_RUN_ID="an-older-run")
    return subprocess.Popen([sys.executable, "-m", "lambench.cli", "run", "--suite", "sh-mini", "--agent", agent,
                             "--workers", str(workers), "--out", str(out), "--quiet", "--executor", executor],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)


def _owned_by(client, pid):
    return client.containers.list(all=True, sparse=True, filters={"label": f"{LABEL}.owner_pid={pid}"})


def _wait_for_containers(client, proc, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _owned_by(client, proc.pid):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("the run started no container")


def _episodes(out):
    lines = (Path(out) / "episodes.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def _wait_gone(client, pid, timeout=30):
    deadline = time.monotonic() + timeout
    while _owned_by(client, pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _owned_by(client, pid)


def test_a_sigkilled_runs_orphans_are_removed_by_the_next_run_and_nothing_else(client, tmp_path):
    from lambench.sandboxes.containers import Container

    root = _suite(tmp_path)
    out = tmp_path / "run"
    unrelated = client.containers.run("lambench/shell:latest", ["sleep", "infinity"], detach=True,
                                      network_mode="none", labels={"purpose": "not lambench"})
    mine = Container("lambench/shell:latest", run_id="test-live-owner", client=client).start()
    try:
        proc = _start(tmp_path, root, out, workers=2)
        _wait_for_containers(client, proc)
        proc.kill()  # SIGKILL: no cleanup runs in the run's process (its workers die with it)
        proc.communicate()
        orphans = _owned_by(client, proc.pid)
        assert orphans, "nothing left behind to prune (the test must kill the run while containers are up)"
        again = _start(tmp_path, root, out, workers=1, sleep="0")
        _, err = again.communicate(timeout=300)
        assert again.returncode == 0, err
        assert "left by killed runs" in err
        assert not _owned_by(client, proc.pid), "the killed run's containers are still there"
        assert client.containers.list(all=True, sparse=True, filters={"id": unrelated.id}), "an unrelated container was removed"
        assert client.containers.list(all=True, sparse=True, filters={"id": mine.container.id}), \
            "a live owner's container was removed"
        recs = _episodes(out)
        keys = [r["task_id"] for r in recs if r["error"] is None]
        assert sorted(keys) == [f"sh-mini-{i}" for i in range(4)] and all(r["success"] for r in recs if r["error"] is None)
        assert not _owned_by(client, again.pid)
    finally:
        unrelated.remove(force=True)
        mine.close()


@pytest.mark.parametrize("sig,workers,executor", [(signal.SIGTERM, 1, "local"), (signal.SIGINT, 1, "local"),
                                                  (signal.SIGTERM, 2, "local"), (signal.SIGTERM, 2, "ray")])
def test_sigterm_and_ctrl_c_stop_cleanly_with_no_container_left(client, tmp_path, sig, workers, executor):
    if executor == "ray":
        pytest.importorskip("ray")
    root = _suite(tmp_path)
    out = tmp_path / "run"
    # On Ray the episodes run in actors, not in the run's children: they must still own their containers to
    # the run (and its run id), not to whatever owner an inherited environment names.
    proc = _start(tmp_path, root, out, workers=workers, sleep="1.0", executor=executor, stale_owner=executor == "ray")
    _wait_for_containers(client, proc, timeout=180)
    time.sleep(1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not _wait_gone(client, proc.pid), "a container of the interrupted run is left"
    done_before = [r["task_id"] for r in _episodes(out) if r["error"] is None] if (out / "episodes.jsonl").exists() else []
    again = _start(tmp_path, root, out, workers=1, sleep="0")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    recs = [r for r in _episodes(out) if r["error"] is None]
    assert sorted(r["task_id"] for r in recs) == [f"sh-mini-{i}" for i in range(4)], "lost or duplicated episodes"
    assert set(done_before) <= {r["task_id"] for r in recs}
    assert not _owned_by(client, again.pid)


def test_an_image_that_fails_to_build_is_a_clear_error_and_no_episode_runs(tmp_path):
    ctx = tmp_path / "sandboxes"
    (ctx / "shell").mkdir(parents=True)
    (ctx / "shell" / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN exit 3\n")
    root = _suite(tmp_path, n=1)
    env = {**os.environ, "LAMBENCH_TASKS": str(root), "PYTHONPATH": str(ROOT), "LAMBENCH_SANDBOXES": str(ctx)}
    res = subprocess.run([sys.executable, "-m", "lambench.cli", "run", "--suite", "sh-mini", "--agent", "oracle",
                          "--out", str(tmp_path / "run"), "--quiet"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 2, res.stderr
    assert "building the image(s) lambench/shell failed" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "run" / "episodes.jsonl").exists() or not (tmp_path / "run" / "episodes.jsonl").read_text()


def test_a_container_suite_on_the_ray_executor_succeeds_and_leaves_no_container(client, tmp_path):
    pytest.importorskip("ray")
    ours = {"label": f"{LABEL}.owner_pid"}
    before = {c.id for c in client.containers.list(all=True, sparse=True, filters=ours)}
    root = _suite(tmp_path)
    env = {**os.environ, "LAMBENCH_TASKS": str(root), "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "lambench.cli", "run", "--suite", "sh-mini", "--agent", "oracle",
                          "--workers", "2", "--executor", "ray", "--out", str(tmp_path / "run"), "--quiet"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    recs = _episodes(tmp_path / "run")
    assert sorted(r["task_id"] for r in recs) == [f"sh-mini-{i}" for i in range(4)]
    assert all(r["success"] and r["error"] is None for r in recs)
    def new():  # Ray's workers are not the run's children: their containers have their own owner labels
        return {c.id for c in client.containers.list(all=True, sparse=True, filters=ours)} - before

    deadline = time.monotonic() + 20
    while new() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not new(), "a Ray worker kept a sandbox container"


def test_a_ray_node_without_docker_gives_retried_infra_errors_that_name_the_node(tmp_path):
    """The driver has an engine (its image check passes); the cluster's node has none: each episode is an
    infrastructure error, retried, recorded with a message that names the node and the fix, and the CLI prints it."""
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    node_env = {**os.environ, "RAY_AUTH_MODE": "disabled", "DOCKER_HOST": "unix:///nonexistent/docker.sock",
                "PYTHONPATH": str(ROOT)}
    ray_bin = str(Path(sys.executable).with_name("ray"))
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short (socket paths), and not /tmp/ray: the address file
    head = subprocess.Popen([ray_bin, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",  # stays here
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                            env=node_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        root = _suite(tmp_path, n=2)
        env = {**os.environ, "LAMBENCH_TASKS": str(root), "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled"}
        cmd = [sys.executable, "-m", "lambench.cli", "run", "--suite", "sh-mini", "--agent", "oracle", "--workers", "2",
               "--retries", "1", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}", "--out", str(tmp_path / "run"),
               "--quiet"]
        deadline = time.monotonic() + 60
        while True:  # the head takes a few seconds to listen
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
            if res.returncode == 3 or time.monotonic() > deadline or "cannot reach the Ray cluster" not in res.stderr:
                break
            time.sleep(1)
        assert res.returncode == 3, res.stderr[-3000:]  # every episode left errored: never exit 0
        recs = _episodes(tmp_path / "run")
        assert sorted(r["task_id"] for r in recs) == ["sh-mini-0", "sh-mini-1"]
        for r in recs:
            assert r["attempts"] == 2 and not r["success"]
            assert r["error"].startswith(f"DockerUnavailable: cannot reach a Docker engine on {socket.gethostname()}")
            assert "apt-get install -y docker.io" in r["error"]
        assert "2 episode(s) of oracle hit infrastructure errors" in res.stderr
        assert "2 x DockerUnavailable: cannot reach a Docker engine on" in res.stderr
    finally:
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)
