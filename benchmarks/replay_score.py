"""How fast the offline-replay scorer is, against merely reading the same JSONL with pandas.

Builds a file of already-predicted steps (the shipped mockos-core dataset replayed by the
`random` and `oracle` agents, the rows repeated to --steps lines; each line holds what a
replay run stores per step: the prediction, its object and status, the gold action with its
alternatives and the gold status), then times, in the same run:

  read     pandas.read_json(lines=True) of the file (the reference)
  score    lambench.metrics.replay.score_predictions over the rows already in memory
  file     reading the file line by line with json and scoring it (what `lambench score` does)

Targets (issue 4): score >= 100,000 steps/s, and file <= 3x read.

    python benchmarks/replay_score.py [--steps 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def predicted_rows() -> list[dict]:
    from lambench.replay.run import ReplayConfig, replay

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for agent in ("random", "oracle"):
            replay(ReplayConfig(dataset=str(ROOT / "tasks/replay/mockos-core.jsonl.gz"), agent=agent),
                   run_dir=Path(tmp) / agent)
            for line in (Path(tmp) / agent / "episodes.jsonl").open():
                ep = json.loads(line)
                for st in ep["steps"]:
                    rows.append({"trajectory_id": f"{agent}/{ep['task_id']}", "pred": st["action"],
                                 "pred_object": st["pred_object"], "pred_status": st["pred_status"],
                                 "golds": st["golds"], "gold_status": st["gold_status"]})
    return rows


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import pandas as pd

    from lambench.metrics.replay import score_predictions

    base = predicted_rows()
    rows = []
    copy = 0
    while len(rows) < args.steps:
        for r in base:
            rows.append({**r, "trajectory_id": f"{copy}/{r['trajectory_id']}"})
        copy += 1
    rows = rows[: args.steps]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predicted.jsonl"
        with open(path, "w") as fh:
            for r in rows:
                fh.write(json.dumps(r, separators=(",", ":")) + "\n")
        size_mb = path.stat().st_size / 1e6

        def read_pandas():
            return pd.read_json(path, lines=True)

        def score_memory():
            return score_predictions(rows)

        def score_file():
            with open(path) as fh:
                return score_predictions(json.loads(line) for line in fh)

        t_read, df = best_of(read_pandas, args.repeat)
        t_score, m = best_of(score_memory, args.repeat)
        t_file, m2 = best_of(score_file, args.repeat)
    assert len(df) == len(rows) and m["steps"] == m2["steps"] == len(rows)
    n = len(rows)
    print(f"{n} predicted steps ({size_mb:.1f} MB JSONL), best of {args.repeat}; SSR {m['step_success_rate']:.3f}")
    print(f"  pandas read_json      {t_read:7.3f} s  {n / t_read:>10,.0f} steps/s  (reference)")
    print(f"  score (in memory)     {t_score:7.3f} s  {n / t_score:>10,.0f} steps/s  "
          f"target >= 100,000: {'OK' if n / t_score >= 100_000 else 'MISSED'}")
    print(f"  read + score (file)   {t_file:7.3f} s  {n / t_file:>10,.0f} steps/s  "
          f"= {t_file / t_read:.2f}x the pandas read  target <= 3x: {'OK' if t_file <= 3 * t_read else 'MISSED'}")
    print(f"  score alone           = {t_score / t_read:.2f}x the pandas read")


if __name__ == "__main__":
    main()
