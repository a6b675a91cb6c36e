"""How fast the browser sandbox resets and steps, against bare Playwright doing the same work on the host, in one run.

  reset      ``LamEnv.reset()`` of a browser task: a fresh container from the warm pool (its Chromium already
             launched), the task's database, a fresh browser context signed in, the dashboard loaded and read
  cold       the reference: a cold Chromium launch plus the first page load and read of the dashboard, (a) in the
             sandbox's own container (Playwright started, Chromium launched, a context, the page) -- the path the
             warm pool takes off a reset -- and (b) by bare Playwright on the host against the app's server.py
  step       ``LamEnv.step()`` in the ``both`` observation mode: a click on a link (the page loads), the page read
             as the labelled accessibility tree, and the 1024x768 screenshot as a uint8 array
  bare step  the reference: the same click, the same page-reading script and ``page.screenshot()`` by bare
             Playwright on the host against the host's server

Targets (issue 16): reset <= 0.5x cold; step <= 1.25x bare step.  Medians of --resets/--steps timings after a
warm-up.  Needs Docker with the lambench/browser image (``lambench sandboxes build``) and Debian's chromium.

    python benchmarks/browser.py [--resets 8] [--steps 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("LAMBENCH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"]
LINKS = ("Customers", "Dashboard")


def task():
    from lambench.task import Task

    return Task.model_validate({"id": "bench", "suite": "bench", "sandbox": "browser", "instruction": "bench",
                                "checks": [{"sql": {"query": "SELECT 1"}}], "max_steps": 500,
                                "gold": [{"type": "finish", "status": "success"}], "setup": {"user": "jordan"}})


def sandbox_figures(resets: int, steps: int) -> tuple[float, float]:
    from lambench.env import LamEnv
    from lambench.sandboxes.browser.sandbox import _pool

    t = task()
    times = []
    env = LamEnv(t)  # reset: fresh app state + page ready (the text observation, as the cold references)
    for i in range(resets + 1):
        pool = _pool()
        deadline = time.time() + 60  # a warm container ready, as between a run's episodes
        while i and not pool._ready and time.time() < deadline:
            time.sleep(0.1)
        t0 = time.perf_counter()
        env.reset(seed=i)
        if i:  # the first fills the pool
            times.append(time.perf_counter() - t0)
    env.close()
    env = LamEnv(t, observation="both")
    env.reset(seed=0)
    for i in range(4):
        env.step({"type": "click", "target": LINKS[i % 2]})
    step_times = []
    for i in range(steps):
        t0 = time.perf_counter()
        obs, _, _, _, info = env.step({"type": "click", "target": LINKS[i % 2]})
        step_times.append(time.perf_counter() - t0)
        assert info["ok"] and obs["image"].shape == (768, 1024, 3), info["error"]
    env.close()
    return statistics.median(times) * 1000, statistics.median(step_times) * 1000


def container_cold(resets: int) -> float:
    """The reset's own cold path, which the warm pool takes off it: in a started container with the app up, Playwright
    started and Chromium launched, then a context, the first page loaded and read."""
    from lambench.sandboxes.browser.sandbox import PAGE_SOURCE, _new_container
    from lambench.sandboxes.containers import Driver
    from lambench.sandboxes.webapp.sandbox import PORT

    times = []
    for i in range(resets + 1):
        c = _new_container().start()
        try:
            c.driver.request("wait_http", port=PORT, path="/health", timeout=30, wait=45)
            t0 = time.perf_counter()
            b = Driver(c, source=PAGE_SOURCE, timeout=60)
            b.request("launch", wait=60)
            snap = b.request("open", path="/", cookies={"lb_staff": "jordan"}, decor={}, wait=60)
            if i:
                times.append(time.perf_counter() - t0)
            assert snap["nodes"]
            b.close()
        finally:
            c.close()
    return statistics.median(times) * 1000


def bare_figures(resets: int, steps: int) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    from benchmarks.screen import app_server
    from lambench.sandboxes.browser.page_scripts import READ_JS

    with app_server() as url, sync_playwright() as p:
        cold = []
        for i in range(resets + 1):
            t0 = time.perf_counter()
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            ctx = browser.new_context(viewport={"width": 1024, "height": 768})
            ctx.add_cookies([{"name": "lb_staff", "value": "jordan", "url": url}])
            page = ctx.new_page()
            page.goto(url + "/", wait_until="load")
            page.evaluate(READ_JS)
            if i:
                cold.append(time.perf_counter() - t0)
            if i < resets:
                browser.close()
        for i in range(4):
            page.get_by_role("link", name=LINKS[i % 2], exact=True).click()
            page.wait_for_load_state("load")
        step_times = []
        for i in range(steps):
            t0 = time.perf_counter()
            with page.expect_navigation(wait_until="load"):
                page.get_by_role("link", name=LINKS[i % 2], exact=True).click()
            snap = page.evaluate(READ_JS)
            png = page.screenshot(type="png")
            step_times.append(time.perf_counter() - t0)
        assert png[:4] == b"\x89PNG" and snap["nodes"]
        browser.close()
    return statistics.median(cold) * 1000, statistics.median(step_times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resets", type=int, default=8)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    cold, bare = bare_figures(args.resets, args.steps)
    reset, step = sandbox_figures(args.resets, args.steps)
    inside = container_cold(args.resets)
    print(f"cold Chromium launch + first page load, in the sandbox's container: {inside:8.1f} ms")
    print(f"cold Chromium launch + first page load (bare Playwright, host): {cold:8.1f} ms")
    print(f"browser sandbox reset (warm pool, fresh context):              {reset:8.1f} ms")
    print(f"bare Playwright step (click + page read + screenshot, host):     {bare:8.1f} ms")
    print(f"browser sandbox step (LamEnv.step, observation 'both'):         {step:8.1f} ms")
    print(f"reset / cold in the container: {reset / inside:.2f}x (target <= 0.5x: "
          f"{'ok' if reset / inside <= 0.5 else 'NOT MET'})")
    print(f"reset / cold bare on the host: {reset / cold:.2f}x (target <= 0.5x: {'ok' if reset / cold <= 0.5 else 'NOT MET'})")
    print(f"step / bare step: {step / bare:.2f}x (target <= 1.25x: {'ok' if step / bare <= 1.25 else 'NOT MET'})")


if __name__ == "__main__":
    main()
