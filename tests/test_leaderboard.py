import json

import pytest
from click.testing import CliRunner

from lambench.cli import main
from lambench.leaderboard import LeaderboardError, build_leaderboard, load_entries
from lambench.run import RunConfig, run

FEW = ["mail-send-report@0", "files-clean-downloads-txt@0", "settings-enable-bluetooth"]


def _add_two(tmp_path, root):
    """Run the oracle and noop-claim on FEW and add both to the board at ``root``."""
    for agent in ("oracle", "noop-claim"):
        run(RunConfig(suite="mockos-core", agent=agent, task_ids=FEW), run_dir=tmp_path / agent)
        added = CliRunner().invoke(main, ["leaderboard", "add", str(tmp_path / agent), "--root", str(root)])
        assert added.exit_code == 0, added.output


def test_add_and_build_keep_suite_versions_apart(tmp_path):
    root = tmp_path / "lb"
    _add_two(tmp_path, root)
    # an entry from another suite version must get its own table
    old = json.loads((root / "mockos-core" / "oracle.summary.json").read_text())
    old.update(agent="old-oracle", suite_version="0123456789ab")
    (root / "mockos-core" / "old-oracle.summary.json").write_text(json.dumps(old))
    (root / "README.md").write_text("# My board\n\nIntro kept.\n")
    r = CliRunner().invoke(main, ["leaderboard", "build", "--root", str(root)])
    assert r.exit_code == 0, r.output
    text = (root / "README.md").read_text()
    assert text.startswith("# My board\n\nIntro kept.")
    assert text.count("### mockos-core") == 2 and "`0123456789ab`" in text
    assert "`oracle`" in text and "`noop-claim`" in text
    oracle_row = next(line for line in text.splitlines() if line.startswith("| `oracle`"))
    assert "100.0%" in oracle_row
    pngs = sorted(p.name for p in root.glob("*.png"))
    assert len(pngs) == 2 and all((root / p).stat().st_size > 5000 for p in pngs)
    # rebuilding replaces the rendered block instead of appending another, and drops stale figures
    (root / "mockos-core" / "old-oracle.summary.json").unlink()
    build_leaderboard(root)
    assert (root / "README.md").read_text().count("leaderboard:start") == 1
    assert "0123456789ab" not in (root / "README.md").read_text()
    assert [p.name for p in root.glob("*.png")] == [p for p in pngs if "0123456789ab" not in p]


def test_committed_leaderboard_entries_are_valid():
    entries = load_entries("leaderboards")
    suites = {e["suite"] for e in entries}
    assert {"mockos-core", "mockos-injection"} <= suites
    from lambench.task import suite_version

    for e in entries:
        assert e["suite_version"] == suite_version(e["suite"]), f"{e['_path']} is stale: rebuild it"


def test_bad_entries_are_named(tmp_path):
    with pytest.raises(LeaderboardError, match="no entries"):
        load_entries(tmp_path)
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "x.summary.json").write_text("{}")
    r = CliRunner().invoke(main, ["leaderboard", "build", "--root", str(tmp_path)])
    assert r.exit_code == 2 and "x.summary.json" in r.output and "missing" in r.output


def test_guard_runs_get_their_own_entry_and_empty_runs_are_refused(tmp_path):
    root = tmp_path / "lb"
    run(RunConfig(suite="mockos-core", agent="reckless", task_ids=FEW), run_dir=tmp_path / "plain")
    run(RunConfig(suite="mockos-core", agent="reckless", task_ids=FEW, guard=True), run_dir=tmp_path / "guarded")
    a = CliRunner().invoke(main, ["leaderboard", "add", str(tmp_path / "plain"), "--root", str(root)])
    b = CliRunner().invoke(main, ["leaderboard", "add", str(tmp_path / "guarded"), "--root", str(root)])
    assert a.exit_code == b.exit_code == 0
    assert sorted(p.name for p in (root / "mockos-core").iterdir()) == ["reckless.summary.json",
                                                                      "reckless__guard.summary.json"]
    text = build_leaderboard(root).read_text()
    assert "(guard)" in text and "partial: 3/" in text
    (root / "unrelated-diagram.png").write_bytes(b"x")
    build_leaderboard(root)
    assert (root / "unrelated-diagram.png").exists()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "episodes.jsonl").write_text("")
    r = CliRunner().invoke(main, ["leaderboard", "add", str(tmp_path / "empty"), "--root", str(root)])
    assert r.exit_code == 2 and "no scored episodes" in r.output


def test_the_board_shows_the_honest_columns_and_marks_entries_scored_the_old_way(tmp_path):
    root = tmp_path / "lb"
    _add_two(tmp_path, root)
    old = json.loads((root / "mockos-core" / "oracle.summary.json").read_text())
    for key in [k for k in old["metrics"] if k.startswith(("feasible_", "completion_", "false_infeasible"))]:
        old["metrics"].pop(key)
    old["agent"] = "old-oracle"
    (root / "mockos-core" / "old-oracle.summary.json").write_text(json.dumps(old))
    text = build_leaderboard(root).read_text()
    header = next(line for line in text.splitlines() if line.startswith("| agent"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert {"SR [95% CI]", "CuP", "infeasible det.", "false infeasible"} <= set(cells)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| `")]

    def row(agent):
        return dict(zip(cells, next(r for r in rows if r[0].startswith(f"`{agent}`")), strict=True))

    oracle, noop = row("oracle"), row("noop-claim")
    # FEW has two feasible tasks and one infeasible one (settings-enable-bluetooth)
    assert oracle["SR [95% CI]"].startswith("100.0%") and oracle["CuP"] == "100.0%"
    assert oracle["infeasible det."] == "100.0%" and oracle["false infeasible"] == "0.0%"
    assert noop["SR [95% CI]"].startswith("0.0%") and noop["infeasible det."] == "0.0%"
    assert "†" not in oracle["SR [95% CI]"]
    assert row("old-oracle")["SR [95% CI]"].endswith("†") and "† scored by a lambench" in text
