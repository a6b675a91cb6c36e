"""The inline executor: one worker, this process; each episode runs when the dispatcher polls, one at a time."""

from __future__ import annotations

from collections import deque

from lambench.executors.base import Call, Executor, Finished, Outcome

__all__ = ["InlineExecutor"]


class InlineExecutor(Executor):
    """Runs each chunk (of one call) in this process: its record is handed over as soon as it ends, and an
    exception from the call (nothing guards it here) ends the run as it would a script."""

    slots = 1
    max_chunk = 1
    max_depth = 1

    def __init__(self) -> None:
        self.queue: deque[tuple[int, list[Call]]] = deque()

    def submit(self, slot: int, ticket: int, calls: list[Call]) -> None:
        self.queue.append((ticket, calls))

    def poll(self, timeout: float) -> list[Outcome]:
        if not self.queue:
            return []
        ticket, calls = self.queue.popleft()
        return [Finished(ticket, [fn(*args) for fn, args in calls])]
