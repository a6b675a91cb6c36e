"""The local executor: a run's episodes in this process, or in a pool of worker processes (copied from runner)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
import weakref
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from lambench.executors.ray import chunk_size

def can_fork() -> bool:
    """Whether this process may fork its workers directly, which starts them in milliseconds with everything already
    imported: on Linux, from the main thread, with no other Python thread (a fork copies only the calling thread, so
    no lock can be left held by another) and no model runtime loaded (torch's thread pools do not survive a fork
    reliably). Native helper threads that handle forks themselves (numpy's OpenBLAS pool) do not count."""
    return (sys.platform.startswith("linux") and _in_main_thread() and threading.active_count() == 1
            and "torch" not in sys.modules and "fork" in multiprocessing.get_all_start_methods())


def _pool_context() -> Any:
    """How pool workers start: forked from this process when it has a single thread (:func:`can_fork`); else
    forked from a server that has lambench imported (starting 16 takes milliseconds, not seconds of imports on 2
    cores); where there is no fork server, spawned."""
    if can_fork():
        return multiprocessing.get_context("fork")
    if not _in_main_thread():  # the server dies with the thread that started it (its PDEATHSIG): main only
        return multiprocessing.get_context("spawn")
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:
        return multiprocessing.get_context("spawn")
    # "__main__": the server imports the main script once (workers would each run it again otherwise)
    ctx.set_forkserver_preload(["__main__", "lambench._forkserver_guard", "lambench.executors.local", "lambench.sandboxes.mockos",
                                "lambench.agents.baseline"])
    return ctx


def start_pool_server() -> None:
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


def close_pool(pool: ProcessPoolExecutor, *, kill: bool = False, grace: float = 5.0) -> None:
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
        close_pool(pool, kill=True, grace=2.0)


# threading's exit hooks run newest first: registered after concurrent.futures.process's (imported above), this one
# runs before it. A private hook (Python 3.9+); where it is missing, the closes above still apply.
if hasattr(threading, "_register_atexit"):
    threading._register_atexit(_close_open_pools)


def open_pool(workers: int, n_up: int) -> ProcessPoolExecutor:
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

    with warnings.catch_warnings():  # Python 3.12+ warns of any native thread at a fork: see can_fork
        warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks", category=DeprecationWarning)
        pool = new()
        try:
            if not _all_up(pool, n_up):
                close_pool(pool, kill=True)
                pool = new()
        except BaseException:  # Ctrl-C while the workers start: nobody else holds this pool to close it
            close_pool(pool, kill=True)
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


class _Interrupted(BaseException):
    """SIGTERM: like Ctrl-C, it must pass through the episode's own error handling."""


_TERM = threading.Event()
"""Set by SIGTERM: a loop that waits inside a library which may swallow the handler's exception (Ray) checks it."""


def _on_term(signum, frame):
    _TERM.set()
    raise _Interrupted()


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
    ``pool``: the local executor's workers, opened beforehand (:func:`open_pool`); this call shuts it down.
    """
    finish_many = finish_many or (lambda recs: [finish(r) for r in recs])
    _TERM.clear()
    old_term = signal.signal(signal.SIGTERM, _on_term) if _in_main_thread() else None
    try:
        if executor == "ray":  # Ray tasks; the caller has connected (lambench.executors.connect_ray)
            from lambench.executors.ray import run_ray

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
    pool = pool if pool is not None else open_pool(workers, min(workers, len(pending)))
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
                close_pool(pool, kill=True)  # broken, or lost for good: no call of it is still awaited
                pool = open_pool(workers, 0)
                if n_inflight == 1:  # it ran alone: this episode kills its worker
                    settle(victims[0], None, "a worker process died during the episode (killed, crashed or out "
                                             "of memory)", alone=True)
                else:
                    isolate.extend(victims)
            if ready:
                finish_many(ready)
                ready = []
    except BaseException:  # Ctrl-C, SIGTERM: stop the workers now (the run then removes their containers)
        close_pool(pool, kill=True)
        raise
    close_pool(pool)


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
