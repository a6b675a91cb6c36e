"""Reliability under abuse: a run killed again and again, an agent that emits thousands of garbage
outputs, and fuzzed task files — nothing lost, nothing duplicated, no uncaught exception."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambench.run import RunConfig, run
from lambench.task import TaskError, load_suite, load_task

ROOT = Path(__file__).resolve().parent.parent


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["LAMBENCH_TEST_SLEEP"] = "0.03"
    return env


def _keyed(path):
    return _keyed_bytes(path.read_bytes())


TRIALS = 4
"""Enough work (about 25 s with 2 workers) that 20 kills, 0.3-2.5 s apart, all land in the middle of the run."""


@pytest.mark.slow
def test_twenty_random_sigkills_lose_and_repeat_nothing(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "lambench.cli", "run", "--suite", "mockos-core",
           "--agent", "tests.agents_for_tests:SlowOracle", "--trials", str(TRIALS), "--workers", "2", "--out", str(out),
           "--quiet"]
    n_tasks = len(load_suite("mockos-core"))
    path = out / "episodes.jsonl"
    rng = random.Random(20261122)
    finished: dict = {}
    kills = 0
    while kills < 20:
        proc = subprocess.Popen(cmd, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 2.5))
        if proc.poll() is not None:  # it finished before the kill: nothing left to interrupt
            assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        if path.exists():
            data = path.read_bytes()
            complete = data[: data.rfind(b"\n") + 1]  # a line cut by the kill is repaired on resume
            now = _keyed_bytes(complete)
            for key, rec in finished.items():  # nothing finished is lost or rewritten by a later kill
                assert now.get(key) == rec, key
            finished = now
    assert kills == 20, f"the run finished after {kills} kills, too fast to be killed 20 times"
    done = subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    recs = _keyed(path)
    assert len(recs) == TRIALS * n_tasks and all(r["success"] for r in recs.values())
    for key, rec in finished.items():
        assert recs[key] == rec


def _keyed_bytes(data: bytes) -> dict:
    out = {}
    for line in data.splitlines():
        rec = json.loads(line)
        key = (rec["task_id"], rec["variant"], rec["seed"], rec["trial"])
        assert key not in out, f"episode {key} written twice"
        out[key] = rec
    return out


class GarbageAgent:
    """Random strings and byte sequences, never an action."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def reset(self, task):
        self.rng = random.Random(f"{task.id}:{self.rng.random()}")

    def act(self, observation):
        r = self.rng
        kind = r.randrange(5)
        if kind == 0:
            return bytes(r.randrange(256) for _ in range(r.randrange(64)))
        if kind == 1:
            return "".join(chr(r.randrange(0x20, 0x2FFF)) for _ in range(r.randrange(1, 80)))
        if kind == 2:
            return "{" * r.randrange(1, 40) + '"type": ' + r.choice(['"click"', '"teleport"', "7", "null"])
        if kind == 3:
            return r.choice(["", " ", "\x00", "\ud800", "[]", "null", "{}", '{"type": "finish"}', "```json\n{]```"])
        return "".join(r.choice("{}[]\":,typeclickfinish ") for _ in range(r.randrange(1, 120)))


@pytest.mark.slow
def test_ten_thousand_garbage_outputs_are_all_invalid_and_the_run_completes(tmp_path):
    tasks = load_suite("mockos-core")
    trials = 1 + 10_000 // sum(t.max_steps for t in tasks)
    result = run(RunConfig(suite="mockos-core", agent="tests.test_reliability:GarbageAgent", trials=trials,
                           observations=False), run_dir=tmp_path / "r")
    recs = _keyed(tmp_path / "r/episodes.jsonl")
    assert len(recs) == len(tasks) * trials and not result.interrupted
    steps = sum(r["n_steps"] for r in recs.values())
    assert steps >= 10_000
    assert all(r["error"] is None and r["n_invalid"] == r["n_steps"] and r["termination"] == "max_steps"
               for r in recs.values())
    assert all(not r["success"] and r["claim"] == "none" for r in recs.values())
    m = result.summary["metrics"]
    assert m["invalid_action_rate"] == 1.0 and m["errored"] == 0


# ---------------------------------------------------------------------------- fuzzed task files

_VALID = yaml.safe_load((ROOT / "tasks/mockos-core/mail-send-report.yaml").read_text())
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                  max_size=4), max_leaves=12)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


_ALL_PATHS = [p for p in _paths(_VALID) if p]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_task_files_give_clear_errors_never_crashes(tmp_path, data):
    import copy

    task = copy.deepcopy(_VALID)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_ALL_PATHS))
        parent = task
        try:
            for part in path[:-1]:
                parent = parent[part]
            if data.draw(st.booleans()):
                parent[path[-1]] = data.draw(_json)
            elif isinstance(parent, dict):
                parent.pop(path[-1], None)
        except (KeyError, IndexError, TypeError):
            continue
    f = tmp_path / "fuzz.yaml"
    f.write_text(yaml.safe_dump(task, allow_unicode=True) if data.draw(st.booleans())
                 else data.draw(st.text(max_size=200)))
    try:
        load_task(f)
    except TaskError as exc:
        assert str(f) in str(exc) and str(exc).strip() != str(f)


# ---------------------------------------------------------------------------- hostile shapes: nesting, aliases, lines

_VALID_TEXT = (ROOT / "tasks/mockos-core/mail-send-report.yaml").read_text()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(1, 3000), opener=st.sampled_from(["[", "{a: ", "- ", "{"]),
       levels=st.integers(0, 12), fanout=st.integers(1, 12), self_ref=st.booleans())
def test_deep_and_aliased_task_files_give_one_line_errors_never_crashes(tmp_path, depth, opener, levels, fanout,
                                                                       self_ref):
    closer = {"[": "]", "{a: ": "}", "- ": "", "{": "}"}[opener]
    deep = opener * depth + ("x" if opener != "{" else "") + closer * depth
    anchors = "".join(f"  - any: &p{i} [" + ", ".join([f"{{any: *p{i - 1}}}" if i else "{trash_empty: {}}"]
                                                          * fanout) + "]\n" for i in range(levels))
    cycle = "  - any: &c [{not: *c}]\n" if self_ref else ""
    text = _VALID_TEXT.replace("checks:\n", "checks:\n" + anchors + cycle, 1)
    text += "paraphrases: " + (deep if opener != "- " else "\n" + deep) + "\n"
    f = tmp_path / "mail-send-report.yaml"
    f.write_text(text)
    started = time.monotonic()
    try:
        load_task(f)
    except TaskError as exc:
        assert str(exc).startswith(f"{f}: ")
        if depth > 64 or self_ref or fanout ** levels > 100_000:  # over a limit: one line that names it
            assert "\n" not in str(exc) and ("limit" in str(exc) or "levels deep" in str(exc) or
                                             "values" in str(exc) or "recursive" in str(exc)), str(exc)
    assert time.monotonic() - started < 10


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4000), limit=st.integers(1, 600), gz=st.booleans())
def test_fuzzed_dataset_bytes_load_or_give_a_dataset_error(tmp_path, data, limit, gz):
    import gzip

    from lambench.replay.dataset import DatasetError, LineTooLong, load_dataset

    f = tmp_path / ("d.jsonl.gz" if gz else "d.jsonl")
    f.write_bytes(gzip.compress(data) if gz else data)
    longest = max((len(p) for p in data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")), default=0)
    try:
        load_dataset(f, max_line_bytes=limit, skip_bad=True)
    except LineTooLong as exc:
        assert longest > limit - 1 and "\n" not in str(exc) and f"{limit:,} bytes" in str(exc)
    except DatasetError as exc:
        assert str(exc).startswith(f"{f}: ")
        if "cannot read the file" not in str(exc):  # every line was read: none was over the limit
            assert longest <= limit
    else:
        assert longest <= limit
