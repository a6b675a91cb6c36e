"""How fast the mock OS shows its screen, against a real browser taking a screenshot of a page, in the same run.

  mock OS    one environment step (an action, then the observation with its 1024x768 screenshot as a uint8
             array) in the ``screenshot`` and ``som`` modes, and in ``text`` mode for reference
  browser    ``page.screenshot()`` of a page of the web app (its customers list, served on 127.0.0.1 by the web
             app's own server.py) in headless Chromium through Playwright, 1024x768 viewport, page already loaded

Target (issue 16): a mock OS step with a screenshot observation takes <= 0.1x a Playwright screenshot of an app
page on the same machine.  The figures are medians of --repeat timings (after a warm-up).

    python benchmarks/screen.py [--steps 300] [--shots 40]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("LAMBENCH_CHROMIUM", "/usr/bin/chromium")
ACTIONS = [{"type": "open_app", "app": a} for a in ("Files", "Mail", "Calendar", "Writer", "Settings")]


def mockos_step_ms(mode: str, steps: int) -> float:
    from lambench.env import LamEnv

    env = LamEnv("files-clean-downloads-txt@0", observation=mode, max_steps=10 ** 6)
    env.reset(seed=0)
    for a in ACTIONS:  # warm-up: fonts, caches
        env.step(a)
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        obs, *_ = env.step(ACTIONS[i % len(ACTIONS)])
        if mode != "text":
            assert obs["image"].shape == (768, 1024, 3)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server():
    """The web app's own server.py on a free port of 127.0.0.1 with a fresh database, until the block ends: its URL."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen([sys.executable, str(ROOT / "sandboxes/webapp/app/server.py"), "--db",
                                   f"{tmp}/app.db", "--port", str(port), "--host", "127.0.0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(10)


def browser_shot_ms(shots: int) -> float:
    from playwright.sync_api import sync_playwright

    with app_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        ctx = browser.new_context(viewport={"width": 1024, "height": 768})
        ctx.add_cookies([{"name": "lb_staff", "value": "jordan", "url": url}])  # the pages need a signed-in user
        page = ctx.new_page()
        page.goto(f"{url}/customers", wait_until="load")
        for _ in range(3):
            page.screenshot()
        times = []
        for _ in range(shots):
            t0 = time.perf_counter()
            png = page.screenshot()
            times.append(time.perf_counter() - t0)
        assert png[:4] == b"\x89PNG"
        browser.close()
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--shots", type=int, default=40)
    args = ap.parse_args()
    text = mockos_step_ms("text", args.steps)
    shot = mockos_step_ms("screenshot", args.steps)
    som = mockos_step_ms("som", args.steps)
    browser = browser_shot_ms(args.shots)
    print(f"mock OS step, text observation:        {text:8.2f} ms")
    print(f"mock OS step, screenshot observation:  {shot:8.2f} ms")
    print(f"mock OS step, som observation:         {som:8.2f} ms")
    print(f"Chromium page.screenshot() (Playwright): {browser:6.2f} ms")
    worst = max(shot, som)
    print(f"ratio mock OS screenshot step / browser screenshot: {shot / browser:.3f}x (som {som / browser:.3f}x); "
          f"target <= 0.1x: {'ok' if worst / browser <= 0.1 else 'NOT MET'}")


if __name__ == "__main__":
    main()
