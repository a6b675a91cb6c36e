#!/usr/bin/env python3
"""Prove a refactoring left behaviour unchanged: the records of every suite and baseline agent, before and after.

    python scripts/compare_records.py capture DIR [--seeds 0 1] [--suite S ...] [--agent A ...]
    python scripts/compare_records.py compare BEFORE AFTER
    python scripts/compare_records.py recanonicalize DIR

``capture`` runs ``lambench run`` for every suite under ``tasks/`` (every perturbation too, where a suite's
sandbox has any, and once with ``--guard``), every built-in baseline agent and every seed, and ``lambench
replay`` for every replay dataset, with the ``lambench`` of the current checkout (``python -m lambench.cli``,
so a ``git worktree`` of an older commit captures that commit's behaviour when run from its folder). Each run's
records -- ``episodes.jsonl``, ``observations.jsonl`` and ``summary.json`` -- are written to ``DIR`` in a
canonical form: keys sorted, lines sorted, the summary recomputed by ``lambench score`` from the episodes
in a fixed order (a parallel run writes lines as episodes finish, and the bootstrap intervals depend on the
order), and the fields that measure wall time (``wall_time_s``,
``latency_s``, ``mean_wall_time_s``, ...), the run's own paths and the time it was computed dropped, and
source locations inside lambench in error texts (``.../lambench/agents/baseline.py:321``) masked: they move with
the code. ``compare`` diffs two such
captures and exits 1 when any record differs, printing the first differences.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
AGENTS = ["oracle", "random", "noop-claim", "reckless", "injection-follower"]
TIME_KEYS = ("wall", "latency", "elapsed", "duration", "created", "started", "finished", "timestamp")
DROP_KEYS = {"run_dir", "out", "path", "lambench_version", "git_commit", "python", "platform", "host", "computed"}
SOURCE_LINE = re.compile(r"(/[^\s'\"]+)?/lambench/[\w/]+\.py(:\d+|\", line \d+)")
"""A source location inside lambench in an error text: it moves with the code, not with the behaviour."""


def _timeish(key: str) -> bool:
    k = key.lower()
    return any(t in k for t in TIME_KEYS) or k.endswith("_s") and "time" in k


def canonical(value: Any) -> Any:
    """``value`` without wall times and paths, dict keys sorted (by json.dumps later)."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items() if not _timeish(k) and k not in DROP_KEYS}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, str) and "/" in value:
        return SOURCE_LINE.sub("<lambench source>", value).replace(f"{ROOT}/", "")
    return value


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(json.dumps(canonical(json.loads(line)), sort_keys=True))
    return sorted(out)


def _rescored(run_dir: Path, scratch: Path) -> dict[str, Any] | None:
    """The run's summary recomputed (``lambench score``) from its episodes in a fixed order: a parallel run
    writes its lines in the order episodes finish, and the bootstrap intervals depend on that order."""
    episodes = run_dir / "episodes.jsonl"
    if not (run_dir / "config.json").exists() or not episodes.exists():
        return None
    raw = [ln for ln in episodes.read_text().splitlines() if ln.strip()]
    raw.sort(key=lambda ln: json.dumps(canonical(json.loads(ln)), sort_keys=True))
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "config.json").write_text((run_dir / "config.json").read_text())
    (scratch / "episodes.jsonl").write_text("".join(ln + "\n" for ln in raw))
    proc = subprocess.run([sys.executable, "-m", "lambench.cli", "score", str(scratch), "--json"], cwd=ROOT,
                          capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else {"score_exit": proc.returncode,
                                                                  "score_error": proc.stderr.strip()[-300:]}


def _save(run_dir: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("episodes.jsonl", "observations.jsonl"):
        (dest / name).write_text("\n".join(_lines(run_dir / name)) + "\n")
    summary = _rescored(run_dir, run_dir.parent.parent / "_scored" / run_dir.name)
    if summary is not None:
        (dest / "summary.json").write_text(json.dumps(canonical(summary), sort_keys=True, indent=1) + "\n")


def _suites() -> list[tuple[str, str]]:
    """(suite, sandbox) of every suite folder under tasks/."""
    out = []
    for folder in sorted((ROOT / "tasks").iterdir()):
        yamls = sorted(folder.glob("*.yaml"))
        if not yamls:
            continue
        text = yamls[0].read_text()
        sandbox = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("sandbox:")),
                       "mockos")
        out.append((folder.name, sandbox))
    return out


def _perturbations() -> dict[str, list[str]]:
    """sandbox -> perturbation names, read from `lambench perturbations list --json` or the table."""
    proc = subprocess.run([sys.executable, "-c",
                           "import json; from lambench.perturb import PERTURBATIONS as P; "
                           "print(json.dumps({n: sorted(getattr(p, 'sandboxes', ['mockos'])) for n, p in P.items()}))"],
                          capture_output=True, text=True, cwd=ROOT)
    by_sandbox: dict[str, list[str]] = {}
    if proc.returncode == 0:
        for name, sandboxes in json.loads(proc.stdout).items():
            for s in sandboxes:
                by_sandbox.setdefault(s, []).append(name)
    return by_sandbox


def _lambench(args: list[str], log: Path) -> int:
    with log.open("a") as fh:
        fh.write(f"$ lambench {' '.join(args)}\n")
        fh.flush()
        return subprocess.run([sys.executable, "-m", "lambench.cli", *args], cwd=ROOT, stdout=fh,
                              stderr=subprocess.STDOUT).returncode


def capture(out: Path, seeds: list[int], suites: list[str] | None, agents: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    work = out / "_runs"
    log = out / "capture.log"
    perturbs = _perturbations()
    for suite, sandbox in _suites():
        if suites and suite not in suites:
            continue
        for agent in agents:
            for seed in seeds:
                modes: list[tuple[str, list[str]]] = [("plain", [])]
                if perturbs.get(sandbox):
                    modes.append(("perturbed", ["--perturb", ",".join(perturbs[sandbox])]))
                modes.append(("guard", ["--guard"]))
                for mode, extra in modes:
                    name = f"{suite}__{agent}__s{seed}__{mode}"
                    run_dir = work / name
                    t0 = time.time()
                    rc = _lambench(["run", "--suite", suite, "--agent", agent, "--seed", str(seed), "--out",
                                    str(run_dir), "--quiet", "--workers", "2", *extra], log)
                    print(f"{name}: exit {rc} ({time.time() - t0:.0f} s)", flush=True)
                    _save(run_dir, out / name)
                    (out / name / "exit_code").write_text(f"{rc}\n")
    replay_dir = ROOT / "tasks" / "replay"
    for dataset in sorted(replay_dir.glob("*.jsonl.gz")):
        suite = dataset.name.split(".")[0]
        if suites and suite not in suites:
            continue
        for agent in agents:
            for seed in seeds:
                name = f"replay-{suite}__{agent}__s{seed}"
                run_dir = work / name
                rc = _lambench(["replay", "--dataset", str(dataset), "--agent", agent, "--seed", str(seed),
                                "--out", str(run_dir), "--quiet"], log)
                print(f"{name}: exit {rc}", flush=True)
                _save(run_dir, out / name)
                (out / name / "exit_code").write_text(f"{rc}\n")


def recanonicalize(out: Path) -> None:
    """Write DIR's canonical records again from the raw runs kept in DIR/_runs (after changing canonical())."""
    for run_dir in sorted((out / "_runs").iterdir()):
        _save(run_dir, out / run_dir.name)


def compare(before: Path, after: Path, show: int = 5) -> int:
    names = sorted({p.relative_to(before) for p in before.rglob("*") if p.is_file() and not {"_runs", "_scored"} & set(p.parts)
                    and p.name != "capture.log"}
                   | {p.relative_to(after) for p in after.rglob("*") if p.is_file() and not {"_runs", "_scored"} & set(p.parts)
                      and p.name != "capture.log"})
    differing = 0
    lines = 0
    for rel in names:
        a, b = before / rel, after / rel
        if not a.exists() or not b.exists():
            differing += 1
            print(f"only in {'after' if not a.exists() else 'before'}: {rel}")
            continue
        ta, tb = a.read_text(), b.read_text()
        if ta == tb:
            continue
        differing += 1
        if differing <= show:
            print(f"--- {rel}")
            for line in difflib.unified_diff(ta.splitlines(), tb.splitlines(), "before", "after", n=0, lineterm=""):
                print(line[:400])
                lines += 1
                if lines > 60:
                    break
    n_records = sum(len(p.read_text().splitlines()) for p in before.rglob("episodes.jsonl")
                    if not {"_runs", "_scored"} & set(p.parts))
    print(f"{len(names)} files compared ({n_records} episode records before); {differing} differ")
    return 1 if differing else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    cap = sub.add_parser("capture", help="run every suite and baseline agent; write canonical records to DIR")
    cap.add_argument("dir", type=Path)
    cap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    cap.add_argument("--suite", action="append", dest="suites")
    cap.add_argument("--agent", action="append", dest="agents")
    cmp_ = sub.add_parser("compare", help="diff two captures; exit 1 when they differ")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    rec = sub.add_parser("recanonicalize", help="rewrite DIR's canonical records from the raw runs in DIR/_runs")
    rec.add_argument("dir", type=Path)
    args = ap.parse_args()
    if args.cmd == "recanonicalize":
        recanonicalize(args.dir)
        return 0
    if args.cmd == "capture":
        capture(args.dir.resolve(), args.seeds, args.suites, args.agents or AGENTS)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
