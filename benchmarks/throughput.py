"""Episodes per second of the oracle over mockos-core: 1 against 2 local workers, and Ray against local.

Each configuration runs the whole suite (--trials seeds of every task) into a fresh run directory
through ``lambench.run.run``, as ``lambench run`` does; the configurations are interleaved and
repeated (--repeat), and the median rate is compared.  The rate is the steady one: episodes
finished after the first, over the time from the first finished episode to the last.  One-time
start-up (loading the suite, starting worker processes, ``ray.init`` and Ray's workers) is
excluded from the rate and reported on its own.

Targets (issue "scale-out on Ray"): 2 local workers >= 1.7x one; the Ray executor >= 0.8x the
local one with the same workers.

    python benchmarks/throughput.py [--trials 20] [--repeat 3] [--workers 2] [--no-ray]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one_run(executor: str, workers: int, trials: int, tmp: Path) -> tuple[float, float, int]:
    """(start-up s, steady episodes/s, episodes) of one run of the whole suite."""
    from lambench.run import RunConfig, run

    stamps: list[float] = []
    t0 = time.perf_counter()
    res = run(RunConfig(suite="mockos-core", agent="oracle", trials=trials, workers=workers, executor=executor),
              run_dir=tempfile.mkdtemp(dir=tmp), on_progress=lambda rec: stamps.append(time.perf_counter()))
    if res.summary["metrics"]["success_rate"] != 1.0 or res.summary["metrics"]["errored"]:
        raise SystemExit(f"{executor}/{workers}: the oracle did not solve every episode: {res.summary['metrics']}")
    return stamps[0] - t0, (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20, help="seeds per task (65 tasks each)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each configuration, interleaved")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-ray", action="store_true", help="local executor only")
    args = ap.parse_args()

    configs = [("local", 1), ("local", args.workers)] + ([] if args.no_ray else [("ray", args.workers)])
    ray_note = ""
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_ray:
            import ray

            from lambench.executors import connect_ray
            from lambench.run import RunConfig, run

            t = time.perf_counter()
            connect_ray(None, workers=args.workers)
            init_s = time.perf_counter() - t
            t = time.perf_counter()  # Ray starts its worker processes on first use: warm them up
            run(RunConfig(suite="mockos-core", agent="oracle", workers=args.workers, executor="ray"),
                run_dir=tempfile.mkdtemp(dir=tmp))
            warm_s = time.perf_counter() - t
            ray_note = (f"Ray {ray.__version__} start-up, excluded from the rates: ray.init (a local instance) "
                        f"{init_s:.2f} s, then a first run of the suite with worker start-up {warm_s:.2f} s")
        results: dict[tuple[str, int], list[tuple[float, float, int]]] = {c: [] for c in configs}
        for _ in range(args.repeat):
            for ex, w in configs:
                results[(ex, w)].append(one_run(ex, w, args.trials, Path(tmp)))

    print(f"lambench throughput — {date.today().isoformat()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, {platform.machine()}")
    n = results[configs[0]][0][2]
    print(f"oracle over mockos-core, {n} episodes per run ({args.trials} seeds x 65 tasks), "
          f"{args.repeat} runs per configuration")
    rate = {}
    for (ex, w), runs in results.items():
        rates = [r[1] for r in runs]
        rate[(ex, w)] = statistics.median(rates)
        print(f"  {ex:5} {w} worker{'s' if w > 1 else ' '}: {rate[(ex, w)]:7.1f} episodes/s (median; runs "
              f"{', '.join(f'{r:.0f}' for r in rates)}), start-up to the first episode "
              f"{statistics.median(r[0] for r in runs):.2f} s")
    if ray_note:
        print(f"  {ray_note}")
    par = rate[("local", args.workers)] / rate[("local", 1)]
    print(f"local {args.workers} workers / 1 worker: {par:.2f}x  (target >= 1.7x: {'ok' if par >= 1.7 else 'MISSED'})")
    if not args.no_ray:
        vs = rate[("ray", args.workers)] / rate[("local", args.workers)]
        print(f"ray / local, {args.workers} workers: {vs:.2f}x  (target >= 0.8x: {'ok' if vs >= 0.8 else 'MISSED'})")


if __name__ == "__main__":
    main()
