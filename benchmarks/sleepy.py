"""A slow agent for the benchmarks: the oracle, sleeping before each action as if waiting on a model.

Agent spec ``benchmarks.sleepy:SleepyOracle`` (the repository root on ``sys.path``); the sleep is
``LAMBENCH_BENCH_SLEEP`` seconds (default 0.1), read when the agent is made, so worker processes
started later see the same value.
"""

from __future__ import annotations

import os
import time

from lambench.agents.baseline import OracleAgent


class SleepyOracle:
    """The oracle, taking ``LAMBENCH_BENCH_SLEEP`` seconds per action."""

    privileged = True

    def __init__(self, seed: int = 0) -> None:
        self.inner = OracleAgent()
        self.sleep_s = float(os.environ.get("LAMBENCH_BENCH_SLEEP", "0.1"))

    def bind(self, task, variant=None):
        self.inner.bind(task, variant)

    def reset(self, task):
        self.inner.reset(task)

    def act(self, obs):
        time.sleep(self.sleep_s)
        return self.inner.act(obs)
