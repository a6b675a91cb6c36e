"""Concurrency: do 16 episodes run at once take longer than one?

The agent (``benchmarks/sleepy.py``) is the oracle sleeping 100 ms before each action, as if waiting
on a model, on the longest task of mockos-core (18 actions).  One episode runs with one worker; then
16 episodes (16 seeds) with 16 workers; each through ``lambench.run.run``, as ``lambench run``
does, on each executor.  Measured:

  longest    the wall time of the slowest of the 16 concurrent episodes (its record's
             ``wall_time_s``: from its reset to its verdict), against the one episode's
  span       from the first of the 16 episodes' start to the last one's end (starts are the
             records' arrival minus their wall time): adds the spread of the worker processes'
             start-up
  run        the whole ``run`` call, with the one-time start-up of 16 worker processes

Target (issue "scale-out on Ray"): 16 concurrent episodes finish in at most 1.25x the time of one,
judged on ``longest`` (does running them together slow them down?); ``span`` and ``run`` are
reported besides, with their own ratios.  Ray's own start-up (``ray.init``, a warm-up run) is
excluded and reported.

    python benchmarks/concurrency.py [--episodes 16] [--sleep 0.1] [--task fw-handbook-new-edition]
                                     [--executor local|ray|both]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(executor: str, task: str, n: int, tmp: str) -> dict[str, float]:
    """One run of ``n`` seeds of ``task`` with ``n`` workers."""
    from lambench.run import RunConfig, run

    arrivals: list[tuple[float, float]] = []  # (arrival, wall time of the episode)
    t0 = time.perf_counter()
    res = run(RunConfig(suite="mockos-core", agent="benchmarks.sleepy:SleepyOracle", task_ids=[task], trials=n,
                        workers=n, executor=executor), run_dir=tempfile.mkdtemp(dir=tmp),
              on_progress=lambda rec: arrivals.append((time.perf_counter(), rec["wall_time_s"])))
    wall = time.perf_counter() - t0
    if res.summary["metrics"]["success_rate"] != 1.0 or len(arrivals) != n:
        raise SystemExit(f"{executor}: the oracle did not solve every episode: {res.summary['metrics']}")
    first_start = min(a - w for a, w in arrivals)
    return {"run": wall, "episodes": max(a for a, _ in arrivals) - first_start, "startup": first_start - t0,
            "longest": max(w for _, w in arrivals)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--sleep", type=float, default=0.1, help="seconds the agent sleeps per action")
    ap.add_argument("--task", default="fw-handbook-new-edition")
    ap.add_argument("--executor", choices=["local", "ray", "both"], default="both")
    args = ap.parse_args()
    os.environ["LAMBENCH_BENCH_SLEEP"] = str(args.sleep)  # before any worker process starts
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    executors = ["local", "ray"] if args.executor == "both" else [args.executor]

    print(f"lambench concurrency — {date.today().isoformat()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}")
    print(f"oracle sleeping {args.sleep * 1000:.0f} ms per action, task {args.task}; 1 episode with 1 worker "
          f"against {args.episodes} episodes with {args.episodes} workers")
    with tempfile.TemporaryDirectory() as tmp:
        for ex in executors:
            note = ""
            if ex == "ray":
                import ray

                from lambench.executors import connect_ray

                t = time.perf_counter()
                connect_ray(None, workers=args.episodes)
                init_s = time.perf_counter() - t
                t = time.perf_counter()  # Ray starts its worker processes on first use: warm them up
                measure("ray", args.task, args.episodes, tmp)
                note = (f"  (Ray {ray.__version__}: ray.init {init_s:.2f} s and a warm-up run "
                        f"{time.perf_counter() - t:.2f} s before, excluded)")
            one = measure(ex, args.task, 1, tmp)
            many = measure(ex, args.task, args.episodes, tmp)
            ratio = many["longest"] / one["longest"]
            print(f"{ex} executor{note}")
            print(f"  1 episode alone: {one['longest']:5.2f} s  (run {one['run']:.2f} s, "
                  f"start-up {one['startup']:.2f} s)")
            print(f"  {args.episodes} at once: longest episode {many['longest']:5.2f} s, span "
                  f"{many['episodes']:5.2f} s, run {many['run']:5.2f} s (start-up to the first episode "
                  f"{many['startup']:.2f} s)")
            print(f"  ratio to one: longest {ratio:.2f}x (target <= 1.25x: {'ok' if ratio <= 1.25 else 'MISSED'}), "
                  f"span {many['episodes'] / one['longest']:.2f}x, run {many['run'] / one['run']:.2f}x")

if __name__ == "__main__":
    main()
