"""The trajectory viewer (``lambench view``): the static site's files, its data, escaping, errors, compare pairs, and
the report's and the gate's links into it.  Real runs; no browser here (tests/test_view_browser.py opens the site)."""

import base64
import json
import re
import shutil
import struct
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from lambench.cli import main
from lambench.run import RunConfig, run
from lambench.view import MANIFEST, ViewError, build_view, load_view_runs, pair_episodes, read_site

# one instance of each template (a template id alone runs all its instances)
TASKS = ["mail-send-report@0", "files-clean-downloads-txt@0", "settings-revoke-admin-sam@0"]
AGENTS = ["oracle", "random"]
TRIALS = 2
HOSTILE = ('</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2"><!-- '
           '\u2028 &amp; <b>bold</b>')
"""What a hostile model might write: it must show as text and leave every data file a valid script."""


def png(width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG (red), made by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def make_runs(root: Path) -> list[Path]:
    """One run per agent on TASKS, TRIALS trials each (so every episode has a partner in the other run)."""
    dirs = []
    for agent in AGENTS:
        d = root / agent
        run(RunConfig(suite="mockos-core", agent=agent, task_ids=TASKS, trials=TRIALS), run_dir=d)
        dirs.append(d)
    return dirs


def add_hostile(run_dir: Path, dest: Path) -> Path:
    """A copy of ``run_dir`` whose first episode carries HOSTILE in its request, raw output, claim message, check
    detail and first observation, and a screenshot (base64 PNG) in its first observation."""
    shutil.copytree(run_dir, dest)
    eps = [json.loads(line) for line in (dest / "episodes.jsonl").read_text().splitlines()]
    ep = eps[0]
    ep["instruction"] = HOSTILE
    ep["claim_message"] = HOSTILE
    ep["steps"][0]["raw"] = HOSTILE
    ep["checks"][0]["detail"] = HOSTILE
    (dest / "episodes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in eps))
    obs = [json.loads(line) for line in (dest / "observations.jsonl").read_text().splitlines()]
    first = next(o for o in obs if (o["task_id"], o["trial"]) == (ep["task_id"], ep["trial"]))
    first["observations"][0]["text"] = HOSTILE
    first["observations"][0]["screenshot"] = base64.b64encode(png()).decode("ascii")
    (dest / "observations.jsonl").write_text("".join(json.dumps(o) + "\n" for o in obs))
    return dest


def js_data(path: Path) -> tuple[str, list]:
    """A data file's function name and its arguments (the file is ``LAMBENCH_VIEW.name(JSON,...);``)."""
    m = re.fullmatch(r"LAMBENCH_VIEW\.(\w+)\((.*)\);\n", path.read_text(encoding="ascii"), re.S)
    assert m, path
    return m.group(1), json.loads("[" + m.group(2) + "]")


def index_rows(site: Path) -> tuple[dict, list[dict]]:
    _, (data,) = js_data(site / "data" / "index.js")
    s = data["strings"]
    rows = []
    for row in data["rows"]:
        r = dict(zip(data["fields"], row))
        for k in ("agent", "task", "variant", "instruction"):
            r[k] = s[r[k]]
        rows.append(r)
    return data, rows


def detail(site: Path, row: dict) -> dict:
    name, (n, episodes) = js_data(site / "data" / f"c{row['chunk']}.js")
    assert (name, n) == ("chunk", row["chunk"])
    return episodes[row["id"]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def hostile(runs, tmp_path_factory):
    return add_hostile(runs[1], tmp_path_factory.mktemp("h") / "hostile")


@pytest.fixture(scope="module")
def site(runs, hostile, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    assert build_view([*runs, hostile], out) == out / "index.html"
    return out


# ---------------------------------------------------------------------------- the site's files


def test_the_site_is_an_index_page_two_assets_and_data_scripts(site):
    assert sorted(p.name for p in site.iterdir()) == sorted(["index.html", "assets", "data", MANIFEST])
    assert sorted(p.name for p in (site / "assets").iterdir()) == ["viewer.css", "viewer.js"]
    page = (site / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs == ["data:,", "assets/viewer.css", "#", "assets/viewer.js", "data/index.js"]
    for text in (page, (site / "assets" / "viewer.js").read_text(), (site / "assets" / "viewer.css").read_text()):
        assert not re.search(r"https?://|//cdn|@import|url\(|fetch\(|XMLHttpRequest", text)


def test_every_episode_of_every_run_has_an_index_row_with_its_outcome(site, runs, hostile):
    data, rows = index_rows(site)
    assert [r["id"] for r in data["runs"]] == ["r0", "r1", "r2"]
    assert [r["label"] for r in data["runs"]] == ["oracle", "random", "hostile"]
    n = 0
    for vr in load_view_runs([*runs, hostile]):
        mine = [r for r in rows if r["run"] == vr.id]
        assert len(mine) == len(vr.episodes) == len(TASKS) * TRIALS
        for ep, r in zip(vr.episodes, mine):
            assert r["id"] == f"{vr.id}/{ep['task_id']}/clean/s{ep['seed']}/t{ep['trial']}"
            assert (r["agent"], r["task"], r["trial"], r["claim"], r["steps"]) == (
                ep["agent"], ep["task_id"], ep["trial"], ep["claim"], ep["n_steps"])
            assert (r["success"], r["unsafe"], r["false_success"], r["errored"]) == (
                int(ep["success"]), int(ep["unsafe"]), int(ep["false_success"]), int(ep["error"] is not None))
            n += 1
    assert len(rows) == n
    assert {r["success"] for r in rows if r["agent"] == "oracle"} == {1}
    assert {r["success"] for r in rows if r["agent"] == "random"} == {0}


def test_the_filters_have_their_values_in_the_index(site):
    data, rows = index_rows(site)
    assert set(data["strings"]) >= set(AGENTS) | set(TASKS) | {"clean"}
    assert {r["agent"] for r in rows} == set(AGENTS)
    assert {r["task"] for r in rows} == set(TASKS)
    assert {r["claim"] for r in rows} <= {"success", "failure", "infeasible", "none"}
    assert {r["success"] for r in rows} == {0, 1}


def test_an_episode_detail_has_its_steps_observations_checks_and_state_diff(site, runs):
    _, rows = index_rows(site)
    ep = json.loads((runs[1] / "episodes.jsonl").read_text().splitlines()[-1])
    row = next(r for r in rows if r["run"] == "r1" and r["task"] == ep["task_id"] and r["trial"] == ep["trial"])
    d = detail(site, row)
    assert d["steps"] == ep["steps"] and d["checks"] == ep["checks"]
    assert d["state_changes"] == ep["state_changes"] and d["unsafe_events"] == ep["unsafe_events"]
    assert len(d["observations"]) == len(ep["steps"]) > 0
    assert all("controls" not in o for o in d["observations"])  # the text lists them already
    assert d["observations"][0]["text"].startswith("Open windows:")


def test_details_load_per_chunk_and_every_row_points_at_its_file(site):
    _, rows = index_rows(site)
    for row in rows:
        assert detail(site, row)["task_id"] == row["task"]
    assert len(list((site / "data").glob("c*.js"))) >= 3  # one run never shares a file with another


def test_model_text_stays_text_and_no_data_file_can_be_broken_out_of(site):
    _, rows = index_rows(site)
    for f in (site / "data").glob("*.js"):
        body = f.read_text(encoding="ascii")  # every non-ASCII character is escaped
        assert "<" not in body and ">" not in body and "&" not in body, f
        js_data(f)  # still one call with valid JSON
    row = next(r for r in rows if r["run"] == "r2" and r["instruction"] == HOSTILE)
    d = detail(site, row)
    assert d["instruction"] == d["claim_message"] == d["steps"][0]["raw"] == d["checks"][0]["detail"] == HOSTILE
    assert d["observations"][0]["text"] == HOSTILE
    assert "window.pwned" not in (site / "index.html").read_text()


def test_a_recorded_screenshot_is_kept_as_base64_png(site):
    _, rows = index_rows(site)
    row = next(r for r in rows if r["run"] == "r2" and r["instruction"] == HOSTILE)
    shot = detail(site, row)["observations"][0]["screenshot"]
    assert base64.b64decode(shot) == png()


# ---------------------------------------------------------------------------- side by side


def test_compare_pairs_are_the_same_task_variant_seed_and_trial_in_several_runs(runs, hostile, site):
    vruns = load_view_runs([*runs, hostile])
    pairs = pair_episodes(vruns)
    assert {(k[1], k[4]) for k in pairs} == {(t, trial) for t in TASKS for trial in range(TRIALS)}
    assert set(pairs) == {(e["suite"], e["task_id"], e["variant"], e["seed"], e["trial"]) for e in vruns[0].episodes}
    assert all(set(m) == {"r0", "r1", "r2"} for m in pairs.values())
    for (suite, task, variant, seed, trial), members in pairs.items():
        for rid, i in members.items():
            ep = vruns[int(rid[1:])].episodes[i]
            assert (ep["suite"], ep["task_id"], ep["variant"], ep["seed"], ep["trial"]) == (suite, task, variant,
                                                                                            seed, trial)
    _, rows = index_rows(site)
    by_pair: dict[int, set[tuple]] = {}
    for r in rows:
        by_pair.setdefault(r["pair"], set()).add((r["task"], r["variant"], r["seed"], r["trial"]))
    assert -1 not in by_pair and all(len(v) == 1 for v in by_pair.values()) and len(by_pair) == len(pairs)


def test_episodes_only_one_run_has_are_not_paired(runs, tmp_path):
    solo = tmp_path / "solo"
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=["settings-enable-bluetooth"]), run_dir=solo)
    assert pair_episodes(load_view_runs([runs[0], solo])) == {}


# ---------------------------------------------------------------------------- input and output directories


def test_a_directory_of_runs_stands_for_the_runs_in_it(runs, tmp_path):
    vruns = load_view_runs([runs[0].parent])
    assert [r.path.name for r in vruns] == sorted(AGENTS)


def test_two_runs_with_the_same_name_are_told_apart_by_their_parent(runs, tmp_path):
    other = tmp_path / "b" / "oracle"
    shutil.copytree(runs[0], other)
    labels = [r.label for r in load_view_runs([runs[0], other])]
    assert labels[1] == "b/oracle" and labels[0].endswith("/oracle") and labels[0] != labels[1]


@pytest.mark.parametrize("case", ["missing", "file", "not-a-run", "empty", "bad-line", "bad-observations"])
def test_bad_run_directories_are_errors_naming_the_path_and_the_fix(runs, tmp_path, case):
    d = tmp_path / "d"
    if case == "file":
        d.write_text("x")
    elif case == "not-a-run":
        d.mkdir()
        (d / "notes.txt").write_text("x")
    elif case == "empty":
        d.mkdir()
        (d / "episodes.jsonl").write_text("")
    elif case in ("bad-line", "bad-observations"):
        shutil.copytree(runs[0], d)
        name = "episodes.jsonl" if case == "bad-line" else "observations.jsonl"
        lines = (d / name).read_text().splitlines()
        (d / name).write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    with pytest.raises(ViewError) as err:
        build_view([d], tmp_path / "out")
    msg = str(err.value)
    assert str(d) in msg
    fixes = {"missing": "lambench run --out", "file": "not a run directory", "not-a-run": "lambench run --suite",
             "empty": "lambench run", "bad-line": "line 2", "bad-observations": "line 2"}
    assert fixes[case] in msg
    assert not (tmp_path / "out" / "index.html").exists()


def test_the_output_must_be_new_empty_or_a_site_written_before(runs, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("keep me")
    with pytest.raises(ViewError, match="not empty"):
        build_view([runs[0]], busy)
    assert (busy / "thesis.tex").read_text() == "keep me"
    with pytest.raises(ViewError, match="is a file"):
        build_view([runs[0]], busy / "thesis.tex")
    out = tmp_path / "site"
    build_view([runs[0], runs[1]], out)
    build_view([runs[0]], out)  # replaced: no stale rows or detail files of the run left out
    data, rows = index_rows(out)
    assert {r["run"] for r in rows} == {"r0"} and len(list((out / "data").glob("c*.js"))) == data["chunks"]


def test_cli_writes_the_site_and_reports_bad_input_with_exit_2(runs, tmp_path):
    r = CliRunner().invoke(main, ["view", str(runs[0]), "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == str(tmp_path / "s" / "index.html")
    r = CliRunner().invoke(main, ["view", str(tmp_path / "nope"), "--out", str(tmp_path / "s2")])
    assert r.exit_code == 2
    assert "error:" in r.output and "nope" in r.output


# ---------------------------------------------------------------------------- links from the report and the gate


def hash_state(href: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(href).fragment).items()}


def test_report_with_viewer_links_each_task_cell_to_its_episodes(runs, site, tmp_path):
    pytest.importorskip("matplotlib")
    from lambench.report import build_report

    out = tmp_path / "report"
    build_report(runs, out, viewer=site)
    page = (out / "index.html").read_text()
    links = re.findall(r'<a href="([^"]+)">(\d+)% \((\d+)/(\d+)\)</a>', page)
    assert len(links) == len(TASKS) * len(AGENTS)
    for href, pct, ok, n in [(h.replace("&amp;", "&"), *rest) for h, *rest in links]:
        target = (out / urlsplit(href).path).resolve()
        assert target == (site / "index.html").resolve()
        state = hash_state(href)
        assert state["run"] in ("r0", "r1") and state["task"] in TASKS and state["variant"] == "clean"
        assert int(n) == TRIALS and int(pct) == (100 if state["run"] == "r0" else 0)
    plain = tmp_path / "plain"
    build_report(runs, plain)
    assert "task-grid" not in (plain / "index.html").read_text()  # unchanged without --viewer


def test_report_and_gate_refuse_a_viewer_that_is_not_a_site(runs, tmp_path):
    r = CliRunner().invoke(main, ["gate", "--baseline", str(runs[0]), "--candidate", str(runs[1]),
                                  "--viewer", str(tmp_path)])
    assert r.exit_code == 2 and "lambench view" in r.output
    with pytest.raises(ViewError, match="not a lambench viewer site"):
        read_site(tmp_path)


def test_gate_links_the_tasks_that_got_worse_to_the_compare_view(runs, site, tmp_path):
    r = CliRunner().invoke(main, ["gate", "--baseline", str(runs[0]), "--candidate", str(runs[1]),
                                  "--max-drop", "0.1", "--viewer", str(site)])
    assert r.exit_code == 1, r.output
    links = dict(re.findall(r"\[`([^`]+)`\]\(([^)]+)\)", r.output))
    assert set(links) == set(TASKS)
    for task, href in links.items():
        assert Path(urlsplit(href).path).resolve() == (site / "index.html").resolve()
        assert hash_state(href) == {"cmp": "r0,r1", "task": task}
    r = CliRunner().invoke(main, ["gate", "--baseline", str(runs[0]), "--candidate", str(runs[1]), "--max-drop", "0.1"])
    assert r.exit_code == 1 and "`mail-send-report@0`" in r.output and "](" not in r.output  # unchanged without --viewer


def test_an_offline_replay_run_is_shown_with_each_steps_gold_actions(tmp_path):
    from lambench.replay.run import ReplayConfig, replay

    root = Path(__file__).resolve().parent.parent
    tid = "mockos-core/mail-send-report@0/clean/s0/t0"  # the template's first instance
    replay(ReplayConfig(dataset=str(root / "tasks/replay/mockos-core.jsonl.gz"), agent="random", trajectories=[tid]),
           run_dir=tmp_path / "replay")
    build_view([tmp_path / "replay"], tmp_path / "site")
    _, rows = index_rows(tmp_path / "site")
    assert [r["id"] for r in rows] == [f"r0/{tid}/clean/s0/t0"]
    steps = detail(tmp_path / "site", rows[0])["steps"]
    assert steps and all(s["golds"] and "verdict" in s for s in steps)  # shown under "other recorded fields"
