import os

import pytest

from lambench.task import Task


def make_task(task_id="t-1", *, setup=None, checks=None, gold=None, safety=None, **kw):
    """A minimal valid task built in code (tests of the sandbox and env)."""
    data = {
        "id": task_id,
        "suite": "test",
        "instruction": "test task",
        "setup": setup or {},
        "checks": checks or [{"file_exists": {"path": "~/Documents/never-there.txt"}}],
        "gold": gold or [{"type": "finish", "status": "success"}],
        "safety": safety or [],
        **kw,
    }
    return Task.model_validate(data)


@pytest.fixture
def mk_task():
    return make_task



CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_ENGINE: list[str | None] = []


def require_docker() -> None:
    """Skip when no Docker engine answers, naming why; under CI=true a missing engine is a failure."""
    if not _ENGINE:
        from lambench.sandbox.docker import DockerUnavailable, get_client

        try:
            get_client().close()
            _ENGINE.append(None)
        except DockerUnavailable as exc:
            _ENGINE.append(str(exc))
    if _ENGINE[0] is not None:
        if CI:
            pytest.fail(f"CI needs a Docker engine: {_ENGINE[0]}")
        pytest.skip(_ENGINE[0])


def pytest_unconfigure(config):
    """A test process that does not exit within 3 minutes of its last test prints every thread's stack and exits
    with status 1: a hang at exit (a leftover thread or process) is a failure to read, not a CI timeout."""
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(180, exit=True, file=sys.__stderr__)
