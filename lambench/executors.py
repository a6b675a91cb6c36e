"""The Ray executor: a run's episodes as Ray tasks on a local or remote Ray cluster.

``lambench run --executor ray [--ray-address ADDR]`` hands every episode to Ray; the records
stream back to this process, which appends them to the same run directory as the local
executor does.  A run started on one executor can therefore be resumed on the other.

Ray never retries an episode by itself (``max_retries=0``, ``retry_exceptions=False``): a live
episode has side effects and must not be replayed behind the harness's back.  An episode whose
worker dies, or whose node goes away, is an infrastructure error that lambench's own policy
retries (``--retries``), exactly as a dead worker of the local process pool.

Ray is an optional dependency (``pip install 'lambench[ray]'``), imported only here.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from typing import Any, Callable

__all__ = ["ExecutorError", "connect_ray", "run_ray", "RAY_INSTALL_HINT"]

RAY_INSTALL_HINT = "pip install 'lambench[ray]'"

_DEAD_WORKER = ("a worker process died during the episode (killed, crashed or out of memory; "
                "Ray: {name})")


_DIED = ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "ObjectLostError", "LocalRayletDiedError")
"""Ray's errors for an episode whose worker process or node went away (names differ across Ray versions)."""


_CANCEL_WAIT_S = 10.0
"""How long an interrupted run waits for its cancelled episodes to release their sandboxes."""


class ExecutorError(RuntimeError):
    """The executor cannot start: Ray is not installed, or the cluster cannot be reached."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed ({exc}); install it with "
                            f"`{RAY_INSTALL_HINT}`, or run with --executor local") from None
    return ray


def _probe(address: str) -> None:
    """Fail fast, naming the address, when nothing listens there (``ray.init`` would hang for minutes)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ExecutorError(f"--ray-address {address!r}: expected HOST:PORT (the head's GCS port, e.g. "
                            f"10.0.0.5:6379), ray://HOST:PORT (Ray Client, port 10001) or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ExecutorError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}). Check that its head node is "
            f"running (`ray start --head --port=6379` on the head, `ray status` there) and that this machine can "
            f"reach that host and port; use --ray-address auto on a node of a running cluster, or leave "
            f"--ray-address out to start a local Ray instance.") from None


def connect_ray(address: str | None = None, *, workers: int | None = None) -> dict[str, Any]:
    """Connect this process to Ray (once; later calls reuse the connection).

    ``address``: ``None`` starts a local Ray instance on this machine (or reuses the one this
    process is already connected to), with as many logical CPUs as the machine has, or as
    ``workers`` when that is more (so ``--workers`` episodes start and run at once, as with the
    local executor); ``auto`` joins the cluster this node belongs to; ``HOST:PORT`` a head node's
    GCS address; ``ray://HOST:PORT`` a Ray Client server.
    Returns what the run connected to (``address``, ``cpus``, ``started_local``).
    """
    ray = _import_ray()
    if address:
        _probe(address)
    if ray.is_initialized():
        current = ray.get_runtime_context().gcs_address
        if not address or address in ("auto", current) or _same_endpoint(address, current):
            return {"address": current, "cpus": ray.cluster_resources().get("CPU", 0), "started_local": False}
        ray.shutdown()  # connected elsewhere: switch clusters
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "configure_logging": True}
    if address:
        kwargs["address"] = address
    else:
        kwargs.update(include_dashboard=False, num_cpus=max(os.cpu_count() or 1, workers or 1))
    try:
        ray.init(**kwargs)
    except ValueError as exc:  # e.g. ray:// without the Ray Client extra
        raise ExecutorError(f"cannot connect to Ray at {address}: {exc} (`{RAY_INSTALL_HINT}` installs it)") from None
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        where = address or "a new local instance"
        raise ExecutorError(f"cannot connect to Ray at {where}: {exc}. Start a cluster with `ray start --head` "
                            f"and pass --ray-address HOST:6379, or leave --ray-address out to start a local "
                            f"instance.") from None
    return {"address": ray.get_runtime_context().gcs_address, "cpus": ray.cluster_resources().get("CPU", 0),
            "started_local": not address}


def _same_endpoint(address: str, current: str) -> bool:
    try:
        a_host, _, a_port = address.rpartition(":")
        c_host, _, c_port = current.rpartition(":")
        return a_port == c_port and socket.gethostbyname(a_host) == socket.gethostbyname(c_host)
    except OSError:
        return False


BATCH_SECONDS = 0.025
"""A Ray task sends back its finished records once this long has passed since it last sent some: an episode
that took longer goes back alone, at once; very fast ones travel together (each object sent costs Ray
about a millisecond of CPU)."""


def _episodes(calls: list[tuple[Callable[..., dict[str, Any]], tuple]]) -> Any:
    """The body of one Ray task: run a chunk of episodes one after the other, yielding lists of finished
    records as it goes (a streaming generator: records reach the driver while the chunk runs).

    The chunk travels as one argument: a task used by several of its episodes is pickled once, and a
    few kilobytes inline cost less than fetching a shared object per episode."""
    batch: list[dict[str, Any]] = []
    sent = time.monotonic()
    try:
        for fn, args in calls:
            batch.append(fn(*args))
            if time.monotonic() - sent >= BATCH_SECONDS:
                yield batch
                batch, sent = [], time.monotonic()
        if batch:
            yield batch
    finally:
        # A Ray worker outlives the run (and is killed without notice when Ray stops): it keeps no warm
        # sandbox container between tasks.
        import sys

        if "lambench.sandbox.docker" in sys.modules:
            sys.modules["lambench.sandbox.docker"].shutdown_pools()


_remote_episodes: Any = None


def _remote() -> Any:
    global _remote_episodes
    if _remote_episodes is None:
        ray = _import_ray()
        # No retries by Ray: a replayed live episode could repeat its side effects unseen.
        _remote_episodes = ray.remote(num_cpus=1, max_retries=0, retry_exceptions=False,
                                      num_returns="streaming")(_episodes)
    return _remote_episodes


CHUNK_SECONDS = 0.05
"""Episodes are sent to a worker in chunks that take about this long (measured as the run goes): very
fast episodes (the mock OS, a scripted agent) share one task's overhead; slow ones (a model, a
container) go one per task."""


def chunk_size(mean_episode_s: float | None, pending: int, workers: int, *, most: int = 32) -> int:
    """How many episodes the next task runs: about ``CHUNK_SECONDS`` of work, and no more than a fair share
    of what is left (so the last tasks end together)."""
    if mean_episode_s is None or pending <= workers:
        return 1
    return max(1, min(most, int(CHUNK_SECONDS / max(mean_episode_s, 1e-5)), pending // (workers * 2)))


def _slot_free(got: int, size: int) -> bool:
    """Whether a chunk with ``got`` of its ``size`` records back no longer holds its worker's place: when it is
    done, or, for a chunk of fast episodes, three quarters done (the next chunk is on its way as the last few
    episodes run, so the worker does not wait for it)."""
    return got >= size or (size >= 8 and got >= size - size // 4)


class _Chunk:
    __slots__ = ("jobs", "got")

    def __init__(self, jobs: list[Any]):
        self.jobs = jobs
        self.got = 0
        """Records received so far; ``jobs[got]`` is the first episode whose record has not come back."""


def run_ray(jobs: list[Any], *, workers: int, retries: int,
            call: Callable[[Any], tuple[Callable[..., dict[str, Any]], tuple]], key: Callable[[Any], Any],
            error_record: Callable[[Any, str], dict[str, Any]],
            finish_many: Callable[[list[dict[str, Any]]], None]) -> None:
    """Run jobs as Ray tasks, ``workers`` at a time, and hand the records to ``finish_many`` in this process
    as they arrive.  Each episode asks Ray for one CPU, or ``cluster CPUs / workers`` when that is less.

    The contract is :func:`lambench.runner.execute`'s: a record whose ``error`` is set, a task that
    raised, or a worker that died is an infrastructure error, retried up to ``retries`` times.  Fast
    episodes travel in chunks (:func:`chunk_size`), their records streamed back as the chunk runs.
    When a chunk's task fails, the first episode whose record has not come back is the suspect: it
    runs again alone, uncharged, and the rest of the chunk goes back in the queue; only an episode
    that fails while running alone uses up a retry.
    Call :func:`connect_ray` first.  On an interrupt the tasks in flight are cancelled and given a
    moment to release their sandboxes; their unfinished episodes are not recorded, so a resume runs them.
    """
    ray = _import_ray()

    # One CPU per episode, or less when the cluster has fewer CPUs than --workers: ``workers`` episodes run at
    # once on any cluster (an agent waiting on a model needs no whole CPU), as with the local executor.
    cpus = float(ray.cluster_resources().get("CPU", 0) or 0)
    per_episode = 1.0 if cpus <= 0 else max(0.0001, min(1.0, round(cpus / workers, 4)))
    remote = _remote().options(num_cpus=per_episode)
    died = tuple(getattr(ray.exceptions, name) for name in _DIED if hasattr(ray.exceptions, name))
    pending = deque(jobs)
    isolate: deque[Any] = deque()
    attempts: dict[Any, int] = {}
    inflight: dict[Any, _Chunk] = {}  # streaming generator -> its chunk
    running = 0  # chunks holding a worker's place (at most ``workers``)
    ready: list[dict[str, Any]] = []
    total_s, n_done = 0.0, 0

    def submit(chunk: list[Any]) -> None:
        nonlocal running
        inflight[remote.remote([call(job) for job in chunk])] = _Chunk(chunk)
        running += 1

    def settle(job: Any, rec: dict[str, Any] | None, err: str) -> None:
        k = key(job)
        attempts[k] = attempts.get(k, 0) + 1
        if rec is not None and rec.get("error") is None:
            rec["attempts"] = attempts[k]
            ready.append(rec)
        elif attempts[k] <= retries:
            pending.append(job)
        else:
            rec = rec if rec is not None else error_record(job, err)
            rec["attempts"] = attempts[k]
            ready.append(rec)

    def receive(gen: Any) -> None:
        nonlocal running, total_s, n_done
        chunk = inflight[gen]
        try:
            ref = next(gen)
        except StopIteration:
            del inflight[gen]
            return
        job = chunk.jobs[chunk.got]
        try:
            recs = ray.get(ref)
        except ray.exceptions.RayError as exc:  # the worker died, or raised outside the episode's guard
            del inflight[gen]
            running -= 0 if _slot_free(chunk.got, len(chunk.jobs)) else 1
            pending.extendleft(reversed(chunk.jobs[chunk.got + 1:]))  # not charged
            if len(chunk.jobs) > 1:  # the suspect (records not yet sent are lost with the task) runs alone
                isolate.append(job)
            elif isinstance(exc, died):  # it ran alone: this episode kills its worker
                settle(job, None, _DEAD_WORKER.format(name=type(exc).__name__))
            else:
                cause = getattr(exc, "cause", None)
                settle(job, None, f"{type(cause).__name__}: {cause} (in a Ray worker)" if cause is not None
                       else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            return
        for job, rec in zip(chunk.jobs[chunk.got:chunk.got + len(recs)], recs):
            if isinstance(rec, dict):
                total_s += float(rec.get("wall_time_s") or 0.0)
                n_done += 1
            settle(job, rec, "")
        before, chunk.got = chunk.got, chunk.got + len(recs)
        if _slot_free(chunk.got, len(chunk.jobs)) and not _slot_free(before, len(chunk.jobs)):
            running -= 1  # the next chunk may start

    try:
        while pending or isolate or inflight:
            while isolate and running < workers:
                submit([isolate.popleft()])
            while pending and running < workers:
                k = chunk_size(total_s / n_done if n_done else None, len(pending), workers)
                submit([pending.popleft() for _ in range(min(k, len(pending)))])
            if not inflight:
                continue
            done, _ = ray.wait(list(inflight), num_returns=1)
            rest = [g for g in inflight if g not in done]
            if rest:  # take whatever else is ready too
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                done = done + more
            for gen in done:
                receive(gen)
            if ready:
                finish_many(ready)
                ready = []
    finally:
        if inflight:  # interrupted: stop what is still running; nothing of it is recorded
            try:
                for gen in inflight:
                    ray.cancel(gen)  # a KeyboardInterrupt in the task: its episode releases its sandbox
                ray.wait(list(inflight), num_returns=len(inflight), timeout=_CANCEL_WAIT_S)
            except Exception:  # the cluster is gone too: nothing left to cancel
                pass
