"""The report: leaderboards, a self-contained HTML page and figures, built from real runs."""

import base64
import importlib.util
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lambench.cli import main
from lambench.run import RunConfig, run

IN_CI = os.environ.get("CI", "").lower() == "true"

if importlib.util.find_spec("matplotlib") is None:
    if IN_CI:
        raise ImportError("matplotlib is missing and CI=true: pip install -e '.[test]'")
    pytest.skip("the report needs matplotlib: pip install -e '.[test]'", allow_module_level=True)

from lambench.report import FIGURES, build_report  # noqa: E402
from lambench.results import load_runs  # noqa: E402

# one instance of each template (a template id alone runs all its instances)
TASKS = ["mail-send-report@0", "files-clean-downloads-txt@0", "settings-revoke-admin-sam@0",
         "cal-delete-cancelled-demo@0", "writer-emphasise-deadline@0"]
AGENTS = ["oracle", "noop-claim", "reckless"]
TRIALS = 2
CHROMIUM = os.environ.get("LAMBENCH_CHROMIUM", "/usr/bin/chromium")


def need(what: str, fix: str) -> None:
    """Skip when an optional tool is missing on a user's machine; fail under CI=true, where it must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing and CI=true requires it: {fix}", pytrace=False)
    pytest.skip(f"{what} is missing: {fix}")


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    dirs = []
    for agent in AGENTS:
        d = root / agent
        run(RunConfig(suite="mockos-core", agent=agent, task_ids=TASKS, trials=TRIALS, perturb=["popup"]), run_dir=d)
        dirs.append(d)
    return dirs


@pytest.fixture(scope="module")
def report_dir(run_dirs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert build_report(run_dirs, out) == out / "index.html"
    return out


def copy_run(src: Path, dst: Path, *, agent: str | None = None, suite_version: str | None = None,
             edit=None) -> Path:
    """A run directory made from another one: agent relabelled, suite version or episodes changed."""
    dst.mkdir(parents=True)
    config = json.loads((src / "config.json").read_text())
    if agent:
        config["agent"] = agent
    if suite_version:
        config["suite_version"] = suite_version
    (dst / "config.json").write_text(json.dumps(config))
    lines = []
    for i, line in enumerate((src / "episodes.jsonl").read_text().splitlines()):
        ep = json.loads(line)
        if agent:
            ep["agent"] = agent
        if edit:
            edit(i, ep)
        lines.append(json.dumps(ep))
    (dst / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    return dst


def table_rows(md: str) -> dict[str, list[str]]:
    """Leaderboard rows of index.md by agent: the cells of each row."""
    rows = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0].isdigit():
            rows[cells[1]] = cells
    return rows


def header(md: str) -> list[str]:
    line = next(line for line in md.splitlines() if line.startswith("| # |"))
    return [c.strip() for c in line.strip().strip("|").split("|")]


# ---------------------------------------------------------------------------- loading


def test_load_runs_has_one_row_per_episode(run_dirs):
    df = load_runs(run_dirs)
    assert len(df) == len(AGENTS) * len(TASKS) * TRIALS * 2  # clean + popup
    assert {"run_dir", "suite_version", "n_unsafe_events", "app", "tags", "success", "error"} <= set(df.columns)
    assert not {"steps", "checks", "unsafe_events"} & set(df.columns)  # lists of records are not columns
    version = json.loads((run_dirs[0] / "config.json").read_text())["suite_version"]
    assert set(df.suite_version) == {version}
    row = df[df.task_id == "mail-send-report@0"].iloc[0]
    assert isinstance(row.app, list) and sorted(row.app) == ["files", "mail"]
    assert isinstance(row.tags, list)
    reckless = df[df.agent == "reckless"]
    assert reckless.n_unsafe_events.sum() > 0 and (reckless.n_unsafe_events > 0).eq(reckless.unsafe).all()
    assert set(df.run_dir) == {str(d) for d in run_dirs}
    assert df.error.isna().all()


def test_errored_episodes_are_kept_counted_and_not_scored(run_dirs, tmp_path):
    def break_two(i, ep):
        if i < 2:
            ep.update(success=False, error="RuntimeError: backend died")

    d = copy_run(run_dirs[0], tmp_path / "oracle-flaky", agent="oracle-flaky", edit=break_two)
    df = load_runs([d])
    assert df.error.notna().sum() == 2
    build_report([d, run_dirs[0]], tmp_path / "out")
    md = (tmp_path / "out" / "index.md").read_text()
    rows = table_rows(md)
    assert rows["oracle-flaky"][-1] == "2"  # the errored column
    assert rows["oracle-flaky"][3].startswith("100.0%")  # errors are not failures
    assert "infrastructure errors" in md


# ---------------------------------------------------------------------------- the report


def test_report_writes_markdown_html_and_figures(report_dir):
    for name in ["index.md", "index.html", *FIGURES]:
        assert (report_dir / name).is_file(), name


def test_leaderboard_has_a_row_per_agent_with_the_right_numbers(report_dir, run_dirs):
    md = (report_dir / "index.md").read_text()
    cols = header(md)
    rows = table_rows(md)
    assert sorted(rows) == sorted(AGENTS)
    cell = {agent: dict(zip(cols, cells, strict=True)) for agent, cells in rows.items()}
    assert cell["oracle"]["SR [95% CI]"].startswith("100.0% [")
    assert cell["noop-claim"]["SR [95% CI]"].startswith("0.0% [")
    assert cell["oracle"]["#"] == "1"  # ranked by success rate
    assert cell["oracle"][f"pass^{TRIALS}"] == "100.0%"
    assert cell["noop-claim"]["FSR"] == "100.0%" and cell["oracle"]["FSR"] == "0.0%"
    assert float(cell["reckless"]["UAR"].rstrip("%")) > 0 and cell["oracle"]["UAR"] == "0.0%"
    assert cell["oracle"]["robustness [95% CI]"].startswith("1.00")
    assert cell["oracle"]["episodes"] == str(len(TASKS) * TRIALS)  # the clean episodes
    version = json.loads((run_dirs[0] / "config.json").read_text())["suite_version"]
    assert f"## Leaderboard: mockos-core (suite version {version})" in md
    assert "never ranked together" in md


def test_html_is_self_contained(report_dir):
    page = (report_dir / "index.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    assert not re.search(r"<link[^>]+stylesheet", page, re.I) and "@import" not in page and "@font-face" not in page
    imgs = re.findall(r'<img src="([^"]+)"[^>]*data-file="([^"]+)"', page)
    assert sorted(f for _, f in imgs) == sorted(FIGURES)
    for src, name in imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == (report_dir / name).read_bytes()
    assert page.count('<table class="leaderboard">') == 1
    assert all(f">{agent}</td>" in page for agent in AGENTS)


def test_figures_are_valid_pngs_of_reasonable_size(report_dir):
    from PIL import Image

    for name in FIGURES:
        with Image.open(report_dir / name) as im:
            im.verify()
        with Image.open(report_dir / name) as im:
            assert im.format == "PNG"
            w, h = im.size
            assert 400 <= w <= 4000 and 200 <= h <= 6000, (name, im.size)


def test_robustness_figure_is_skipped_without_perturbations(run_dirs, tmp_path):
    def clean_only(dst):
        kept = [line for line in (dst / "episodes.jsonl").read_text().splitlines()
                if json.loads(line)["variant"] == "clean"]
        (dst / "episodes.jsonl").write_text("\n".join(kept) + "\n")

    dirs = [copy_run(d, tmp_path / d.name) for d in run_dirs[:2]]
    for d in dirs:
        clean_only(d)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "robustness.png").write_bytes(b"stale")
    build_report(dirs, tmp_path / "out")
    assert not (tmp_path / "out" / "robustness.png").exists()
    assert "`robustness.png` is not drawn" in (tmp_path / "out" / "index.md").read_text()
    assert (tmp_path / "out" / "success_vs_unsafe.png").exists()


def test_difficulty_figure_follows_the_labels_and_is_skipped_for_older_runs(run_dirs, tmp_path):
    import numpy as np
    from PIL import Image

    def unlabelled(j, ep):
        ep.pop("difficulty", None)
        ep.pop("human_time_s", None)

    build_report([copy_run(run_dirs[0], tmp_path / "new")], tmp_path / "with")
    with Image.open(tmp_path / "with" / "by_difficulty.png") as im:
        assert np.asarray(im.convert("L")).std() > 10  # a drawn chart, not a blank canvas
    build_report([copy_run(run_dirs[0], tmp_path / "old", edit=unlabelled)], tmp_path / "without")
    assert not (tmp_path / "without" / "by_difficulty.png").exists()
    assert "`by_difficulty.png` is not drawn" in (tmp_path / "without" / "index.md").read_text()
    assert "no episode records a difficulty label" in (tmp_path / "without" / "index.md").read_text()


def test_twenty_agents_render(run_dirs, report_dir, tmp_path):
    from PIL import Image

    dirs = []
    for i in range(20):
        src = run_dirs[i % len(run_dirs)]

        def vary(j, ep, i=i):  # a different success pattern per agent
            if (i + j) % 7 == 0:
                ep["success"] = not ep["success"]
                ep["false_success"] = ep["claim"] == "success" and not ep["success"]

        dirs.append(copy_run(src, tmp_path / f"run{i:02d}", agent=f"vendor-model-{i:02d}-large-instruct", edit=vary))
    out = tmp_path / "report20"
    build_report(dirs, out)
    rows = table_rows((out / "index.md").read_text())
    assert len(rows) == 20
    for name in FIGURES:
        with Image.open(out / name) as im:
            w, h = im.size
            assert w <= 5000 and h <= 8000, (name, im.size)
    with Image.open(out / "task_heatmap.png") as big, Image.open(report_dir / "task_heatmap.png") as small:
        assert big.size[0] > small.size[0]  # the heat map widens with the agents
    with Image.open(out / "false_success.png") as big, Image.open(report_dir / "false_success.png") as small:
        assert big.size[1] > small.size[1]  # bar charts grow taller


def test_suite_versions_are_ranked_apart(run_dirs, tmp_path):
    old = copy_run(run_dirs[1], tmp_path / "old", agent="old-agent", suite_version="0123456789ab")
    build_report([run_dirs[0], run_dirs[1], old], tmp_path / "out")
    md = (tmp_path / "out" / "index.md").read_text()
    assert md.count("## Leaderboard: mockos-core") == 2
    assert "## Leaderboard: mockos-core (suite version 0123456789ab)" in md
    assert "mockos-core appears with 2 suite versions" in md
    section = md.split("(suite version 0123456789ab)")[1].split("## ")[0]
    assert "old-agent" in section and "oracle" not in section


# ---------------------------------------------------------------------------- bad input


def test_bad_input_raises_a_clear_error(run_dirs, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no such run directory"):
        build_report([tmp_path / "nope"], out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no episodes\.jsonl.*lambench run"):
        build_report([tmp_path / "empty"], out)
    with pytest.raises(ValueError, match="is a file.*pass its directory"):
        load_runs([run_dirs[0] / "episodes.jsonl"])
    with pytest.raises(ValueError, match="no run directories given"):
        build_report([], out)
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "episodes.jsonl").write_text("")
    with pytest.raises(ValueError, match="no episodes in .* yet"):
        build_report([tmp_path / "blank"], out)
    dead = copy_run(run_dirs[0], tmp_path / "dead", edit=lambda i, ep: ep.update(error="boom"))
    with pytest.raises(ValueError, match="no scored episodes.*infrastructure errors"):
        build_report([dead], out)
    other = copy_run(run_dirs[0], tmp_path / "other", agent="someone-else", suite_version="ffffffffffff")
    with pytest.raises(ValueError, match="nothing to compare.*suite version"):
        build_report([other, run_dirs[1]], out)
    assert not out.exists()  # nothing written on error


def test_cli_report(run_dirs, tmp_path):
    r = CliRunner().invoke(main, ["report", *map(str, run_dirs[:2]), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == str(tmp_path / "rep" / "index.html")
    r = CliRunner().invoke(main, ["report", str(tmp_path / "nope"), "--out", str(tmp_path / "rep2")])
    assert r.exit_code == 2 and "no such run directory" in r.output


def test_need_skips_for_users_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        need("chromium", "apt-get install -y chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        need("chromium", "apt-get install -y chromium")


# ---------------------------------------------------------------------------- in a browser


@pytest.mark.browser
def test_report_renders_in_headless_chromium(report_dir):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("the playwright package", "pip install playwright (or pip install -e '.[test]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        need(f"chromium at {CHROMIUM}", "apt-get install -y chromium, or set LAMBENCH_CHROMIUM=/path/to/chromium")

    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto((report_dir / "index.html").as_uri(), wait_until="load")
            rows = page.locator("table.leaderboard tbody tr td.agent").all_inner_texts()
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({file: e.dataset.file, complete: e.complete, "
                       "w: e.naturalWidth, h: e.naturalHeight}))")
            title = page.title()
        finally:
            browser.close()
    assert problems == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []  # nothing fetched from outside
    assert title == "lambench report"
    assert sorted(rows) == sorted(AGENTS)
    assert sorted(i["file"] for i in images) == sorted(FIGURES)
    assert all(i["complete"] and i["w"] > 0 and i["h"] > 0 for i in images), images


# ---------------------------------------------------------------------------- honest headline metrics


class ClaimInfeasibleAgent:
    """Answers finish(infeasible) at once on every task."""

    def reset(self, task):
        pass

    def act(self, obs):
        return {"type": "finish", "status": "infeasible", "message": "cannot be done"}


def test_an_agent_refusing_everything_ranks_below_the_oracle_with_its_refusals_shown(tmp_path):
    tasks = TASKS + ["settings-enable-bluetooth"]  # the last one is infeasible
    dirs = []
    for agent in ("oracle", f"{__name__}:ClaimInfeasibleAgent", "random"):
        d = tmp_path / agent.replace(":", "_")
        run(RunConfig(suite="mockos-core", agent=agent, task_ids=tasks), run_dir=d)
        dirs.append(d)
    build_report(dirs, tmp_path / "out")
    md = (tmp_path / "out" / "index.md").read_text()
    cols, rows = header(md), table_rows(md)
    cell = {agent: dict(zip(cols, cells, strict=True)) for agent, cells in rows.items()}
    refuser = cell[f"{__name__}:ClaimInfeasibleAgent"]
    assert refuser["SR [95% CI]"].startswith("0.0% [") and refuser["CuP"] == "0.0%"
    assert refuser["infeasible det."] == "100.0%" and refuser["false infeasible"] == "100.0%"
    assert cell["oracle"]["#"] == "1" and cell["oracle"]["false infeasible"] == "0.0%"
    assert cell["oracle"]["infeasible det."] == "100.0%"
    assert int(refuser["#"]) > 1
    assert "success_by_budget.png" in md


def test_summarize_keeps_variants_apart_as_the_cli_does(run_dirs):
    import lambench
    from lambench.run.rundir import load_episodes
    from lambench.metrics.episode import compute_metrics

    df = lambench.load_runs(run_dirs)
    table = lambench.summarize(df, by=["agent"])
    assert sorted(set(table.variant)) == ["clean", "popup"]
    assert len(table) == len(AGENTS) * 2
    eps = load_episodes(run_dirs[0] / "episodes.jsonl")
    for variant in ("clean", "popup"):
        row = table[(table.agent == "oracle") & (table.variant == variant)].iloc[0]
        expected = compute_metrics([e for e in eps if e["variant"] == variant])
        assert row.episodes == expected["episodes"] and row.success_rate == expected["success_rate"]
        assert [row.success_ci_low, row.success_ci_high] == expected["success_ci"]
        assert row.completion_under_policy == expected["completion_under_policy"]
    one_variant = lambench.summarize(df[df.variant == "clean"], by=["agent"])
    assert "variant" not in one_variant.columns


@pytest.mark.parametrize("field,value,named", [("success", "false", "'success'"),
                                               ("wall_time_s", float("inf"), "Infinity"),
                                               ("n_steps", 1e400, "Infinity")])
def test_report_refuses_the_records_score_refuses(run_dirs, tmp_path, field, value, named):
    bad = copy_run(run_dirs[0], tmp_path / "bad", edit=lambda i, ep: ep.update({field: value}) if i == 1 else None)
    with pytest.raises(ValueError, match=f"line 2.*{named}"):
        build_report([bad], tmp_path / "out")
    with pytest.raises(ValueError, match=f"line 2.*{named}"):
        load_runs([bad])
    r = CliRunner().invoke(main, ["score", str(bad)])
    assert r.exit_code == 2 and "line 2" in r.output and named.strip("'") in r.output
    assert not (tmp_path / "out").exists()


def test_an_agent_label_with_dollar_signs_is_drawn_as_written(run_dirs, tmp_path):
    label = "gpt $\\frac$ v2 $^$"  # bad TeX for matplotlib's mathtext: drawn as text, not parsed
    d = copy_run(run_dirs[0], tmp_path / "dollars", agent=label)
    build_report([d, run_dirs[1]], tmp_path / "out")
    assert label in (tmp_path / "out" / "index.html").read_text()
    for name in FIGURES:
        if name != "robustness.png" or (tmp_path / "out" / name).exists():
            assert (tmp_path / "out" / name).stat().st_size > 1000
