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
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from lambench import __version__
from lambench.action import action_tool_definitions, parse_action
from lambench.agents.base import Observation, make_agent
from lambench.episode import Deadlines, StepTimeout, raw_output
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
    task = _live_task(first)
    return None if task is None else _task_tools(task.suite, task.id)


@lru_cache(maxsize=4096)
def _task_tools(suite: str, task_id: str) -> list[dict[str, Any]]:
    from lambench.env import LamEnv
    from lambench.task import get_task

    env = LamEnv(get_task(task_id, suite=suite))
    try:
        env.reset(seed=0)
        return env.sandbox.tools()
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
    n_total = int(first.get("n_steps") or len(steps))
    record = _base_record(first, agent_spec, seed, complete)
    try:
        if agent is None:
            agent = make_agent(agent_spec, seed=seed, options=agent_options)
        view = _task_view(first, n_total)
        task = _live_task(first)
        if task is not None:
            view = task.view().model_copy(update={"instruction": first["request"], "tools": view.tools,
                                                  "max_steps": max(task.max_steps, n_total)})
        if getattr(agent, "privileged", False):
            # a privileged agent (the oracle) gets the dataset's gold of each step, whoever recorded it
            if hasattr(agent, "bind_trajectory"):
                agent.bind_trajectory({s["step"]: s["gold"] for s in steps})
            elif task is not None and hasattr(agent, "bind"):
                from lambench.perturb import Variant

                agent.bind(task, Variant.parse(first.get("variant", "clean")))
            else:
                raise RuntimeError(f"agent {agent_spec!r} is privileged but has no bind_trajectory(), and the "
                                   "trajectory's task is not installed")
        limits = Deadlines(step_timeout, None)
        with limits.guard(step=False):
            agent.reset(view)
        for s in steps:
            obs_rec = s["observation"]
            controls = obs_rec.get("controls") or []
            obs = Observation(text=obs_rec["text"], controls=controls, focused=obs_rec.get("focused") or "",
                              step=s["step"], error=obs_rec.get("error"), result=obs_rec.get("result") or "",
                              data=obs_rec.get("data"), instruction=first["request"], history=list(s["history"]))
            if hasattr(agent, "last_status"):
                agent.last_status = None
            ts = time.perf_counter()
            timed_out = False
            try:
                with limits.guard(step=True):
                    output = agent.act(obs)
            except StepTimeout:
                if getattr(agent, "in_request", False):  # waiting on the model endpoint: infrastructure
                    raise RuntimeError(f"the model endpoint did not answer within the step timeout "
                                       f"({step_timeout}s)") from None
                timed_out, output = True, None
            latency = time.perf_counter() - ts
            usage = getattr(agent, "last_usage", None) or {}
            if timed_out:
                pred, error = None, f"the agent took longer than {step_timeout}s to act"
            else:
                parsed = parse_action(output)
                pred = parsed.action.model_dump() if parsed.valid else None
                error = parsed.error
            pred_status = None
            if pred is not None:
                pred_status = ("finish" if pred["type"] == "finish" or getattr(agent, "last_status", None) == "finish"
                               else "continue")
            gold = s["gold"]
            golds = [[a, resolve_object(a, controls)] for a in [gold["action"], *(gold.get("alternatives") or [])]]
            pred_object = resolve_object(pred, controls)
            verdict = score_step(pred, pred_object, pred_status, golds, gold["status"])
            record["steps"].append({
                "index": s["step"], "raw": None if timed_out else raw_output(output), "action": pred,
                "valid": pred is not None, "error": error, "ok": verdict["success"], "result": "", "ops": [],
                "blocked_ops": [], "safety_events": [], "latency_s": round(latency, 6),
                "tokens_in": int(usage.get("tokens_in", 0)), "tokens_out": int(usage.get("tokens_out", 0)),
                "cost_usd": usage.get("cost_usd"), "pred_object": pred_object, "pred_status": pred_status, "golds": golds,
                "gold_status": gold["status"], "verdict": verdict,
            })
    except Exception as exc:  # the agent blew up: infrastructure, retried, never scored
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
        record["error"] = f"{type(exc).__name__}: {exc}{where}"
        record["termination"] = "error"
    steps_done = record["steps"]
    n_ok = sum(1 for st in steps_done if st["verdict"]["success"])
    record["n_steps"] = len(steps_done)
    record["n_invalid"] = sum(not st["valid"] for st in steps_done)
    record["replay"]["step_success"] = round(n_ok / len(steps_done), 6) if steps_done else 0.0
    record["step_success"] = record["replay"]["step_success"]
    record["success"] = bool(complete and steps_done and n_ok == len(steps_done) == len(steps))
    record["tokens_in"] = sum(st["tokens_in"] for st in steps_done)
    record["tokens_out"] = sum(st["tokens_out"] for st in steps_done)
    costs = [st["cost_usd"] for st in steps_done if st.get("cost_usd") is not None]
    record["cost_usd"] = round(sum(costs), 8) if costs else None
    record["wall_time_s"] = round(time.perf_counter() - t0, 6)
    return record


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
        unknown = [t for t in config.trajectories if t not in trajs]
        if unknown:
            raise ValueError(f"unknown trajectory id(s) in {ds.path}: {', '.join(unknown[:5])}")
        trajs = {t: trajs[t] for t in config.trajectories}
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


