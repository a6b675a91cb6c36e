"""How fast the trajectory viewer opens a large run, against a small one measured in the same run.

Builds two real runs of the `random` agent on mockos-core (`lambench run ... --workers 2`, with observations):
a large one of --episodes episodes (each task run ceil(episodes / 65) trials: 10,010 episodes for 10,000) and a
reference of 100 episodes (50 tasks, 2 trials).  Writes each one's viewer site (`lambench view`), then opens it
in headless Chromium through Playwright from its file:// URL and times, best of --repeat:

  rows     from navigation to the first episode rows in the page (the index of every episode loaded and drawn)
  episode  from clicking an episode row to its steps shown (its detail file loaded on demand)
  filter   from choosing a task in the filter to the list redrawn

Target (issue 18): 10,000 episodes open (rows) in under 2 s.

    python benchmarks/view_load.py [--episodes 10000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("LAMBENCH_CHROMIUM", "/usr/bin/chromium")


def make_run(path: Path, *, tasks: list[str], trials: int) -> float:
    """Run the random agent (2 workers) into ``path`` unless it holds that run already; return the seconds."""
    from lambench.run import RunConfig, run

    t0 = time.perf_counter()
    if not (path / "summary.json").exists():
        run(RunConfig(suite="mockos-core", agent="random", task_ids=tasks, trials=trials, workers=2), run_dir=path)
    return time.perf_counter() - t0


def measure(browser, site: Path, repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` seconds of opening the index, an episode and a filter, each in a fresh page."""
    best = {"rows": math.inf, "episode": math.inf, "filter": math.inf}
    for _ in range(repeat):
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.perf_counter()
        page.goto(site.resolve().as_uri() + "/index.html", wait_until="commit")
        page.wait_for_selector(".vrow.ep")
        t1 = time.perf_counter()
        task = page.eval_on_selector_all("select[name=task] option", "os => os[os.length - 1].value")
        before = page.inner_text(".count")
        t2 = time.perf_counter()
        page.select_option("select[name=task]", task)
        page.wait_for_function("b => document.querySelector('.count').textContent !== b", arg=before)
        t3 = time.perf_counter()
        page.click(".vspace > .vrow.ep >> nth=1")
        page.wait_for_selector("article.episode .step")
        t4 = time.perf_counter()
        if errors:
            raise SystemExit(f"page errors in {site}: {errors}")
        context.close()
        best = {"rows": min(best["rows"], t1 - t0), "filter": min(best["filter"], t3 - t2),
                "episode": min(best["episode"], t4 - t3)}
    return best


def site_size(site: Path) -> tuple[int, int, int]:
    data = site / "data"
    chunks = list(data.glob("c*.js"))
    return (data / "index.js").stat().st_size, len(chunks), sum(f.stat().st_size for f in chunks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", default=None, help="Keep the runs and sites here (and reuse runs found there).")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from lambench.task import load_suite
    from lambench.view import build_view

    tasks = sorted(t.id for t in load_suite("mockos-core"))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="view_load_"))
    root.mkdir(parents=True, exist_ok=True)
    sizes = {"reference": (tasks[:50], 2), "large": (tasks, math.ceil(args.episodes / len(tasks)))}
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            for name, (task_ids, trials) in sizes.items():
                ran = make_run(root / f"run-{name}", tasks=task_ids, trials=trials)
                t0 = time.perf_counter()
                build_view([root / f"run-{name}"], root / f"site-{name}")
                built = time.perf_counter() - t0
                n = len(task_ids) * trials
                results[name] = {"n": n, "ran": ran, "built": built, "size": site_size(root / f"site-{name}"),
                                 **measure(browser, root / f"site-{name}", args.repeat)}
        finally:
            browser.close()
    ref, big = results["reference"], results["large"]
    print(f"runs and sites in {root}")
    for name, r in results.items():
        idx, n_chunks, chunk_bytes = r["size"]
        print(f"{name}: {r['n']} episodes (run {r['ran']:.1f} s, site built in {r['built']:.2f} s); index.js "
              f"{idx / 1e6:.2f} MB, {n_chunks} detail files, {chunk_bytes / 1e6:.1f} MB")
    print(f"{'figure (best of ' + str(args.repeat) + ')':<34}{'100 episodes':>14}{str(big['n']) + ' episodes':>18}"
          f"{'ratio':>9}")
    for key, label in (("rows", "open: first rows drawn"), ("filter", "filter by task: list redrawn"),
                       ("episode", "open one episode: steps shown")):
        print(f"{label:<34}{ref[key] * 1000:>11.0f} ms{big[key] * 1000:>15.0f} ms{big[key] / ref[key]:>8.2f}x")
    verdict = "ok" if big["rows"] < 2.0 else "MISSED"
    print(f"target: {big['n']} episodes open in under 2 s: {big['rows']:.2f} s ({verdict})")


if __name__ == "__main__":
    main()
