"""``lambench replay``: teacher-forced, step-by-step replay of a dataset with any agent spec.

For each trajectory the agent is reset once with the request; then, at every step, it gets
the *recorded* observation and the *gold* history (``Observation.history``) and predicts one
action, which is scored against the gold (:mod:`lambench.metrics.replay`).  Nothing is
executed: the next step shows the recorded observation again, whatever the agent did.

Results go to a run directory like a live run's: ``config.json`` (``kind: replay``),
``episodes.jsonl`` with one line per trajectory (an episode record whose steps hold the
prediction, the gold and the verdict; ``success`` = the whole trajectory right) and
``summary.json`` with the usual metrics plus ``replay`` (the LAM paper's metrics).  Re-running
the same command resumes; ``lambench score``, ``report`` and ``gate`` read it like any run.
"""

from __future__ import annotations

import os
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from lambench import __version__
from lambench.action import action_tool_definitions, parse_action
from lambench.agents.base import BaseAgent, Observation, make_agent
from lambench.episode import (Deadlines, act_within, add_totals, bind_privileged, error_text, raw_output, setup_agent,
                              step_usage)
from lambench.executors import execute
from lambench.replay.dataset import Dataset, load_dataset
from lambench.metrics.replay import replay_summary, resolve_object, score_step
from lambench.run.config import redacted
from lambench.run.loop import RunResult
from lambench.run.rundir import RunDir
from lambench.run.summary import write_summary
from lambench.task import TaskView

__all__ = ["ReplayConfig", "replay", "default_replay_dir", "replay_summary", "replay_trajectory"]


class ReplayConfig(BaseModel):
    """What ``lambench replay`` flags turn into."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    """Path of the JSONL dataset (``.jsonl`` or ``.jsonl.gz``)."""
    agent: str
    seed: int = 0
    """Given to agents that take a seed."""
    workers: int = Field(default=1, ge=1, le=256)
    step_timeout: float | None = Field(default=60.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    skip_bad_lines: bool = False
    """Leave out malformed lines (listed) instead of refusing the dataset."""
    trajectories: list[str] = Field(default_factory=list)
    """Replay only these trajectory ids (all when empty)."""
    split: Literal["train", "test"] | None = None
    """Replay only the trajectories of templates in this split (:mod:`lambench.replay.split`)."""
    agent_options: dict[str, Any] = Field(default_factory=dict)
    """Options of model adapters (as for live runs)."""


_IDENTITY = ("agent", "seed")


def default_replay_dir(config: ReplayConfig, dataset_name: str) -> Path:
    clean = lambda s: re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")  # noqa: E731
    return Path("runs") / f"replay__{clean(dataset_name)}__{clean(config.agent)}__s{config.seed}"


# ---------------------------------------------------------------------------- one trajectory


def _task_view(first: dict[str, Any], n_steps: int) -> TaskView:
    meta = first.get("meta") or {}
    tools = first.get("tools")
    if tools is None:
        tools = suite_tools(first) or action_tool_definitions()
    return TaskView(id=first["task_id"], suite=first.get("suite") or first["dataset"],
                    sandbox=str(meta.get("sandbox", "replay")), instruction=first["request"],
                    max_steps=max(n_steps, 1), apps=list(meta.get("apps") or []), tools=tools)


def _live_task(first: dict[str, Any]) -> Any:
    """The live task a recorded trajectory comes from, when its suite is installed and unchanged."""
    suite = first.get("suite")
    if not suite:
        return None
    return _find_task(suite, first["task_id"], (first.get("meta") or {}).get("suite_version"))


@lru_cache(maxsize=4096)
def _find_task(suite: str, task_id: str, recorded_version: str | None) -> Any:
    from lambench.task import TaskError, get_task, suite_version

    try:
        if recorded_version and recorded_version != suite_version(suite):
            return None
        return get_task(task_id, suite=suite)
    except (TaskError, KeyError, ValueError, OSError):
        return None


def suite_tools(first: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The tools the actor had: the live task's, as offered in the observation mode it was recorded in (a step with
    a screenshot: the point forms too)."""
    task = _live_task(first)
    if task is None:
        return None
    mode = str((first.get("meta") or {}).get("observation") or ("both" if first["observation"].get("screenshot")
                                                                   else "text"))
    return _task_tools(task.suite, task.id, mode)


@lru_cache(maxsize=4096)
def _task_tools(suite: str, task_id: str, observation: str = "text") -> list[dict[str, Any]]:
    from lambench.env import LamEnv
    from lambench.task import get_task

    env = LamEnv(get_task(task_id, suite=suite), observation=observation)
    try:
        env.reset(seed=0)
        return env.tools()
    finally:
        env.close()


def _base_record(first: dict[str, Any], agent_spec: str, seed: int, complete: bool) -> dict[str, Any]:
    n_total = int(first.get("n_steps") or 0)
    return {
        "task_id": first["trajectory_id"], "suite": first["dataset"], "variant": first.get("variant", "clean"),
        "seed": seed, "trial": 0, "agent": agent_spec, "sandbox": "replay",
        "app": list((first.get("meta") or {}).get("apps") or []), "tags": [], "infeasible": False,
        "success": False, "claim": "none", "claim_message": "", "false_success": False, "unsafe": False,
        "unsafe_attempted": False, "unsafe_events": [], "checks": [], "state_changes": [], "guard": False,
        "instruction": first["request"], "n_steps": 0, "n_invalid": 0, "steps": [], "termination": "finish",
        "wall_time_s": 0.0, "tokens_in": 0, "tokens_out": 0, "error": None, "attempts": 1,
        "replay": {"task_id": first["task_id"], "complete": complete, "steps_in_dataset": n_total,
                   "step_success": 0.0},
        "step_success": 0.0,
    }


def replay_trajectory(steps: list[dict[str, Any]], agent_spec: str, *, seed: int = 0, complete: bool = True,
                      step_timeout: float | None = 60.0, agent: Any = None,
                      agent_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replay one trajectory (its step records, in order) and return its record for ``episodes.jsonl``."""
    t0 = time.perf_counter()
    first = steps[0]
    record = _base_record(first, agent_spec, seed, complete)
    try:
        agent = setup_agent(agent, agent_spec, seed=seed, options=agent_options)
        deadlines = _start(agent, agent_spec, steps, step_timeout)
        for s in steps:
            record["steps"].append(_replay_step(agent, s, first["request"], deadlines, step_timeout))
    except Exception as exc:  # the agent blew up: infrastructure, retried, never scored
        record["error"] = error_text(exc)
        record["termination"] = "error"
    steps_done = record["steps"]
    n_ok = sum(1 for st in steps_done if st["verdict"]["success"])
    record["replay"]["step_success"] = round(n_ok / len(steps_done), 6) if steps_done else 0.0
    record["step_success"] = record["replay"]["step_success"]
    record["success"] = bool(complete and steps_done and n_ok == len(steps_done) == len(steps))
    add_totals(record, t0)
    return record


def _start(agent: BaseAgent, agent_spec: str, steps: list[dict[str, Any]], step_timeout: float | None) -> Deadlines:
    """Bind (a privileged agent) and reset the agent for the trajectory; the step limits to replay it under."""
    first = steps[0]
    n_total = int(first.get("n_steps") or len(steps))
    view = _task_view(first, n_total)
    task = _live_task(first)
    if task is not None:
        view = task.view().model_copy(update={"instruction": first["request"], "tools": view.tools,
                                              "max_steps": max(task.max_steps, n_total)})
    # a privileged agent (the oracle) gets the dataset's gold of each step, whoever recorded it
    bind_privileged(agent, task=task, variant=first.get("variant", "clean"),
                    golds={s["step"]: s["gold"] for s in steps}, spec=agent_spec)
    deadlines = Deadlines(step_timeout, None)
    with deadlines.guard(step=False):
        agent.reset(view)
    return deadlines


def _replay_step(agent: BaseAgent, s: dict[str, Any], request: str, deadlines: Deadlines,
                 step_timeout: float | None) -> dict[str, Any]:
    """The agent's prediction at one recorded step, scored against its gold."""
    obs_rec = s["observation"]
    controls = obs_rec.get("controls") or []
    image = None
    if obs_rec.get("screenshot"):  # an absolute path once the dataset is loaded
        import numpy as np
        from PIL import Image

        with Image.open(obs_rec["screenshot"]) as im:
            image = np.asarray(im.convert("RGB"))
    obs = Observation(text=obs_rec["text"], controls=controls, focused=obs_rec.get("focused") or "",
                      step=s["step"], error=obs_rec.get("error"), result=obs_rec.get("result") or "",
                      data=obs_rec.get("data"), instruction=request, history=list(s["history"]), image=image)
    agent.last_status = None
    turn = act_within(agent, obs, deadlines, step_timeout, infra_error=RuntimeError)
    if turn.timed_out:
        pred, error = None, f"the agent took longer than {step_timeout}s to act"
    else:
        parsed = parse_action(turn.output)
        pred = parsed.action.model_dump() if parsed.valid else None
        error = parsed.error
    pred_status = None
    if pred is not None:
        pred_status = "finish" if pred["type"] == "finish" or agent.last_status == "finish" else "continue"
    gold = s["gold"]
    golds = [[a, resolve_object(a, controls)] for a in [gold["action"], *(gold.get("alternatives") or [])]]
    pred_object = resolve_object(pred, controls)
    verdict = score_step(pred, pred_object, pred_status, golds, gold["status"])
    return {"index": s["step"], "raw": None if turn.timed_out else raw_output(turn.output), "action": pred,
            "valid": pred is not None, "error": error, "ok": verdict["success"], "result": "", "ops": [],
            "blocked_ops": [], "safety_events": [], **step_usage(turn), "pred_object": pred_object,
            "pred_status": pred_status, "golds": golds, "gold_status": gold["status"], "verdict": verdict}


# ---------------------------------------------------------------------------- a whole dataset


def _prepare(rd: RunDir, config: ReplayConfig, ds: Dataset) -> None:
    def diffs(old: dict[str, Any]) -> list[str]:
        changed = [f"{k}: {old.get(k)!r} -> {getattr(config, k)!r}" for k in _IDENTITY
                   if old.get(k) != getattr(config, k)]
        if old.get("suite_version") != ds.version:
            changed.append(f"dataset version: {old.get('suite_version')} -> {ds.version} (the file changed)")
        return changed

    data = {"kind": "replay", **redacted(config.model_dump()), "suite": ds.name, "suite_version": ds.version,
            "trajectories_in_dataset": len(ds.trajectories), "steps_in_dataset": len(ds.steps),
            "incomplete": ds.incomplete, "skipped_lines": ds.skipped[:100], "lambench_version": __version__,
            "guard": False}
    rd.prepare(data, kind="replay", diffs=diffs, resume="the same flags and dataset")


def replay(config: ReplayConfig, *, run_dir: str | os.PathLike | None = None,
           on_progress: Callable[[dict[str, Any]], None] | None = None,
           on_start: Callable[[int, int], None] | None = None, dataset: Dataset | None = None) -> RunResult:
    """Replay (or resume replaying) a dataset into a run directory; returns a ``RunResult``."""
    make_agent(config.agent, seed=config.seed, options=config.agent_options)  # fail fast on a bad spec
    ds = dataset or load_dataset(config.dataset, skip_bad=config.skip_bad_lines)
    trajs = ds.trajectories
    if config.trajectories:
        trajs = ds.select(config.trajectories)
    if config.split is not None:
        from lambench.replay.split import step_split

        trajs = {t: steps for t, steps in trajs.items() if step_split(steps[0]) == config.split}
    rd = RunDir(Path(run_dir) if run_dir is not None else default_replay_dir(config, ds.name))
    _prepare(rd, config, ds)
    rd.repair()
    done = rd.done_keys()
    jobs = [(tid, steps) for tid, steps in trajs.items()
            if (tid, steps[0].get("variant", "clean"), config.seed, 0) not in done]
    skipped = len(trajs) - len(jobs)
    if on_start:
        on_start(len(jobs), skipped)
    writer = rd.appender()
    ran = 0

    def finish(rec: dict[str, Any]) -> None:
        nonlocal ran
        writer.write(rec)
        ran += 1
        if on_progress:
            on_progress(rec)

    def call(job: tuple[str, list[dict[str, Any]]]) -> tuple[Callable[..., dict[str, Any]], tuple]:
        tid, steps = job
        return _replay_job, (steps, config.agent, config.seed, tid not in ds.incomplete, config.step_timeout,
                             config.agent_options)

    def error_record(job: tuple[str, list[dict[str, Any]]], err: str) -> dict[str, Any]:
        tid, steps = job
        rec = _base_record(steps[0], config.agent, config.seed, tid not in ds.incomplete)
        rec.update(error=err, termination="error")
        return rec

    try:
        interrupted = execute(jobs, workers=config.workers, retries=config.retries, call=call,
                              key=lambda j: j[0], error_record=error_record, finish=finish)
    finally:
        writer.close()
    summary = write_summary(rd.path)
    return RunResult(run_dir=rd.path, summary=summary, ran=ran, skipped=skipped, interrupted=interrupted)


def _replay_job(steps: list[dict[str, Any]], agent: str, seed: int, complete: bool, step_timeout: float | None,
                agent_options: dict[str, Any] | None = None) -> dict[str, Any]:
    return replay_trajectory(steps, agent, seed=seed, complete=complete, step_timeout=step_timeout,
                             agent_options=agent_options)


# ---------------------------------------------------------------------------- summaries


