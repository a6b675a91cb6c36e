"""The Ray executor: a run's episodes on Ray actors, on a local or remote Ray cluster.

``lambench run --executor ray [--ray-address ADDR]`` starts ``--workers`` actors (one per episode
running at once) and hands them the episodes; the records come back to this process as each chunk
of episodes ends, and are appended to the same run directory as with the local executor.  A run
started on one executor can therefore be resumed on the other.  Actors rather than tasks: an actor
keeps its process, imports and warm sandbox containers for the whole run, and calls queued on it
start without the raylet scheduling each one.

Ray never retries an episode by itself (actors with ``max_restarts=0``, ``max_task_retries=0``): a
live episode has side effects and must not be replayed behind the harness's back.  An episode whose
actor dies, or whose node goes away, is an infrastructure error that lambench's own policy retries
(``--retries``), exactly as a dead worker of the local process pool.

Ray is an optional dependency (``pip install 'lambench[ray]'``), imported only here.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from typing import Any, Callable

from lambench.errors import LambenchError
from lambench.executors.base import DEAD_WORKER, Call, Executor, Failed, Finished, Lost, Outcome

__all__ = ["ExecutorError", "RayExecutor", "connect_ray", "release_actors", "RAY_INSTALL_HINT"]

RAY_INSTALL_HINT = "pip install 'lambench[ray]'"

_DEAD_WORKER = DEAD_WORKER[:-1] + "; Ray: {name})"


_DIED = ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "ObjectLostError", "LocalRayletDiedError")
"""Ray's errors for an episode whose worker process or node went away (names differ across Ray versions)."""


_RELEASE_WAIT_S = 10.0
"""How long the end of a run waits for its actors to remove their warm sandbox containers."""


class ExecutorError(LambenchError, RuntimeError):
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
    else:  # "local": a new instance, whatever a `ray start` left in /tmp/ray (a killed head's address included)
        kwargs.update(address="local", include_dashboard=False, num_cpus=max(os.cpu_count() or 1, workers or 1))
    for attempt in (1, 2):
        try:
            ray.init(**kwargs)
            break
        except ValueError as exc:  # e.g. ray:// without the Ray Client extra
            raise ExecutorError(f"cannot connect to Ray at {address}: {exc} "
                                f"(`{RAY_INSTALL_HINT}` installs it)") from None
        except (ConnectionError, RuntimeError, TimeoutError) as exc:
            if attempt == 1 and "Starting Ray client server failed" in str(exc):
                time.sleep(1.0)  # the head's server for this Ray Client connection did not start: once more
                continue
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


class _EpisodeWorker:
    """A Ray actor that runs a run's episodes, a chunk per call.

    Its process, its imports and its warm sandbox pools stay up between calls, and a call queued on it
    starts the moment the previous one ends: no scheduling by the raylet per task, no idle gap between
    chunks.  Calls from one run execute in the order they were sent."""

    def run(self, env: dict[str, str], calls: list[Call]) -> list[dict[str, Any]]:
        _apply_env(env)
        return [fn(*args) for fn, args in calls]

    def release(self) -> int:
        """End of a run: no warm sandbox container stays up while the actor waits for the next run."""
        import sys

        if "lambench.sandboxes.containers" in sys.modules:
            sys.modules["lambench.sandboxes.containers"].shutdown_pools()
        return os.getpid()


def _run_env() -> dict[str, str]:
    """What an episode takes from the run's environment: the ``LAMBENCH_*`` variables (run id, owner of the
    sandbox containers, timeouts, warm pool size). The rest of a node's environment is the node's own."""
    return {k: v for k, v in os.environ.items() if k.startswith("LAMBENCH_")}


def _apply_env(env: dict[str, str]) -> None:
    for k in [k for k in os.environ if k.startswith("LAMBENCH_") and k not in env]:
        del os.environ[k]
    os.environ.update(env)


_actor_cls: Any = None


def _actor_class() -> Any:
    global _actor_cls
    if _actor_cls is None:
        ray = _import_ray()
        # No restarts, no retries by Ray: a replayed live episode could repeat its side effects unseen.
        _actor_cls = ray.remote(max_restarts=0, max_task_retries=0)(_EpisodeWorker)
    return _actor_cls


_crew: dict[str, Any] = {"key": None, "actors": []}
"""This process's episode actors, kept from one run to the next on the same cluster: a benchmark, a notebook
or a test suite that runs several times starts them once (an actor is a new process: 16 take seconds)."""


def _new_actor() -> Any:
    # Ray's default for an actor: one CPU to place it, none held while it lives. A crew holding CPUs would, idle
    # between two runs of its driver, block other drivers' work on the cluster; --workers (the number of actors)
    # bounds how many episodes run at once. SPREAD places the crew over the nodes rather than packing the first.
    return _actor_class().options(scheduling_strategy="SPREAD").remote()


def _crew_for(n: int) -> list[Any]:
    """``n`` episode actors, reused from the previous run on the same cluster."""
    ray = _import_ray()
    ctx = ray.get_runtime_context()
    key = (ctx.gcs_address, ctx.get_node_id(), ctx.get_job_id())
    if _crew["key"] != key:
        release_actors()
        _crew["key"] = key
    while len(_crew["actors"]) < n:
        _crew["actors"].append(_new_actor())
    return list(_crew["actors"][:n])


def _drop(actor: Any) -> None:
    """Kill an actor (dead, or busy with an episode that must stop) and forget it."""
    try:
        _crew["actors"].remove(actor)
    except ValueError:
        pass
    try:
        _import_ray().kill(actor)
    except Exception:  # already gone, or its cluster is
        pass


def release_actors() -> None:
    """Stop this process's episode actors and free their processes (not needed before a process exits: Ray ends
    the actors of a driver that disconnects)."""
    for actor in list(_crew["actors"]):
        _drop(actor)
    _crew.update(key=None, actors=[])


class RayExecutor(Executor):
    """``n`` episode actors of this process's crew, each running the chunks sent to it in order.

    An actor has its next chunk queued while it runs one (calls to an actor go straight to its process, with no
    scheduling in between).  An actor that dies is dropped and a new one takes its place; its calls that ended
    before the death, their results not taken yet, still count; the others are reported lost.  On an interrupt
    the actors still running an episode are killed; at the end of a run the others drop their warm sandboxes."""

    def __init__(self, n: int) -> None:
        self.ray = ray = _import_ray()
        self.died = (ray.exceptions.RayActorError,) + tuple(
            getattr(ray.exceptions, name) for name in _DIED if hasattr(ray.exceptions, name))
        self.actors = _crew_for(n)
        self.slots = len(self.actors)
        self.env = _run_env()
        self.queued: list[deque[tuple[Any, int]]] = [deque() for _ in self.actors]  # per actor: (call, ticket)
        self.where: dict[Any, int] = {}  # call -> index of its actor

    def submit(self, slot: int, ticket: int, calls: list[Call]) -> None:
        ref = self.actors[slot].run.remote(self.env, calls)
        self.queued[slot].append((ref, ticket))
        self.where[ref] = slot

    def poll(self, timeout: float) -> list[Outcome]:
        if not self.where:
            return []
        ray = self.ray
        done, rest = _through_signals(ray.wait, list(self.where), num_returns=1, timeout=timeout)
        if done and rest:  # take whatever else is ready too
            more, _ = _through_signals(ray.wait, rest, num_returns=len(rest), timeout=0)
            done = done + more
        out: list[Outcome] = []
        for ref in done:
            self._receive(ref, out)
        return out

    def _receive(self, ref: Any, out: list[Outcome]) -> None:
        i = self.where.get(ref)
        if i is None:  # its actor died and was reported already
            return
        try:
            recs = _through_signals(self.ray.get, ref)
        except self.died as exc:
            self._lost(i, exc, out)
            return
        except self.ray.exceptions.RayError as exc:  # raised outside the episode's own guard
            cause = getattr(exc, "cause", None)
            out.append(Failed(self._unqueue(i, ref), f"{type(cause).__name__}: {cause} (in a Ray worker)"
                              if cause is not None else
                              f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))
            return
        out.append(Finished(self._unqueue(i, ref), recs))

    def _lost(self, i: int, exc: BaseException, out: list[Outcome]) -> None:
        """Actor ``i`` died: what it had finished still counts; the rest of its queue failed with it."""
        lost = list(self.queued[i])
        self.queued[i].clear()
        for ref, _ in lost:
            self.where.pop(ref, None)
        _drop(self.actors[i])
        self.actors[i] = _new_actor()  # a new actor takes its place
        _crew["actors"].append(self.actors[i])
        while lost:  # calls that ended before it died, their results not taken yet, are not lost
            try:
                recs = self.ray.get(lost[0][0], timeout=0)
            except Exception:
                break
            out.append(Finished(lost.pop(0)[1], recs))
        out.append(Lost(i, [ticket for _, ticket in lost], _DEAD_WORKER.format(name=type(exc).__name__)))

    def _unqueue(self, i: int, ref: Any) -> int:
        self.where.pop(ref, None)
        q = self.queued[i]
        for n, (r, ticket) in enumerate(q):
            if r is ref or r == ref:
                del q[n]
                return ticket
        raise KeyError(ref)

    def close(self, *, kill: bool = False) -> None:
        busy = [self.actors[i] for i in range(len(self.actors)) if self.queued[i]]
        try:
            for actor in busy:  # interrupted: stop what is still running; nothing of it is recorded
                _drop(actor)
            if not kill:  # no warm sandbox stays up between runs
                self.ray.get([a.release.remote() for a in self.actors], timeout=_RELEASE_WAIT_S)
        except Exception:  # the cluster is gone too: nothing left to release
            pass


def _through_signals(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a blocking Ray function so that Ctrl-C and SIGTERM come out as themselves: a signal handler that raises
    while Ray waits in C++ (the runner's SIGTERM handler does) reaches Python as a SystemError caused by it."""
    try:
        return fn(*args, **kwargs)
    except SystemError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, BaseException) and not isinstance(cause, Exception):
            raise cause from None
        raise
