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

