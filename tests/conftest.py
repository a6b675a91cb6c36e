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
        from lambench.sandboxes.containers import DockerUnavailable, get_client

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


# ---------------------------------------------------------------------------- the fast lane
# Markers say what a test needs, so `pytest -m "not docker and not ray and not model and not browser and not slow"`
# (README: "Tests") runs the unit tests alone in under two minutes. Whole files are marked by what they exercise;
# a test parametrized with a task of a container sandbox (the suites' self-validation) gets `docker` here.
_FILE_MARKS = {
    "test_ray.py": ("ray", "slow"),
    "test_adapters_local.py": ("model",),
    "test_signals.py": ("slow",),
    "test_reliability.py": ("slow",),
}


def _container_task_ids() -> set[str]:
    from lambench.task import list_suites, load_suite

    return {t.id for s in list_suites() for t in load_suite(s) if t.sandbox != "mockos"}


def _browser_task(value) -> bool:
    from lambench.task import Task

    if isinstance(value, Task):
        return value.sandbox == "browser"
    if isinstance(value, (tuple, list)):
        return any(_browser_task(v) for v in value)
    return False


def _needs_container(value, ids) -> bool:
    from lambench.task import Task

    if isinstance(value, Task):
        return value.sandbox != "mockos"
    if isinstance(value, str):
        return value in ids
    if isinstance(value, (tuple, list)):
        return any(_needs_container(v, ids) for v in value)
    return False


def _instance_seed(value) -> int | None:
    """The instance seed of a task parameter (a Task, or an id ``template@N``), None for a fixed task or other."""
    from lambench.task import Task

    if isinstance(value, Task):
        return value.instance.seed if value.instance is not None else None
    if isinstance(value, str) and "@" in value and value.rpartition("@")[2].isdigit():
        return int(value.rpartition("@")[2])
    if isinstance(value, (tuple, list)):
        seeds = [s for s in (_instance_seed(v) for v in value) if s is not None]
        return max(seeds) if seeds else None
    return None


CONTAINER_INSTANCES = 2
"""Per-task tests of a container template run its first instances only (@0, @1): each starts containers, and
`lambench tasks validate --self-check` (and the blind-replay test) covers every instance."""


BROWSER_INSTANCES = 1
"""A browser template's per-task tests run its first instance only: each episode drives Chromium page by page (the
suite's self-check covers every instance)."""


def pytest_collection_modifyitems(config, items):
    ids = None
    dropped = []
    for item in items:
        for mark in _FILE_MARKS.get(item.path.name, ()):
            item.add_marker(getattr(pytest.mark, mark))
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        seed = max((s for s in map(_instance_seed, callspec.params.values()) if s is not None), default=None)
        if seed:  # the fast lane sweeps instance @0 of each template; the other instances are `slow`
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("docker"):
            continue
        if ids is None:
            ids = _container_task_ids()
        if any(_needs_container(v, ids) for v in callspec.params.values()):
            item.add_marker(pytest.mark.docker)
            limit = BROWSER_INSTANCES if any(_browser_task(v) for v in callspec.params.values()) else CONTAINER_INSTANCES
            if seed is not None and seed >= limit:
                dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in set(dropped)]
