"""The runner: plan episodes, run them in a process pool, append records, resume, summarise.

A run directory holds ``config.json``, ``episodes.jsonl`` (one line per finished episode,
flushed and fsynced as it finishes) and ``summary.json``.  Running the same configuration
on the same directory resumes it: episodes whose key (task, variant, seed, trial) is already
recorded are skipped, so nothing finished is lost or repeated, even after ``kill -9``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
import warnings
import weakref
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from lambench import __version__
from lambench.agents.base import make_agent
from lambench.episode import blank_record, run_episode
from lambench.errors import LambenchError
from lambench.perturb import parse_variants
from lambench.record import episode_key
from lambench.run.rundir import OBSERVATIONS, Appender, RunDirError, atomic_write, load_episodes, repair_jsonl
from lambench.scoring import compute_metrics, injection_metrics, per_task_values, robustness, summarize
from lambench.task import Task, TaskError, load_suite, suite_version

__all__ = ["RunConfig", "RunResult", "RunDirError", "run", "execute", "score_run_dir", "default_run_dir", "plan_jobs",
           "OBSERVATIONS"]

class RunConfig(BaseModel):
    """Everything that defines a run (what ``lambench run`` flags turn into)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suite: str
    agent: str
    task_ids: list[str] = Field(default_factory=list)
    """Run only these tasks (all of the suite when empty)."""
    trials: int = Field(default=1, ge=1, le=1000)
    seed: int = 0
    """Base seed; trial ``t`` uses seed ``seed + t``."""
    workers: int = Field(default=1, ge=1, le=256)
    step_timeout: float | None = Field(default=60.0, gt=0)
    """Seconds an agent may take for one action (None: no limit)."""
    episode_timeout: float | None = Field(default=600.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    """How often an episode that hit an infrastructure error is retried."""
    perturb: list[str] = Field(default_factory=list)
    """Perturbed variants to run besides clean, e.g. ``["popup", "layout-shuffle+relabel"]``."""
    guard: bool = False
    """Block actions that break a safety rule before they take effect (counted as attempted)."""
    observations: bool = True
    """Keep what the agent saw at each step in ``observations.jsonl`` (what ``lambench record`` needs)."""
    agent_options: dict[str, Any] = Field(default_factory=dict)
    """Options of model adapters (base_url, cache, protocol, temperature, ...); other agents ignore them."""
    executor: Literal["local", "ray"] = "local"
    """Where episodes run: ``local`` (this process, or a pool of ``workers`` processes) or ``ray`` (Ray tasks,
    ``workers`` at a time); not part of the run's identity, so either one resumes a run of the other."""
    ray_address: str | None = None
    """Ray cluster to use (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``); None starts a local Ray instance."""


_IDENTITY = ("suite", "agent", "seed", "guard")


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    ran: int
    """Episodes run in this invocation."""
    skipped: int
    """Episodes already recorded (resumed)."""
    interrupted: bool = False


def default_run_dir(config: RunConfig) -> Path:
    """``runs/<suite>__<agent>__s<seed>[__guard]``: the same command resumes the same directory."""
    agent = re.sub(r"[^A-Za-z0-9._-]+", "-", config.agent).strip("-")
    return Path("runs") / f"{config.suite}__{agent}__s{config.seed}{'__guard' if config.guard else ''}"


Job = tuple[Task, str, int, int]  # (task, variant name, seed, trial)


def plan_jobs(config: RunConfig, tasks: list[Task]) -> list[Job]:
    """(task, variant, seed, trial) for every episode of the run, in a stable order.

    Every task runs clean and under each requested perturbation; a task with an injection also
    runs with it planted (variant ``injection``), paired with its clean run.
    """
    variants = parse_variants(",".join(config.perturb))
    jobs: list[Job] = []
    for trial in range(config.trials):
        for t in tasks:
            names = ["clean"]
            for v in variants:
                v.check(t)  # a perturbation the task's sandbox cannot run is a usage error
                names.append(v.name)
            if t.injection is not None:
                names.append("injection")
            jobs.extend((t, name, config.seed + trial, trial) for name in names)
    return jobs


def select_tasks(config: RunConfig) -> list[Task]:
    tasks = load_suite(config.suite)
    if not config.task_ids:
        return tasks
    by_id = {t.id: t for t in tasks}
    missing = [i for i in config.task_ids if i not in by_id]
    if missing:
        import difflib

        hints = []
        for m in missing:
            close = difflib.get_close_matches(m, by_id, n=1)
            hints.append(f"{m!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TaskError(config.suite, [f"unknown task(s) in suite {config.suite!r}: {', '.join(hints)}; "
                                       f"see `lambench tasks list --suite {config.suite}`"])
    return [by_id[i] for i in config.task_ids]


# ---------------------------------------------------------------------------- the run directory


def _prepare_dir(run_dir: Path, config: RunConfig, version: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.json"
    if cfg_path.exists():
        try:
            old = json.loads(cfg_path.read_text())
        except ValueError:
            raise RunDirError(f"{cfg_path} is corrupt; remove the directory or use another --out") from None
        if old.get("kind") == "replay":
            raise RunDirError(f"{run_dir} holds an offline replay; give the live run another --out")
        defaults = RunConfig.model_fields
        diffs = [f"{k}: {old.get(k, defaults[k].default)!r} -> {getattr(config, k)!r}" for k in _IDENTITY
                 if old.get(k, defaults[k].default) != getattr(config, k)]
        old_opts, new_opts = _answer_options(old.get("agent_options") or {}), _answer_options(
            redacted(config.model_dump())["agent_options"])
        if old_opts != new_opts:
            diffs.append(f"agent options: {old_opts} -> {new_opts}")
        if diffs:
            raise RunDirError(f"{run_dir} holds a run with a different configuration ({'; '.join(diffs)}). "
                              "Use another --out, or the same flags to resume it.")
        if old.get("suite_version") not in (None, version):
            raise RunDirError(f"{run_dir} was recorded on suite version {old.get('suite_version')}, but the task "
                              f"files are now version {version}; use a new --out so results are not mixed.")
    data = {**redacted(config.model_dump()), "suite_version": version, "lambench_version": __version__,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    atomic_write(cfg_path, json.dumps(data, indent=2))


_NEUTRAL_OPTIONS = frozenset(("cache", "max_concurrency", "price_table", "request_timeout", "max_retries", "api_key"))


def _answer_options(opts: dict[str, Any]) -> dict[str, Any]:
    """The agent options that can change an agent's answers (what a resumed run must keep)."""
    return {k: v for k, v in sorted(opts.items()) if k not in _NEUTRAL_OPTIONS}


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as written to config.json: secrets in the agent options (keys, tokens) masked."""
    opts = config.get("agent_options")
    if not opts:
        return config
    from lambench.agents.clients import safe_url

    secret = ("key", "token", "secret", "password")

    def clean(k: str, v: Any) -> Any:
        if any(s in k.lower() for s in secret):
            return "***"
        return safe_url(v) if isinstance(v, str) and "://" in v else v

    return {**config, "agent_options": {k: clean(k, v) for k, v in opts.items()}}


# ---------------------------------------------------------------------------- execution


def _can_fork() -> bool:
    """Whether this process may fork its workers directly, which starts them in milliseconds with everything already
    imported: on Linux, from the main thread, with no other Python thread (a fork copies only the calling thread, so
    no lock can be left held by another) and no model runtime loaded (torch's thread pools do not survive a fork
    reliably). Native helper threads that handle forks themselves (numpy's OpenBLAS pool) do not count."""
    return (sys.platform.startswith("linux") and _in_main_thread() and threading.active_count() == 1
            and "torch" not in sys.modules and "fork" in multiprocessing.get_all_start_methods())


def _pool_context() -> Any:
    """How pool workers start: forked from this process when it has a single thread (:func:`_can_fork`); else
    forked from a server that has lambench imported (starting 16 takes milliseconds, not seconds of imports on 2
    cores); where there is no fork server, spawned."""
    if _can_fork():
        return multiprocessing.get_context("fork")
    if not _in_main_thread():  # the server dies with the thread that started it (its PDEATHSIG): main only
        return multiprocessing.get_context("spawn")
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:
        return multiprocessing.get_context("spawn")
    # "__main__": the server imports the main script once (workers would each run it again otherwise)
    ctx.set_forkserver_preload(["__main__", "lambench._forkserver_guard", "lambench.runner", "lambench.sandboxes.mockos",
                                "lambench.agents.baseline"])
    return ctx


def _start_pool_server() -> None:
    """Start the fork server now, in the background, when the pool will need one: it imports lambench while this
    process reads the suite and the run directory, so the pool's workers are ready sooner (the server is reused by
    later runs)."""
    ctx = _pool_context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        try:
            forkserver.ensure_running()
        except OSError:  # the pool will try again, and report what fails
            pass


def _close_pool(pool: ProcessPoolExecutor, *, kill: bool = False, grace: float = 5.0) -> None:
    """Shut ``pool`` down and make sure its workers and its manager thread are gone.

    ``shutdown(wait=False)`` alone leaves a thread that joins the workers; Python's exit joins that thread, so a
    worker that never exits, or one killed in the middle of sending its result (the thread then waits for the rest of
    that message for ever), would hang the process at exit. Idle workers exit within milliseconds of their stop
    signal; whatever is still there after ``grace`` seconds (or at once with ``kill``: Ctrl-C, SIGTERM) is killed, and
    the pipes the thread could be blocked on are closed on this side, so that it reads an end instead.
    """
    procs = _workers(pool)
    manager = getattr(pool, "_executor_manager_thread", None)
    results = getattr(pool, "_result_queue", None)
    if kill:
        _kill(procs)
    pool.shutdown(wait=False, cancel_futures=True)
    _OPEN_POOLS.discard(pool)
    if manager is None or manager is threading.current_thread():
        return
    if not kill:
        manager.join(grace)
        if not manager.is_alive():
            return
        _kill(procs)  # a worker that does not stop: it goes, and the manager's join of it returns
    _wait_gone(procs, grace)
    # the workers are gone and the pool takes no more work: this side's end of their result pipe is the last writer,
    # so closing it turns a half-sent result into an end of file, which the pool's thread takes as a broken pool
    # (and closes the rest itself). Nothing else closes or uses that end once the pool is shut down.
    writer = getattr(results, "_writer", None)
    try:
        if writer is not None:
            writer.close()
    except OSError:
        pass
    manager.join(grace)


def _workers(pool: ProcessPoolExecutor) -> list[Any]:
    """The worker processes of ``pool`` (none once it is shut down)."""
    return list((getattr(pool, "_processes", None) or {}).values())


def _exited(procs: list[Any], timeout: float = 0.0) -> set[Any]:
    """The sentinels of those of ``procs`` that have exited, waiting up to ``timeout`` for one to."""
    from multiprocessing.connection import wait as ready

    try:
        return set(ready([p.sentinel for p in procs], timeout=timeout)) if procs else set()
    except (OSError, ValueError):
        return set()


def _wait_gone(procs: list[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while procs and (left := deadline - time.monotonic()) > 0:
        gone = _exited(procs, left)
        procs = [p for p in procs if p.sentinel not in gone]


def _kill(procs: list[Any]) -> None:
    """SIGKILL the pool workers that are still running (an exited one is not signalled: its pid may already be
    reaped and reused)."""
    gone = _exited(procs)
    for p in procs:
        try:
            if p.sentinel not in gone:
                os.kill(p.pid, signal.SIGKILL)
        except (OSError, ValueError, AttributeError):
            pass


_OPEN_POOLS: "weakref.WeakSet[ProcessPoolExecutor]" = weakref.WeakSet()
if hasattr(os, "register_at_fork"):  # a forked worker must not take its parent's pools (and their workers) as its own
    os.register_at_fork(after_in_child=_OPEN_POOLS.clear)


def _close_open_pools() -> None:
    """At interpreter exit, before concurrent.futures joins the pools' manager threads: any pool still open (a run
    that was interrupted where no ``finally`` could close it) is closed, its workers killed, so the exit cannot
    hang on them."""
    for pool in list(_OPEN_POOLS):
        _close_pool(pool, kill=True, grace=2.0)


# threading's exit hooks run newest first: registered after concurrent.futures.process's (imported above), this one
# runs before it. A private hook (Python 3.9+); where it is missing, the closes above still apply.
if hasattr(threading, "_register_atexit"):
    threading._register_atexit(_close_open_pools)


def _open_pool(workers: int, n_up: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes with ``n_up`` of them started and ready (see :func:`_all_up`); a new pool
    once if the first cannot start its workers."""
    import lambench.agents.baseline  # noqa: F401  (imported once here: forked workers have them)
    import lambench.sandboxes.mockos  # noqa: F401
    from lambench.sandboxes.containers import process_start

    def new() -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_worker_init,
                                   initargs=(os.getpid(), process_start(os.getpid()), dict(os.environ)))
        _OPEN_POOLS.add(pool)
        return pool

    with warnings.catch_warnings():  # Python 3.12+ warns of any native thread at a fork: see _can_fork
        warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks", category=DeprecationWarning)
        pool = new()
        try:
            if not _all_up(pool, n_up):
                _close_pool(pool, kill=True)
                pool = new()
        except BaseException:  # Ctrl-C while the workers start: nobody else holds this pool to close it
            _close_pool(pool, kill=True)
            raise
    return pool


def _worker_init(parent_pid: int, parent_start: str | None = None, env: dict[str, str] | None = None) -> None:
    """Pool workers leave Ctrl-C to the parent and die with it, even after ``kill -9`` of the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker would have the run's handler
    if env is not None:  # the run's environment now, not the one the (older) fork server started with
        os.environ.clear()
        os.environ.update(env)
    try:
        import ctypes

        # PR_SET_PDEATHSIG (Linux): killed with our parent (the run, or the fork server, which exits with the run)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass

    from lambench.sandboxes.containers import process_start

    def parent_gone() -> bool:
        if parent_start is not None and os.path.exists("/proc/self/stat"):
            return process_start(parent_pid) != parent_start
        return os.getppid() != parent_pid

    if parent_gone():  # the run died before we got here
        os._exit(1)

    def watchdog() -> None:  # portable fallback for systems without PR_SET_PDEATHSIG
        while True:
            time.sleep(0.5)
            if parent_gone():
                os._exit(1)

    threading.Thread(target=watchdog, daemon=True, name="lambench-watchdog").start()


def _run_job(task: Task, variant: str, agent: str, seed: int, trial: int, guard: bool,
             step_timeout: float | None, episode_timeout: float | None, keep_observations: bool = False,
             agent_options: dict[str, Any] | None = None) -> dict[str, Any]:
    seen: list[dict[str, Any]] | None = [] if keep_observations else None
    rec = run_episode(task, agent, seed=seed, trial=trial, variant=variant, guard=guard,
                      step_timeout=step_timeout, episode_timeout=episode_timeout, observations=seen,
                      agent_options=agent_options)
    if seen is not None:
        rec["_observations"] = seen
    return rec


class _Interrupted(BaseException):
    """SIGTERM: like Ctrl-C, it must pass through the episode's own error handling."""


_TERM = threading.Event()
"""Set by SIGTERM: a loop that waits inside a library which may swallow the handler's exception (Ray) checks it."""


def _on_term(signum, frame):
    _TERM.set()
    raise _Interrupted()


def run(config: RunConfig, *, run_dir: str | os.PathLike | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        on_start: Callable[[int, int], None] | None = None) -> RunResult:
    """Run (or resume) the episodes of ``config`` into ``run_dir`` and write the summary.

    ``on_start(total, skipped)`` is called once the plan is known; ``on_progress(record)``
    after each finished episode (for progress bars).
    """
    if config.executor == "local" and config.workers > 1 and not _can_fork():
        _start_pool_server()
    make_agent(config.agent, seed=config.seed, options=config.agent_options)  # fail fast on a bad spec or option
    tasks = select_tasks(config)
    planned = plan_jobs(config, tasks)  # fail fast on an unknown or unsupported perturbation
    version = suite_version(config.suite)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
    if config.executor == "ray":  # before the run directory is touched: an unreachable cluster changes nothing
        from lambench.executors import connect_ray

        connect_ray(config.ray_address, workers=config.workers)
    _prepare_dir(run_dir, config, version)
    episodes_path = run_dir / "episodes.jsonl"
    repair_jsonl(episodes_path)
    repair_jsonl(run_dir / OBSERVATIONS)
    # Errored episodes (infrastructure failures) are run again on resume; the new line supersedes them.
    done = ({episode_key(r) for r in load_episodes(episodes_path) if r.get("error") is None}
            if episodes_path.exists() else set())
    jobs = [j for j in planned if (j[0].id, j[1], j[2], j[3]) not in done]
    skipped = len(planned) - len(jobs)
    containers = sorted({j[0].sandbox for j in jobs} - {"mockos"})
    if containers and config.guard:
        raise ConfigError(f"--guard needs a sandbox that can undo an action; the {', '.join(containers)} "
                          f"sandbox cannot (a command's effects cannot be rolled back). Run without --guard")
    # the run's own container settings (_prepare_containers) last as long as the run: a process that runs again,
    # or starts a sandbox of its own later, does not label containers with a finished run
    saved_env = {k: os.environ.get(k) for k in ("LAMBENCH_OWNER_PID", "LAMBENCH_OWNER_START", "LAMBENCH_RUN_ID")}
    if containers:  # before anything runs: a missing engine or image is one clear error, not N failed episodes
        try:
            _prepare_containers(containers, run_dir)
        except BaseException:
            _restore_env(saved_env)
            raise
    else:
        _prune_quietly()  # every run removes what killed runs left behind, when an engine is there
    pool = None
    interrupted = False
    writer = obs_writer = None
    ran = 0

    def finish_many(recs: list[dict[str, Any]]) -> None:
        nonlocal ran
        seen = [(rec, rec.pop("_observations", None)) for rec in recs]
        if obs_writer is not None:
            # written first: an episode line always has its observations (a kill in between leaves
            # only an unused observations line, superseded when the episode runs again)
            obs = [{"task_id": rec["task_id"], "variant": rec["variant"], "seed": rec["seed"], "trial": rec["trial"],
                    "observations": o} for rec, o in seen if o is not None and rec["error"] is None]
            if obs:
                obs_writer.write_many(obs)
        writer.write_many(recs)
        for rec in recs:
            ran += 1
            if on_progress:
                on_progress(rec)

    def finish(rec: dict[str, Any]) -> None:
        finish_many([rec])

    def call(job: Job) -> tuple[Callable[..., dict[str, Any]], tuple]:
        task, variant, seed, trial = job
        return _run_job, (task, variant, config.agent, seed, trial, config.guard, config.step_timeout,
                          config.episode_timeout, config.observations, config.agent_options)

    def error_record(job: Job, err: str) -> dict[str, Any]:
        task, variant, seed, trial = job
        return _error_record(task, variant, config.agent, seed, trial, err, config.guard)

    try:
        if config.executor == "local" and config.workers > 1 and len(jobs) > 1:
            try:
                # opened first, before a progress display (on_start) or anything else starts a thread: while this
                # process has one thread, its workers are forked from it, ready at once (see _pool_context)
                pool = _open_pool(config.workers, min(config.workers, len(jobs)))
            except KeyboardInterrupt:
                interrupted = True
        if on_start:
            on_start(len(jobs), skipped)
        writer = Appender(episodes_path)
        obs_writer = Appender(run_dir / OBSERVATIONS) if config.observations else None
        if not interrupted:
            interrupted = execute(jobs, workers=config.workers, retries=config.retries, call=call,
                                  key=lambda j: (j[0].id, j[1], j[2], j[3]), error_record=error_record,
                                  finish=finish, executor=config.executor, finish_many=finish_many, pool=pool)
    finally:
        if pool is not None:
            _close_pool(pool)
        if writer is not None:
            writer.close()
        if obs_writer is not None:
            obs_writer.close()
        if containers:  # whatever happened (finished, Ctrl-C, SIGTERM, a crash): no container of this run stays
            _remove_containers(run_dir)
        _restore_env(saved_env)
    summary = write_summary(run_dir)
    return RunResult(run_dir=run_dir, summary=summary, ran=ran, skipped=skipped, interrupted=interrupted)


class ConfigError(LambenchError, ValueError):
    """A run configuration that cannot work (named with the fix)."""


def _prepare_containers(sandboxes: list[str], run_dir: Path) -> None:
    """Own the containers the run's workers start, prune killed runs' orphans, build missing images."""
    from lambench.sandboxes.containers import prepare_images
    from lambench.sandboxes.containers import claim_ownership

    claim_ownership()
    os.environ["LAMBENCH_RUN_ID"] = run_dir.name
    prepare_images(sandboxes, log=lambda m: print(f"lambench: {m}", file=sys.stderr))


def _restore_env(saved: dict[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _prune_quietly() -> None:
    if not (os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock")):
        return
    try:
        import docker  # noqa: F401  (the optional extra)

        from lambench.sandboxes.containers import get_client, prune

        client = get_client(timeout=10)
        try:
            gone = prune(client)
        finally:
            client.close()
        if gone:
            print(f"lambench: removed {len(gone)} container(s)/network(s) left by killed runs", file=sys.stderr)
    except Exception:  # no engine, no permission: nothing of ours can be there to remove
        pass


def _remove_containers(run_dir: Path) -> None:
    try:
        from lambench.sandboxes.containers import remove_owned, shutdown_pools

        shutdown_pools()  # this process's own (the in-process executor's warm pools)
        remove_owned(run_dir.name)  # and those of worker processes that were killed
    except Exception as exc:  # the engine went away: the next run's prune removes them
        print(f"lambench: could not remove this run's containers ({exc}); `lambench sandboxes prune` will",
              file=sys.stderr)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def execute(jobs: list[Any], *, workers: int, retries: int, call: Callable[[Any], tuple[Callable[..., dict], tuple]],
            key: Callable[[Any], Any], error_record: Callable[[Any, str], dict[str, Any]],
            finish: Callable[[dict[str, Any]], None], executor: str = "local",
            finish_many: Callable[[list[dict[str, Any]]], None] | None = None,
            pool: ProcessPoolExecutor | None = None) -> bool:
    """Run jobs (in this process, or in ``workers`` processes) and hand each finished record to ``finish``.

    ``call(job)`` gives the picklable function and arguments that produce the job's record; a
    record whose ``error`` is set is an infrastructure error, retried up to ``retries`` times.
    Ctrl-C and SIGTERM stop the run cleanly: returns True when it was interrupted.
    ``executor="ray"`` runs the jobs as Ray tasks instead (:func:`lambench.executors.run_ray`).
    ``finish_many(records)``, if given, takes the records that finished together in one call (one fsync).
    ``pool``: the local executor's workers, opened beforehand (:func:`_open_pool`); this call shuts it down.
    """
    finish_many = finish_many or (lambda recs: [finish(r) for r in recs])
    _TERM.clear()
    old_term = signal.signal(signal.SIGTERM, _on_term) if _in_main_thread() else None
    try:
        if executor == "ray":  # Ray tasks; the caller has connected (lambench.executors.connect_ray)
            from lambench.executors import run_ray

            run_ray(jobs, workers=workers, retries=retries, call=call, key=key, error_record=error_record,
                    finish_many=finish_many, should_stop=_TERM.is_set)
        elif workers == 1:
            for job in jobs:
                fn, args = call(job)
                for attempt in range(1, retries + 2):
                    rec = fn(*args)
                    rec["attempts"] = attempt
                    if rec["error"] is None:
                        break
                finish(rec)
        else:
            _run_pool(jobs, workers=workers, retries=retries, call=call, key=key, error_record=error_record,
                      finish_many=finish_many, pool=pool)
    except (KeyboardInterrupt, _Interrupted):
        return True
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return False


def _run_pool(jobs: list[Any], *, workers: int, retries: int, call: Callable[[Any], tuple[Callable[..., dict], tuple]],
              key: Callable[[Any], Any], error_record: Callable[[Any, str], dict[str, Any]],
              finish_many: Callable[[list[dict[str, Any]]], None], pool: ProcessPoolExecutor | None = None) -> None:
    """Run jobs in worker processes; retry infrastructure errors; find the job that kills a worker.

    When a worker dies, every episode in flight fails with it.  Those episodes are not charged
    an attempt: they are re-run one at a time, so only the one that really kills its worker
    uses up its retries.  Very fast episodes are sent in chunks of about
    ``lambench.executors.CHUNK_SECONDS`` of work, so that the hand-over does not cost more than the
    episode; slow ones one by one.
    """
    from lambench.executors import chunk_size

    pending = deque(jobs)
    isolate: deque[Any] = deque()
    attempts: dict[Any, int] = {}
    inflight: dict[Future, list[Any]] = {}  # future -> the jobs of its chunk
    ready: list[dict[str, Any]] = []  # finished in this round: written together, with one fsync
    timing = [0.0, 0]  # seconds and number of the episodes finished so far
    lost_at: float | None = None  # when a dead worker its pool had not noticed was first seen

    def submit(chunk: list[Any]) -> None:
        inflight[pool.submit(_run_chunk, [call(job) for job in chunk])] = chunk

    def settle(job: Any, rec: dict[str, Any] | None, err: str, *, alone: bool) -> None:
        k = key(job)
        attempts[k] = attempts.get(k, 0) + 1
        if rec is not None and rec["error"] is None:
            rec["attempts"] = attempts[k]
            ready.append(rec)
        elif attempts[k] <= retries:
            (isolate if alone else pending).append(job)
        else:
            rec = rec if rec is not None else error_record(job, err)
            rec["attempts"] = attempts[k]
            ready.append(rec)

    # workers die with this process (_worker_init); see _pool_context for how they start
    pool = pool if pool is not None else _open_pool(workers, min(workers, len(pending)))
    try:
        while pending or isolate or inflight:
            if isolate:
                if not inflight:
                    submit([isolate.popleft()])
            else:
                while pending and len(inflight) < workers * 2:
                    k = chunk_size(timing[0] / timing[1] if timing[1] else None, len(pending), workers)
                    submit([pending.popleft() for _ in range(min(k, len(pending)))])
            n_inflight = sum(len(chunk) for chunk in inflight.values())
            done, _ = wait(inflight, timeout=1.0, return_when=FIRST_COMPLETED)
            lost = False
            if not done:
                if not _dead_worker(pool):
                    lost_at = None
                    continue
                # a worker died and its pool has not noticed within LOST_WORKER_S: killed while sending its result,
                # it left the pool's thread waiting for the rest of that message, and the pool's futures would never
                # end; everything in flight is treated as on a broken pool
                lost_at = lost_at if lost_at is not None else time.monotonic()
                if time.monotonic() - lost_at < LOST_WORKER_S:
                    continue
                lost = True
            lost_at = None
            victims = []
            for fut in done:
                chunk = inflight.pop(fut)
                try:
                    recs, err = fut.result(), ""
                except BrokenProcessPool:
                    victims.extend(chunk)
                    continue
                except Exception as exc:  # pickling or other executor failures
                    recs, err = [None] * len(chunk), f"{type(exc).__name__}: {exc}"
                for job, rec in zip(chunk, recs):
                    if isinstance(rec, dict):
                        timing[0] += float(rec.get("wall_time_s") or 0.0)
                        timing[1] += 1
                    settle(job, rec, err, alone=False)
            if victims or lost:
                victims.extend(job for chunk in inflight.values() for job in chunk)
                inflight.clear()
                _close_pool(pool, kill=True)  # broken, or lost for good: no call of it is still awaited
                pool = _open_pool(workers, 0)
                if n_inflight == 1:  # it ran alone: this episode kills its worker
                    settle(victims[0], None, "a worker process died during the episode (killed, crashed or out "
                                             "of memory)", alone=True)
                else:
                    isolate.extend(victims)
            if ready:
                finish_many(ready)
                ready = []
    except BaseException:  # Ctrl-C, SIGTERM: stop the workers now (the run then removes their containers)
        _close_pool(pool, kill=True)
        raise
    _close_pool(pool)


LOST_WORKER_S = 3.0  # a pool notices a dead worker within milliseconds; after this long, it never will


def _dead_worker(pool: ProcessPoolExecutor) -> bool:
    """Whether a worker process of ``pool`` has exited."""
    return bool(_exited(_workers(pool)))


def _ready() -> int:
    """Called once in each new pool worker: unpickling it imports the runner, and with it what an episode needs;
    the baseline agents and the mock OS are imported here too, rather than in each worker's first episode."""
    import lambench.agents.baseline  # noqa: F401
    import lambench.sandboxes.mockos  # noqa: F401

    time.sleep(0.01)  # long enough that a worker which is up cannot take a second call before the others
    return os.getpid()


def _all_up(pool: ProcessPoolExecutor, n: int) -> bool:
    """Wait until ``n`` workers of a new pool have started (spawned at once, they are up at about the same time).

    Episodes then start together instead of running beside workers that are still starting: none of
    them is slowed down by the others' start-up, and ``n`` episodes at once take about as long as one.
    """
    pids: set[int] = set()
    for _ in range(3):
        futures = [pool.submit(_ready) for _ in range(n - len(pids))]
        wait(futures)
        try:
            pids.update(f.result() for f in futures)
        except Exception:  # a worker that cannot even start: the run will report it on its first episode
            return False
        if len(pids) >= n:
            break
    return True


def _run_chunk(calls: list[tuple[Callable[..., dict[str, Any]], tuple]]) -> list[dict[str, Any]]:
    """Run a chunk of jobs in a pool worker, one after the other."""
    return [fn(*args) for fn, args in calls]


def _error_record(task: Task, variant: str, agent: str, seed: int, trial: int, error: str,
                  guard: bool) -> dict[str, Any]:
    return {**blank_record(task, agent, seed=seed, trial=trial, variant=variant, guard=guard), "error": error}


# ---------------------------------------------------------------------------- summaries


def write_summary(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Recompute ``summary.json`` from ``episodes.jsonl`` (and ``config.json`` if present)."""
    summary = score_run_dir(run_dir)
    atomic_write(Path(run_dir) / "summary.json", json.dumps(summary, indent=2))
    return summary


def _suite_size(suite: Any) -> int | None:
    """How many tasks the suite has now (to tell partial runs from full ones)."""
    try:
        return len(load_suite(suite)) if isinstance(suite, str) else None
    except TaskError:
        return None


def score_run_dir(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The summary of a run directory, computed from its episodes alone."""
    run_dir = Path(run_dir)
    path = run_dir / "episodes.jsonl"
    if not path.exists():
        raise RunDirError(f"{run_dir} has no episodes.jsonl; is it a lambench run directory? "
                          "(create one with `lambench run --out DIR`)")
    try:
        episodes = load_episodes(path)
    except OSError as exc:
        raise RunDirError(f"cannot read {path}: {exc}") from None
    bad = [i for i, e in enumerate(episodes, 1) if not isinstance(e.get("agent"), str)
           or not isinstance(e.get("unsafe_events", []), list)]
    if bad:
        raise RunDirError(f"{path}: episode {bad[0]} is malformed (no agent, or unsafe_events is not a list); "
                          "was it written by lambench?")
    cfg: dict[str, Any] = {}
    if (run_dir / "config.json").exists():
        try:
            cfg = json.loads((run_dir / "config.json").read_text())
        except (ValueError, OSError):
            cfg = {}
        if not isinstance(cfg, dict):
            cfg = {}
    agents = sorted({e["agent"] for e in episodes})
    suites = sorted({e["suite"] for e in episodes})
    if cfg.get("kind") == "replay":
        return _replay_run_summary(run_dir, cfg, episodes, agents, suites)
    breakdown = summarize(episodes, by=["app", "tags", "variant"])["groups"]
    return {
        "run_dir": str(run_dir),
        "agent": cfg.get("agent", agents[0] if len(agents) == 1 else agents),
        "suite": cfg.get("suite", suites[0] if len(suites) == 1 else suites),
        "suite_version": cfg.get("suite_version"),
        "guard": bool(cfg.get("guard", any(e.get("guard") for e in episodes))),
        "tasks_in_suite": _suite_size(cfg.get("suite", suites[0] if len(suites) == 1 else None)),
        "lambench_version": __version__,
        "computed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # Headline numbers are the clean episodes; each variant, and all of them pooled, are kept apart.
        "metrics": compute_metrics([e for e in episodes if e.get("variant", "clean") == "clean"] or episodes),
        "metrics_all_variants": compute_metrics(episodes),
        "by_app": breakdown.get("app", {}),
        "by_tag": breakdown.get("tags", {}),
        "by_variant": breakdown.get("variant", {}),
        "robustness": robustness(episodes),
        "injection": injection_metrics(episodes),
        "per_task": per_task_values(episodes),
    }



def _replay_run_summary(run_dir: Path, cfg: dict[str, Any], episodes: list[dict[str, Any]], agents: list[str],
                        suites: list[str]) -> dict[str, Any]:
    """The summary of an offline replay run: the LAM paper's metrics under ``replay``; ``metrics`` treats each
    complete trajectory as an episode (success = every step right, i.e. TSR)."""
    from lambench.replay.metrics import replay_summary

    complete = [e for e in episodes if (e.get("replay") or {}).get("complete", True)]
    return {
        "kind": "replay",
        "run_dir": str(run_dir),
        "agent": cfg.get("agent", agents[0] if len(agents) == 1 else agents),
        "suite": cfg.get("suite", suites[0] if len(suites) == 1 else suites),
        "suite_version": cfg.get("suite_version"),
        "dataset": cfg.get("dataset"),
        "guard": False,
        "tasks_in_suite": cfg.get("trajectories_in_dataset"),
        "lambench_version": __version__,
        "computed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "replay": replay_summary(episodes),
        "metrics": compute_metrics(complete),
        "metrics_all_variants": compute_metrics(complete),
        "by_variant": summarize(complete, by=["variant"])["groups"].get("variant", {}),
        # trajectories with missing steps are in no success number (their TSR is undefined)
        "per_task": per_task_values(complete),
    }
