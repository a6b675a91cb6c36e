"""What an executor is: workers that each run the chunks of calls handed to them, in order, and say how each ended.

An executor never decides what to retry: it runs chunks and reports, per chunk, the records (:class:`Finished`),
an error raised outside the episode (:class:`Failed`), or that the worker running it died (:class:`Lost`, naming
every chunk of that worker that had not finished).  The :class:`~lambench.executors.dispatch.Dispatcher` owns
the policy: chunking, retries, and running a suspect alone to find the episode that kills its worker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Union

__all__ = ["Call", "Finished", "Failed", "Lost", "Outcome", "Executor", "DEAD_WORKER"]

Call = tuple[Callable[..., dict[str, Any]], tuple]
"""A picklable function and its arguments; calling it gives an episode's record."""

DEAD_WORKER = "a worker process died during the episode (killed, crashed or out of memory)"
"""The error of an episode that killed its worker every time it ran."""


@dataclass
class Finished:
    """A chunk ended: one record per call, in order."""

    ticket: int
    records: list[dict[str, Any]]


@dataclass
class Failed:
    """A chunk raised outside its episodes (the call could not be sent or its result not returned)."""

    ticket: int
    error: str


@dataclass
class Lost:
    """The worker of ``slot`` died; ``tickets`` are its chunks that had not finished (its first one was running).
    The executor has already reported the chunks it finished before it died, and puts a new worker in its place."""

    slot: int
    tickets: list[int]
    error: str


Outcome = Union[Finished, Failed, Lost]


class Executor(ABC):
    """``slots`` workers; each runs the chunks submitted to it one after the other."""

    slots: int
    max_chunk: int = 32
    """The most calls a chunk may hold (1: one episode per chunk, each record handed over at once)."""
    max_depth: int = 2
    """The most chunks queued on one worker (a worker with its next chunk queued is never idle between two)."""

    @abstractmethod
    def submit(self, slot: int, ticket: int, calls: list[Call]) -> None:
        """Queue a chunk on worker ``slot``; its outcome comes back from :meth:`poll` under ``ticket``."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Outcome]:
        """The outcomes that are in, waiting up to ``timeout`` seconds for one."""

    def close(self, *, kill: bool = False) -> None:
        """Stop the workers: at once with ``kill`` (an interrupt: what they run is not recorded), else once idle."""
