"""The Docker backend against the real engine: hardening read back from `docker inspect`, command
timeouts, orphaned containers of a killed run pruned (and nothing else touched), image rebuilds only
when a build context changes. Skips without an engine; fails under CI=true."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def client():
    from lambench.sandboxes.containers import DockerUnavailable, get_client

    try:
        c = get_client()
    except DockerUnavailable as exc:
        if CI:
            pytest.fail(f"CI needs a Docker engine: {exc}")
        pytest.skip(str(exc))
    yield c
    c.close()


@pytest.fixture(scope="module")
def shell_image(client):
    from lambench.sandboxes.containers import build_images

    return build_images(ROOT / "sandboxes", client=client, names=["shell"], log=lambda m: None)["shell"]


def test_containers_are_hardened_by_default(client, shell_image):
    from lambench.sandboxes.containers import LABEL, Container

    with Container(shell_image, run_id="test-hardening", client=client) as c:
        info = c.inspect()
        host, cfg = info["HostConfig"], info["Config"]
        assert host["NetworkMode"] == "none"
        assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["ReadonlyRootfs"] is True
        assert cfg["User"] == "65534:65534"
        assert host["PidsLimit"] == 256 and host["Memory"] == 512 * 2**20 and host["NanoCpus"] == 10**9
        assert host["MemorySwap"] == host["Memory"]  # no swap beyond the limit
        assert "/work" in host["Tmpfs"] and host["Privileged"] is False
        labels = cfg["Labels"]
        assert labels[f"{LABEL}.run"] == "test-hardening" and labels[f"{LABEL}.owner_pid"] == str(os.getpid())
        # and in behaviour
        assert c.exec("id -u").stdout.strip() == "65534"
        assert c.exec("echo hi > /work/x && cat /work/x").stdout == "hi\n"
        assert c.exec("touch /etc/x").exit_code != 0
        net = c.exec("python3 -c \"import socket; socket.create_connection(('10.255.255.53', 53), 2)\"")
        assert net.exit_code != 0 and ("unreachable" in net.stderr.lower() or "error" in net.stderr.lower())
        cid = c.container.id
    assert not client.containers.list(all=True, filters={"id": cid}), "the container outlived its sandbox"


def test_a_command_over_its_timeout_is_killed_and_the_harness_goes_on(client, shell_image):
    from lambench.sandboxes.containers import Container

    with Container(shell_image, run_id="test-timeout", client=client) as c:
        t0 = time.monotonic()
        out = c.exec("sleep 100000", timeout=1)
        assert out.timed_out and out.exit_code == 137 and time.monotonic() - t0 < 15
        assert c.exec("echo still here").stdout == "still here\n"
        big = c.exec("yes x | head -c 300000")
        assert "characters cut" in big.stdout and len(big.stdout) < 70_000
        err = c.exec("echo oops >&2; exit 3")
        assert err.exit_code == 3 and err.stderr == "oops\n" and not err.timed_out


_OWNER = textwrap.dedent("""
    import sys, time
    from lambench.sandboxes.containers import Container
    c = Container(sys.argv[1], run_id="test-orphans").start()
    print(c.container.id, flush=True)
    time.sleep(600)
""")


def test_orphans_of_a_killed_run_are_pruned_and_nothing_else(client, shell_image, tmp_path):
    from lambench.sandboxes.containers import Container, prune

    unrelated = client.containers.run(shell_image, ["sleep", "infinity"], detach=True, network_mode="none",
                                      labels={"purpose": "not lambench"})
    owner = None
    try:
        owner = subprocess.Popen([sys.executable, "-c", _OWNER, shell_image], stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        orphan_id = owner.stdout.readline().strip()
        assert orphan_id, "the owner process did not start a container"
        with Container(shell_image, run_id="test-alive", client=client) as mine:  # owned by a live process
            owner.kill()  # SIGKILL: no cleanup runs
            owner.wait()
            assert client.containers.list(all=True, filters={"id": orphan_id}), "nothing to prune"
            removed = prune(client)
            assert any(n for n in removed)
            assert not client.containers.list(all=True, filters={"id": orphan_id})
            assert client.containers.list(all=True, filters={"id": unrelated.id})
            assert client.containers.list(all=True, filters={"id": mine.container.id})
    finally:
        unrelated.remove(force=True)
        if owner is not None and owner.stdout:
            owner.stdout.close()


def test_images_are_rebuilt_only_when_their_context_changes(client, shell_image, tmp_path):
    from lambench.sandboxes.containers import build_images

    ctx = tmp_path / "ctxs" / "tiny"
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY hello.txt /hello.txt\n")
    (ctx / "hello.txt").write_text("one\n")
    logs: list[str] = []
    try:
        build_images(ctx.parent, client=client, base_image=shell_image, log=logs.append)
        build_images(ctx.parent, client=client, base_image=shell_image, log=logs.append)
        (ctx / "hello.txt").write_text("two\n")
        build_images(ctx.parent, client=client, base_image=shell_image, log=logs.append)
        assert [("building" in m, "up to date" in m) for m in logs] == [(True, False), (False, True), (True, False)]
        out = client.containers.run("lambench/tiny:latest", ["cat", "/hello.txt"], remove=True, network_mode="none")
        assert out == b"two\n"
    finally:
        try:
            client.images.remove("lambench/tiny:latest", force=True)
        except Exception:
            pass


def test_no_engine_gives_a_clear_message(tmp_path):
    # through the CLI, in its own process (the docker SDK leaks the socket of a failed connection)
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock", "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "lambench.cli", "sandboxes", "prune"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "apt-get install -y docker.io" in res.stderr and "Traceback" not in res.stderr


def test_a_shell_session_keeps_its_directory_and_environment(client, shell_image):
    from lambench.sandboxes.containers import Container

    with Container(shell_image, run_id="test-session", client=client) as c:
        first = c.shell("mkdir -p proj/src && cd proj && export GREETING='hello there'")
        assert first.exit_code == 0 and first.cwd == "/work/proj"
        out = c.shell('cd src; echo "$GREETING from $(pwd)"')
        assert out.stdout == "hello there from /work/proj/src\n" and out.cwd == "/work/proj/src"
        assert c.shell("pwd").stdout == "/work/proj/src\n"
        slow = c.shell("cd /tmp && sleep 100000", timeout=1)  # killed: the session keeps its last state
        assert slow.timed_out and slow.cwd == "/work/proj/src" and c.shell("pwd").stdout == "/work/proj/src\n"
        bad = c.shell("if then fi")  # a syntax error is the command's error, not the session's
        assert bad.exit_code != 0 and "syntax error" in bad.stderr
        assert c.shell('echo "$GREETING"').stdout == "hello there\n"
        fail = c.shell("ls /nonexistent")
        assert fail.exit_code == 2 and "No such file" in fail.stderr and fail.stdout == ""


def test_a_container_suite_without_an_engine_stops_at_once_with_the_fix(tmp_path):
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock", "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "lambench.cli", "run", "--suite", "shell-core", "--agent", "oracle",
                          "--out", str(tmp_path / "run"), "--quiet"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "apt-get install -y docker.io" in res.stderr and "Traceback" not in res.stderr
    episodes = tmp_path / "run" / "episodes.jsonl"
    assert not episodes.exists() or episodes.read_text() == ""
