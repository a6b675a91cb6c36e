"""The trajectory viewer in a real headless Chromium (Playwright): filtering, opening an episode, hostile model text,
a screenshot, following a link from the report, the compare view; no console error and no request outside the site,
opened from file:// and served by a real ``python -m http.server``."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from lambench.view import build_view
from tests.test_report import CHROMIUM, need
from tests.test_view import HOSTILE, TASKS, TRIALS, add_hostile, make_runs

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("the playwright package", "pip install playwright (or pip install -e '.[test]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        need(f"chromium at {CHROMIUM}", "apt-get install -y chromium, or set LAMBENCH_CHROMIUM=/path/to/chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    oracle, rnd = make_runs(root)
    return [oracle, rnd, add_hostile(rnd, root / "hostile")]


@pytest.fixture(scope="module")
def site(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "view"
    build_view(runs, out)
    return out


class Page:
    """A page that records every request, console error and page error (and any dialog a script opens)."""

    def __init__(self, browser):
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def rows(self) -> list[dict]:
        return self.page.eval_on_selector_all(".vspace > .vrow.ep", "els => els.map(e => ({id: e.dataset.id, "
                                              "cells: [...e.children].map(c => c.textContent)}))")

    def count(self) -> str:
        return self.page.inner_text(".count")

    def outside(self, root: str) -> list[str]:
        return [u for u in self.requests if not u.startswith(root)]


@contextmanager
def opened(browser):
    page = Page(browser)
    try:
        yield page
    finally:
        page.page.close()


def test_filtering_the_index_narrows_the_rows_and_keeps_the_state_in_the_url(browser, site):
    root = site.resolve().as_uri() + "/"
    with opened(browser) as p:
        p.page.goto(root + "index.html")
        p.page.wait_for_selector(".vrow.ep")
        total = 3 * len(TASKS) * TRIALS
        assert p.count() == f"{total} of {total} episodes"
        p.page.select_option("select[name=agent]", "oracle")
        assert p.count() == f"{len(TASKS) * TRIALS} of {total} episodes"
        assert {r["cells"][0] for r in p.rows()} == {"oracle"}
        p.page.select_option("select[name=agent]", "")
        p.page.select_option("select[name=unsafe]", "1")
        unsafe = p.rows()
        assert unsafe and all(r["cells"][7] == "yes" and r["cells"][0] == "random" for r in unsafe)
        p.page.select_option("select[name=unsafe]", "")
        p.page.fill("input[name=q]", "SAM")  # search is case-insensitive, over task, agent, request, ...
        assert {r["cells"][2] for r in p.rows()} == {"settings-revoke-admin-sam@0"}
        assert "q=SAM" in p.page.url
        # the state lives in the hash: a link opens the same filtered view
        p.page.goto(root + "index.html#task=mail-send-report@0&success=0&run=r1")
        p.page.wait_for_selector(".vrow.ep")
        assert [r["id"].split("/")[:2] for r in p.rows()] == [["r1", "mail-send-report@0"]] * TRIALS
        assert p.page.input_value("select[name=task]") == "mail-send-report@0"
        assert p.problems == [] and p.outside(root) == []


def test_opening_an_episode_loads_its_chunk_and_shows_every_step(browser, site):
    root = site.resolve().as_uri() + "/"
    with opened(browser) as p:
        p.page.goto(root + "index.html#run=r1&task=files-clean-downloads-txt@0")
        p.page.wait_for_selector(".vrow.ep")
        assert not [u for u in p.requests if "/data/c" in u]  # nothing of the details is loaded up front
        first = p.rows()[0]["id"]
        p.page.click(f".vrow.ep[data-id='{first}']")
        p.page.wait_for_selector("article.episode")
        assert "#ep=" in p.page.url
        article = p.page.locator("article.episode")
        n_steps = int(article.locator("table.usage td").first.inner_text())
        assert article.locator(".step").count() == n_steps > 0
        assert article.locator(".step .observation pre.obs").first.inner_text().startswith("Open windows:")
        assert article.locator(".step pre.raw").count() == n_steps
        assert article.locator("h3", has_text="Request").count() == 1
        assert article.locator("table.checks tbody tr").count() >= 1
        assert [u for u in p.requests if "/data/c" in u] != []
        p.page.click("a.back")  # back to the filtered list
        p.page.wait_for_selector(".vrow.ep")
        assert "task=files-clean-downloads-txt%400" in p.page.url  # the hash encodes @
        assert p.problems == [] and p.outside(root) == []


def test_hostile_model_text_renders_as_text_and_the_screenshot_shows(browser, site):
    root = site.resolve().as_uri() + "/"
    with opened(browser) as p:
        p.page.goto(root + "index.html#run=r2")
        p.page.wait_for_selector(".vrow.ep")
        p.page.fill("input[name=q]", "window.pwned")  # the hostile request is searchable text
        rows = p.rows()
        assert len(rows) == 1
        p.page.click(".vrow.ep")
        p.page.wait_for_selector("article.episode .step")
        texts = p.page.eval_on_selector_all("section.request pre, pre.raw, pre.obs",
                                            "els => els.map(e => e.textContent)")
        assert texts.count(HOSTILE) == 3  # the request, the first raw output, the first observation
        assert p.page.evaluate("window.pwned") is None
        assert p.page.locator("img[src=x], b:text('bold'), article script").count() == 0
        shot = p.page.locator("img.shot")
        assert shot.count() == 1
        p.page.wait_for_function("document.querySelector('img.shot').complete")
        assert shot.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [3, 2]
        assert p.problems == []
        # the screenshot is inline data; every other request stays inside the site
        assert [u for u in p.outside(root) if not u.startswith("data:image/png;base64,")] == []


def test_following_a_report_link_opens_that_tasks_episodes(browser, runs, site, tmp_path):
    pytest.importorskip("matplotlib")
    from lambench.report import build_report

    report = tmp_path / "report"
    build_report(runs[:2], report, viewer=site)
    with opened(browser) as p:
        p.page.goto(report.resolve().as_uri() + "/index.html")
        link = p.page.locator("table.task-grid a").nth(1)  # the random agent's cell of the first task
        task = p.page.locator("table.task-grid tbody tr th").first.inner_text()
        link.click()
        p.page.wait_for_selector(".vrow.ep")
        rows = p.rows()
        assert len(rows) == TRIALS
        assert all(r["id"].startswith(f"r1/{task}/clean/") for r in rows)
        assert p.count() == f"{TRIALS} of {3 * len(TASKS) * TRIALS} episodes"
        assert p.problems == []
        report_page = report.resolve().as_uri() + "/index.html"
        assert [u for u in p.outside(site.resolve().as_uri() + "/") if u != report_page
                and not u.startswith("data:")] == []  # the report's figures are data: URIs


def test_compare_view_pairs_episodes_and_highlights_what_got_worse(browser, site):
    root = site.resolve().as_uri() + "/"
    with opened(browser) as p:
        p.page.goto(root + "index.html#cmp=r0,r1")
        p.page.wait_for_selector(".vrow.pair")
        pairs = p.page.locator(".vspace > .vrow.pair")
        assert pairs.count() == len(TASKS) * TRIALS
        assert p.page.locator(".vrow.pair.worse").count() == len(TASKS) * TRIALS  # oracle succeeded, random did not
        assert p.page.locator(".vrow.pair .badge.worse", has_text="success→failure").count() == len(TASKS) * TRIALS
        pairs.first.click()
        p.page.wait_for_selector(".side-by-side .side:nth-child(2) article.episode")
        sides = p.page.locator(".side-by-side article.episode")
        assert sides.count() == 2
        assert [sides.nth(i).get_attribute("data-id").split("/")[0] for i in range(2)] == ["r0", "r1"]
        assert sides.nth(0).get_attribute("data-id").split("/", 1)[1] == sides.nth(1).get_attribute("data-id").split(
            "/", 1)[1]
        assert p.page.locator("p.diff .badge", has_text="success→failure").count() == 1
        assert p.problems == [] and p.outside(root) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_site_works_served_by_python_http_server(browser, site):
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(site)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(root, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        with opened(browser) as p:
            p.page.goto(root + "index.html#run=r0")
            p.page.wait_for_selector(".vrow.ep")
            first = p.rows()[0]["id"]
            p.page.click(f".vrow.ep[data-id='{first}']")
            p.page.wait_for_selector("article.episode .step")
            assert p.page.locator("article.episode").get_attribute("data-id") == first
            assert p.problems == [] and p.outside(root) == []
            assert any("/data/c" in u for u in p.requests)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_missing_detail_file_is_a_message_not_a_blank_page(browser, runs, tmp_path):
    out = tmp_path / "site"
    build_view(runs[:1], out)
    for f in Path(out, "data").glob("c*.js"):
        f.unlink()
    with opened(browser) as p:
        p.page.goto(out.resolve().as_uri() + "/index.html#run=r0")
        p.page.wait_for_selector(".vrow.ep")
        p.page.click(".vrow.ep")
        p.page.wait_for_selector("p.error")
        assert "cannot load data/c" in p.page.inner_text("p.error")


def test_the_screens_of_an_image_mode_run_show_from_the_site(browser, tmp_path):
    """A run with --observation som: each step's screenshot is a file copied into the site, loaded from it."""
    from lambench.run import RunConfig, run

    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=["files-clean-downloads-txt@0"], observation="som"),
        run_dir=tmp_path / "run")
    root = build_view([tmp_path / "run"], tmp_path / "site").parent.resolve().as_uri() + "/"
    with opened(browser) as p:
        p.page.goto(root + "index.html")
        p.page.wait_for_selector(".vrow.ep")
        p.page.click(".vrow.ep")
        p.page.wait_for_selector("article.episode .step")
        shots = p.page.locator("img.shot")
        assert shots.count() == p.page.locator("article.episode .step").count() > 1
        p.page.wait_for_function("[...document.querySelectorAll('img.shot')].every(i => i.complete)")
        assert shots.first.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [1024, 768]
        assert p.problems == [] and p.outside(root) == []
