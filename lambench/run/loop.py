"""The run loop: plan the episodes, skip the recorded ones, run the rest on an executor, append their records.

A run directory holds ``config.json``, ``episodes.jsonl`` (one line per finished episode,
flushed and fsynced as it finishes) and ``summary.json``.  Running the same configuration
on the same directory resumes it: episodes whose key (task, variant, seed, trial) is already
recorded are skipped, so nothing finished is lost or repeated, even after ``kill -9``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from lambench import __version__
from lambench.agents.base import make_agent
from lambench.episode import blank_record, run_episode
from lambench.executors import can_fork, close_pool, execute, open_pool, start_pool_server
from lambench.run.config import (ConfigError, Job, RunConfig, config_diffs, default_run_dir, plan_jobs, redacted,
                                 select_tasks)
from lambench.run.rundir import OBSERVATIONS, RunDir
from lambench.run.summary import write_summary
from lambench.sandboxes import registry
from lambench.sandboxes.containers.ownership import (OWNERSHIP_ENV, prepare_containers, prune_quietly,
                                                     remove_containers, restore_env)
from lambench.task import Task, suite_version

__all__ = ["RunResult", "run", "run_job", "error_record"]


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    ran: int
    """Episodes run in this invocation."""
    skipped: int
    """Episodes already recorded (resumed)."""
    interrupted: bool = False


def run_job(task: Task, variant: str, agent: str, seed: int, trial: int, guard: bool,
            step_timeout: float | None, episode_timeout: float | None, keep_observations: bool = False,
            agent_options: dict[str, Any] | None = None, observation: str = "text") -> dict[str, Any]:
    """One episode's record (run in a worker: picklable by name); what the agent saw rides along under
    ``_observations`` until the loop writes it to ``observations.jsonl``."""
    seen: list[dict[str, Any]] | None = [] if keep_observations else None
    rec = run_episode(task, agent, seed=seed, trial=trial, variant=variant, guard=guard,
                      step_timeout=step_timeout, episode_timeout=episode_timeout, observations=seen,
                      agent_options=agent_options, observation=observation)
    if seen is not None:
        rec["_observations"] = seen
    return rec


def error_record(task: Task, variant: str, agent: str, seed: int, trial: int, error: str,
                 guard: bool) -> dict[str, Any]:
    """The record of an episode that never ran: its infrastructure error."""
    return {**blank_record(task, agent, seed=seed, trial=trial, variant=variant, guard=guard), "error": error}


def _prepare(config: RunConfig, run_dir: str | os.PathLike | None) -> tuple[RunDir, list[Job], int]:
    """Check the configuration, make the run directory ready; the episodes still to run and how many are done."""
    if config.executor == "local" and config.workers > 1 and not can_fork():
        start_pool_server()
    make_agent(config.agent, seed=config.seed, options=config.agent_options)  # fail fast on a bad spec or option
    tasks = select_tasks(config)
    planned = plan_jobs(config, tasks)  # fail fast on an unknown or unsupported perturbation
    version = suite_version(config.suite)
    rd = RunDir(Path(run_dir) if run_dir is not None else default_run_dir(config))
    if config.executor == "ray":  # before the run directory is touched: an unreachable cluster changes nothing
        from lambench.executors import connect_ray

        connect_ray(config.ray_address, workers=config.workers)
    data = {**redacted(config.model_dump()), "suite_version": version, "lambench_version": __version__,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    rd.prepare(data, kind="live", diffs=lambda old: config_diffs(old, config, version, rd.path),
               resume="the same flags")
    rd.repair()
    done = rd.done_keys()
    jobs = [j for j in planned if (j[0].id, j[1], j[2], j[3]) not in done]
    return rd, jobs, len(planned) - len(jobs)


def _own_containers(jobs: list[Job], config: RunConfig, rd: RunDir) -> tuple[list[str], dict[str, str | None]]:
    """The container sandboxes the run needs, made ready (images built, the run owning what its workers start),
    and the environment to restore when it ends."""
    containers = registry.container_names({j[0].sandbox for j in jobs})
    fixed = sorted({j[0].sandbox for j in jobs if not registry.get(j[0].sandbox).can_roll_back})
    if fixed and config.guard:
        raise ConfigError(f"--guard needs a sandbox that can undo an action; the {', '.join(fixed)} "
                          f"sandbox cannot (a command's effects cannot be rolled back). Run without --guard")
    blind = sorted({j[0].sandbox for j in jobs if not registry.get(j[0].sandbox).has_screen})
    if blind and config.observation != "text":
        raise ConfigError(f"--observation {config.observation} needs a sandbox that renders a screen; the "
                          f"{', '.join(blind)} sandbox does not (the mock OS does). Use --observation text")
    # the run's own container settings (prepare_containers) last as long as the run: a process that runs again,
    # or starts a sandbox of its own later, does not label containers with a finished run
    saved_env = {k: os.environ.get(k) for k in OWNERSHIP_ENV}
    if containers:  # before anything runs: a missing engine or image is one clear error, not N failed episodes
        try:
            prepare_containers(containers, rd.path)
        except BaseException:
            restore_env(saved_env)
            raise
    else:
        prune_quietly()  # every run removes what killed runs left behind, when an engine is there
    return containers, saved_env


class _Writers:
    """The run's appends: each finished batch of episodes with one fsync, their observations written first (an
    episode line always has its observations; a kill in between leaves only an unused observations line,
    superseded when the episode runs again)."""

    def __init__(self, rd: RunDir, observations: bool, on_progress: Callable[[dict[str, Any]], None] | None):
        self.rd = rd
        self.episodes = rd.appender()
        self.observations = rd.appender(OBSERVATIONS) if observations else None
        self.on_progress = on_progress
        self.ran = 0

    def finish_many(self, recs: list[dict[str, Any]]) -> None:
        seen = [(rec, rec.pop("_observations", None)) for rec in recs]
        if self.observations is not None:
            for _rec, o in seen:
                for step in o or ():
                    if isinstance(step.get("screenshot"), bytes):  # a PNG: into screens/, named by its content
                        step["screenshot"] = self.rd.store_screenshot(step["screenshot"])
            obs = [{"task_id": rec["task_id"], "variant": rec["variant"], "seed": rec["seed"], "trial": rec["trial"],
                    "observations": o} for rec, o in seen if o is not None and rec["error"] is None]
            if obs:
                self.observations.write_many(obs)
        self.episodes.write_many(recs)
        for rec in recs:
            self.ran += 1
            if self.on_progress:
                self.on_progress(rec)

    def finish(self, rec: dict[str, Any]) -> None:
        self.finish_many([rec])

    def close(self) -> None:
        self.episodes.close()
        if self.observations is not None:
            self.observations.close()


def run(config: RunConfig, *, run_dir: str | os.PathLike | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        on_start: Callable[[int, int], None] | None = None) -> RunResult:
    """Run (or resume) the episodes of ``config`` into ``run_dir`` and write the summary.

    ``on_start(total, skipped)`` is called once the plan is known; ``on_progress(record)``
    after each finished episode (for progress bars).
    """
    rd, jobs, skipped = _prepare(config, run_dir)
    containers, saved_env = _own_containers(jobs, config, rd)
    pool = writers = None
    interrupted = False

    def call(job: Job) -> tuple[Callable[..., dict[str, Any]], tuple]:
        task, variant, seed, trial = job
        return run_job, (task, variant, config.agent, seed, trial, config.guard, config.step_timeout,
                         config.episode_timeout, config.observations, config.agent_options, config.observation)

    def failed(job: Job, err: str) -> dict[str, Any]:
        task, variant, seed, trial = job
        return error_record(task, variant, config.agent, seed, trial, err, config.guard)

    try:
        if config.executor == "local" and config.workers > 1 and len(jobs) > 1:
            try:
                # opened first, before a progress display (on_start) or anything else starts a thread: while this
                # process has one thread, its workers are forked from it, ready at once
                pool = open_pool(config.workers, min(config.workers, len(jobs)))
            except KeyboardInterrupt:
                interrupted = True
        if on_start:
            on_start(len(jobs), skipped)
        writers = _Writers(rd, config.observations, on_progress)
        if not interrupted:
            interrupted = execute(jobs, workers=config.workers, retries=config.retries, call=call,
                                  key=lambda j: (j[0].id, j[1], j[2], j[3]), error_record=failed,
                                  finish=writers.finish, executor=config.executor, finish_many=writers.finish_many,
                                  pool=pool)
    finally:
        if pool is not None:
            close_pool(pool)
        if writers is not None:
            writers.close()
        if containers:  # whatever happened (finished, Ctrl-C, SIGTERM, a crash): no container of this run stays
            remove_containers(rd.path)
        restore_env(saved_env)
    summary = write_summary(rd.path)
    return RunResult(run_dir=rd.path, summary=summary, ran=writers.ran if writers else 0, skipped=skipped,
                     interrupted=interrupted)
