"""Harness overhead: how much of a run's wall time is not the agent's.

The agent (``benchmarks/sleepy.py``) is the oracle sleeping 100 ms before each action, as if waiting
on a model.  The whole mockos-core suite runs through ``lambench.run.run`` (as ``lambench run``
does, writing a real run directory); the agent's time is the sum of the steps' ``latency_s`` (the
time inside ``act``: the sleeps and the oracle's own choice), and the harness overhead is

    overhead = wall time of the run - agent time,  as a percentage of the wall time.

Reported besides: the one-time start-up (loading and validating the suite, planning, preparing the
run directory: the time to ``on_start``), the per-episode overhead (environment, checks, records
written and fsynced) and the summary at the end.

Target (issue "scale-out on Ray"): overhead <= 2% of the run.

    python benchmarks/overhead.py [--trials 1] [--sleep 0.1] [--workers 1] [--executor local]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=1, help="seeds per task (65 tasks each)")
    ap.add_argument("--sleep", type=float, default=0.1, help="seconds the agent sleeps per action")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--executor", choices=["local", "ray"], default="local")
    args = ap.parse_args()
    os.environ["LAMBENCH_BENCH_SLEEP"] = str(args.sleep)  # before any worker process starts
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

    from lambench.run import RunConfig, run

    if args.executor == "ray":  # a cluster's start-up is not the run's
        from lambench.executors import connect_ray

        connect_ray(None, workers=args.workers)
    marks: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run(RunConfig(suite="mockos-core", agent="benchmarks.sleepy:SleepyOracle", trials=args.trials,
                            workers=args.workers, executor=args.executor),
                  run_dir=Path(tmp) / "run",
                  on_start=lambda total, skipped: marks.setdefault("start", time.perf_counter()),
                  on_progress=lambda rec: marks.__setitem__("last", time.perf_counter()))
        wall = time.perf_counter() - t0
        recs = [json.loads(line) for line in (Path(tmp) / "run" / "episodes.jsonl").open()]
    if res.summary["metrics"]["success_rate"] != 1.0:
        raise SystemExit(f"the oracle did not solve every episode: {res.summary['metrics']}")
    steps = sum(r["n_steps"] for r in recs)
    agent = sum(s["latency_s"] for r in recs for s in r["steps"]) / args.workers
    overhead = wall - agent
    startup, summary = marks["start"] - t0, t0 + wall - marks["last"]
    per_episode = (overhead - startup - summary) / len(recs)
    print(f"lambench harness overhead — {date.today().isoformat()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}")
    print(f"oracle sleeping {args.sleep * 1000:.0f} ms per action over mockos-core: {len(recs)} episodes, "
          f"{steps} steps, {args.workers} worker(s), {args.executor} executor")
    print(f"  wall time of the run {wall:8.3f} s")
    per = "" if args.workers == 1 else " / workers"
    print(f"  agent time           {agent:8.3f} s  (sum of the steps' latency{per})")
    print(f"  overhead             {overhead:8.3f} s = {100 * overhead / wall:.2f}% of the run  "
          f"(target <= 2%: {'ok' if overhead / wall <= 0.02 else 'MISSED'})")
    print(f"    start-up (suite, plan, run directory) {startup:6.3f} s")
    print(f"    per episode                           {per_episode * 1000:6.2f} ms  "
          f"({per_episode / (steps / len(recs)) * 1000:.2f} ms per step)")
    print(f"    summary at the end                    {summary:6.3f} s")


if __name__ == "__main__":
    main()
