"""The one dispatcher: hands a run's jobs to an executor in chunks, retries infrastructure errors, and finds the
episode that kills its worker; :func:`execute` picks the executor and turns Ctrl-C and SIGTERM into a clean stop.

Live runs and offline replay both go through :func:`execute`.  A record whose ``error`` is set, a chunk that
raised outside its episodes, or a worker that died is an infrastructure error, retried up to ``retries`` times.
When a worker dies, what it had finished counts; every episode of its unfinished chunks (which one was running
is not known for certain: a chunk can end just before the death with its result lost) runs again as its worker's
only chunk, uncharged; only an episode that kills its worker while running that way uses up a retry.
"""

from __future__ import annotations

import signal
import threading
from collections import deque
from dataclasses import dataclass
from itertools import count
from typing import Any, Callable

from lambench.executors.base import Call, Executor, Finished, Lost, Outcome

__all__ = ["CHUNK_SECONDS", "chunk_size", "Dispatcher", "execute", "run_ray", "Interrupted"]

CHUNK_SECONDS = 0.05
"""Episodes are sent to a worker in chunks that take about this long (measured as the run goes): very
fast episodes (the mock OS, a scripted agent) share one hand-over's overhead; slow ones (a model, a
container) go one per chunk."""

POLL_S = 0.25
"""How often a run waiting on its workers looks for an interrupt request."""


def chunk_size(mean_episode_s: float | None, pending: int, workers: int, *, most: int = 32) -> int:
    """How many episodes the next chunk runs: about ``CHUNK_SECONDS`` of work, and no more than a fair share
    of what is left (so the last chunks end together)."""
    if mean_episode_s is None or pending <= workers:
        return 1
    return max(1, min(most, int(CHUNK_SECONDS / max(mean_episode_s, 1e-5)), pending // (workers * 2)))


@dataclass
class _Chunk:
    jobs: list[Any]
    slot: int
    suspect: bool
    """One job that may kill its worker: it runs as its worker's only chunk."""


class Dispatcher:
    """Runs jobs on an :class:`~lambench.executors.base.Executor` and hands their records to ``finish_many``.

    ``call(job)`` gives the picklable function and arguments that produce the job's record; ``key(job)`` its
    identity (attempts are counted per key); ``error_record(job, error)`` the record of a job that used up its
    retries without one.  ``should_stop()`` is polled while waiting (a signal handler's exception can be lost
    inside a library's wait); when it is true this raises KeyboardInterrupt.
    """

    def __init__(self, executor: Executor, *, retries: int, call: Callable[[Any], Call], key: Callable[[Any], Any],
                 error_record: Callable[[Any, str], dict[str, Any]],
                 finish_many: Callable[[list[dict[str, Any]]], None],
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.executor, self.retries, self.call, self.key = executor, retries, call, key
        self.error_record, self.finish_many, self.should_stop = error_record, finish_many, should_stop
        self.pending: deque[Any] = deque()
        self.isolate: deque[Any] = deque()
        self.attempts: dict[Any, int] = {}
        self.chunks: dict[int, _Chunk] = {}  # ticket -> chunk, while it runs
        self.queued: list[deque[int]] = [deque() for _ in range(executor.slots)]  # per worker, its tickets in order
        self.ready: list[dict[str, Any]] = []  # finished in this round: handed over together (one fsync)
        self.timing = [0.0, 0]  # seconds and number of the episodes finished so far
        self.tickets = count()

    def run(self, jobs: list[Any]) -> None:
        """Run every job to a record; on any exception (Ctrl-C, SIGTERM) the workers are stopped at once."""
        self.pending.extend(jobs)
        finished = False
        try:
            while self.pending or self.isolate or self.chunks:
                self._fill()
                outcomes = self.executor.poll(POLL_S)
                if self.should_stop is not None and self.should_stop():
                    raise KeyboardInterrupt
                for outcome in outcomes:
                    self._take(outcome)
                if self.ready:
                    ready, self.ready = self.ready, []
                    self.finish_many(ready)
            finished = True
        finally:
            self.executor.close(kill=not finished)

    def _fill(self) -> None:
        """Queue chunks on the workers: a suspect only on an idle worker, and nothing after it; otherwise up to
        two chunks per worker while chunks are shorter than ``CHUNK_SECONDS`` (the next one waits queued), one
        when they are slower."""
        ex = self.executor
        mean = self.timing[0] / self.timing[1] if self.timing[1] else None
        depth = min(ex.max_depth, 2 if mean is not None and mean < CHUNK_SECONDS else 1)
        for slot, queue in enumerate(self.queued):
            while self.isolate or self.pending:
                if any(self.chunks[t].suspect for t in queue):
                    break  # a suspect runs alone, so that its worker's death can only be its own doing
                if self.isolate:
                    if queue:
                        break
                    jobs, suspect = [self.isolate.popleft()], True
                elif len(queue) < depth:
                    k = chunk_size(mean, len(self.pending), ex.slots, most=ex.max_chunk)
                    jobs, suspect = [self.pending.popleft() for _ in range(min(k, len(self.pending)))], False
                else:
                    break
                ticket = next(self.tickets)
                self.chunks[ticket] = _Chunk(jobs, slot, suspect)
                queue.append(ticket)
                ex.submit(slot, ticket, [self.call(job) for job in jobs])

    def _take(self, outcome: Outcome) -> None:
        if isinstance(outcome, Lost):
            self._lost(outcome)
            return
        chunk = self._done(outcome.ticket)
        if chunk is None:  # its worker was reported lost already
            return
        if isinstance(outcome, Finished):
            for job, rec in zip(chunk.jobs, outcome.records):
                if isinstance(rec, dict):
                    self.timing[0] += float(rec.get("wall_time_s") or 0.0)
                    self.timing[1] += 1
                self._settle(job, rec, "")
        elif len(chunk.jobs) > 1:  # Failed: which of its episodes caused it is not known; each runs alone
            self.isolate.extend(chunk.jobs)
        else:
            self._settle(chunk.jobs[0], None, outcome.error)

    def _lost(self, outcome: Lost) -> None:
        """A worker died: the chunks it had not finished failed with it."""
        chunks = [c for c in map(self._done, outcome.tickets) if c is not None]
        if len(chunks) == 1 and len(chunks[0].jobs) == 1:  # one episode, its worker's only chunk: it kills it
            self._settle(chunks[0].jobs[0], None, outcome.error, alone=True)
        else:
            self.isolate.extend(job for c in chunks for job in c.jobs)

    def _done(self, ticket: int) -> _Chunk | None:
        chunk = self.chunks.pop(ticket, None)
        if chunk is not None:
            self.queued[chunk.slot].remove(ticket)
        return chunk

    def _settle(self, job: Any, rec: dict[str, Any] | None, err: str, *, alone: bool = False) -> None:
        """Count an attempt: a record without error is ready; else the job runs again (first in line, or alone
        when it may kill its worker) until its retries are used up, and then its last record (or an error
        record) is ready."""
        k = self.key(job)
        self.attempts[k] = self.attempts.get(k, 0) + 1
        if rec is not None and rec.get("error") is None:
            rec["attempts"] = self.attempts[k]
            self.ready.append(rec)
        elif self.attempts[k] <= self.retries:
            if alone:
                self.isolate.append(job)
            else:
                self.pending.appendleft(job)
        else:
            rec = rec if rec is not None else self.error_record(job, err)
            rec["attempts"] = self.attempts[k]
            self.ready.append(rec)


class Interrupted(BaseException):
    """SIGTERM: like Ctrl-C, it must pass through the episode's own error handling."""


_TERM = threading.Event()
"""Set by SIGTERM: a loop that waits inside a library which may swallow the handler's exception (Ray) checks it."""


def _on_term(signum: int, frame: Any) -> None:
    _TERM.set()
    raise Interrupted()


def execute(jobs: list[Any], *, workers: int, retries: int, call: Callable[[Any], Call],
            key: Callable[[Any], Any], error_record: Callable[[Any, str], dict[str, Any]],
            finish: Callable[[dict[str, Any]], None], executor: str = "local",
            finish_many: Callable[[list[dict[str, Any]]], None] | None = None, pool: Any = None) -> bool:
    """Run jobs (in this process, or in ``workers`` processes) and hand each finished record to ``finish``.

    ``call(job)`` gives the picklable function and arguments that produce the job's record; a
    record whose ``error`` is set is an infrastructure error, retried up to ``retries`` times.
    Ctrl-C and SIGTERM stop the run cleanly: returns True when it was interrupted.
    ``executor="ray"`` runs the jobs on Ray actors instead (the caller has connected: :func:`connect_ray`).
    ``finish_many(records)``, if given, takes the records that finished together in one call (one fsync).
    ``pool``: the local executor's workers, opened beforehand (:func:`lambench.executors.open_pool`); this call
    closes it.
    """
    finish_many = finish_many or (lambda recs: [finish(r) for r in recs])
    _TERM.clear()
    main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _on_term) if main else None
    try:
        if not jobs:
            if pool is not None:
                pool.close()
            return False
        ex = _executor(executor, workers, len(jobs), pool)
        Dispatcher(ex, retries=retries, call=call, key=key, error_record=error_record, finish_many=finish_many,
                   should_stop=_TERM.is_set).run(jobs)
    except (KeyboardInterrupt, Interrupted):
        return True
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return False


def _executor(name: str, workers: int, n_jobs: int, pool: Any) -> Executor:
    """Ray actors; this process (one worker); or a local pool (opened here unless given)."""
    if name == "ray":
        from lambench.executors.ray import RayExecutor

        return RayExecutor(min(workers, n_jobs))
    if workers == 1 and pool is None:
        from lambench.executors.inline import InlineExecutor

        return InlineExecutor()
    from lambench.executors.local import open_pool

    # workers die with this process; see lambench.executors.local for how they start
    return pool if pool is not None else open_pool(workers, min(workers, n_jobs))


def run_ray(jobs: list[Any], *, workers: int, retries: int, call: Callable[[Any], Call], key: Callable[[Any], Any],
            error_record: Callable[[Any, str], dict[str, Any]], finish_many: Callable[[list[dict[str, Any]]], None],
            should_stop: Callable[[], bool] | None = None) -> None:
    """Run jobs on ``workers`` Ray actors (at most ``workers`` episodes at once, on any cluster) and hand the
    records to ``finish_many`` as they arrive; :func:`execute`'s contract, without its signal handling.
    Call :func:`lambench.executors.connect_ray` first."""
    if not jobs:
        return
    from lambench.executors.ray import RayExecutor

    Dispatcher(RayExecutor(min(workers, len(jobs))), retries=retries, call=call, key=key, error_record=error_record,
               finish_many=finish_many, should_stop=should_stop).run(jobs)
