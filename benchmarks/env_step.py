"""Mock-OS step and reset cost, against a CartPole step measured in the same process.

Targets (issue #2): a mock-OS step costs at most 5x a CartPole step; a reset at most 1 ms.

    python benchmarks/env_step.py [--steps 20000] [--task mail-send-report]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import gymnasium as gym

import lambench  # noqa: F401  (registers lambench/MockOS-v0)


class CartPole:
    def __init__(self) -> None:
        self.env = gym.make("CartPole-v1")
        self.env.reset(seed=0)
        self.i = 0

    def block(self, n: int) -> float:
        env = self.env
        t = time.perf_counter()
        for _ in range(n):
            self.i += 1
            _, _, term, trunc, _ = env.step(self.i & 1)
            if term or trunc:
                env.reset()
        return (time.perf_counter() - t) / n


# A representative GUI workload: open apps, select list items, type into fields, scroll.
WORKLOAD = [
    {"type": "open_app", "app": "Files"},
    {"type": "click", "target": "Downloads"},
    {"type": "type", "target": "Name", "text": "notes.txt"},
    {"type": "scroll", "direction": "down"},
    {"type": "open_app", "app": "Mail"},
    {"type": "click", "target": "Sent"},
    {"type": "open_app", "app": "Settings"},
    {"type": "type", "target": "New user name", "text": "sam"},
    {"type": "open_app", "app": "Calendar"},
    {"type": "type", "target": "Title", "text": "Sync"},
]


class MockOS:
    def __init__(self, task: str, *, as_text: bool) -> None:
        self.env = gym.make("lambench/MockOS-v0", task=task, max_steps=10**9)
        self.env.reset(seed=0)
        self.actions = [json.dumps(a) for a in WORKLOAD] if as_text else WORKLOAD
        self.i = 0

    def block(self, n: int) -> float:
        env, actions, k = self.env, self.actions, len(self.actions)
        t = time.perf_counter()
        for _ in range(n):
            self.i += 1
            env.step(actions[self.i % k])
        return (time.perf_counter() - t) / n


def reset_s(task: str, seeds: int) -> tuple[float, float]:
    env = gym.make("lambench/MockOS-v0", task=task)
    cold, warm = [], []
    for s in range(seeds):
        t = time.perf_counter()
        env.reset(seed=s)
        cold.append(time.perf_counter() - t)
        env.step({"type": "open_app", "app": "Files"})
        t = time.perf_counter()
        env.reset(seed=s)
        warm.append(time.perf_counter() - t)
    return statistics.median(cold), statistics.median(warm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=30000, help="steps per environment, in interleaved blocks")
    ap.add_argument("--task", default="mail-send-report")
    ap.add_argument("--seeds", type=int, default=200)
    args = ap.parse_args()
    envs = {"cp": CartPole(), "mo": MockOS(args.task, as_text=False), "mo_text": MockOS(args.task, as_text=True)}
    for e in envs.values():  # warm up
        e.block(500)
    # Interleave blocks so that drifts of the machine's speed hit all three alike; take medians.
    blocks: dict[str, list[float]] = {k: [] for k in envs}
    for _ in range(max(1, args.steps // 1000)):
        for k, e in envs.items():
            blocks[k].append(e.block(1000))
    cp, mo, mo_text = (statistics.median(blocks[k]) for k in ("cp", "mo", "mo_text"))
    cold, warm = reset_s(args.task, args.seeds)
    print(f"CartPole-v1 step:            {cp * 1e6:8.1f} us  ({1 / cp:10,.0f} steps/s)")
    print(f"MockOS-v0 step (dict action): {mo * 1e6:8.1f} us  ({1 / mo:10,.0f} steps/s)  "
          f"ratio to CartPole {mo / cp:5.2f}x  (target <= 5x: {'ok' if mo / cp <= 5 else 'MISSED'})")
    print(f"MockOS-v0 step (JSON text):   {mo_text * 1e6:8.1f} us  ({1 / mo_text:10,.0f} steps/s)  "
          f"ratio to CartPole {mo_text / cp:5.2f}x")
    print(f"MockOS-v0 reset, first time for a seed: {cold * 1e3:6.3f} ms (median of {args.seeds})")
    print(f"MockOS-v0 reset, again (cached world):  {warm * 1e3:6.3f} ms  (target <= 1 ms: "
          f"{'ok' if warm <= 1e-3 else 'MISSED'})")


if __name__ == "__main__":
    main()
