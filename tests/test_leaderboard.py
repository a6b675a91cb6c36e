import json

import pytest
from click.testing import CliRunner

from lambench.cli import main
from lambench.leaderboard import LeaderboardError, build_leaderboard, load_entries
from lambench.runner import RunConfig, run

FEW = ["mail-send-report", "files-clean-downloads-txt", "settings-enable-bluetooth"]


def test_add_and_build_keep_suite_versions_apart(tmp_path):
    root = tmp_path / "lb"
    for agent in ("oracle", "noop-claim"):
        run(RunConfig(suite="mockos-core", agent=agent, task_ids=FEW), run_dir=tmp_path / agent)
        r = CliRunner().invoke(main, ["leaderboard", "add", str(tmp_path / agent), "--root", str(root)])
        assert r.exit_code == 0, r.output
    # an entry from another suite version must get its own table
    old = json.loads((root / "mockos-core" / "oracle.summary.json").read_text())
    old.update(agent="old-oracle", suite_version="0ldversion00")
    (root / "mockos-core" / "old-oracle.summary.json").write_text(json.dumps(old))
    (root / "README.md").write_text("# My board\n\nIntro kept.\n")
    r = CliRunner().invoke(main, ["leaderboard", "build", "--root", str(root)])
    assert r.exit_code == 0, r.output
    text = (root / "README.md").read_text()
    assert text.startswith("# My board\n\nIntro kept.")
    assert text.count("### mockos-core") == 2 and "`0ldversion00`" in text
    assert "`oracle`" in text and "`noop-claim`" in text
    oracle_row = next(line for line in text.splitlines() if line.startswith("| `oracle`"))
    assert "100.0%" in oracle_row
    pngs = sorted(p.name for p in root.glob("*.png"))
    assert len(pngs) == 2 and all((root / p).stat().st_size > 5000 for p in pngs)
    # rebuilding replaces the rendered block instead of appending another, and drops stale figures
    (root / "mockos-core" / "old-oracle.summary.json").unlink()
    build_leaderboard(root)
    assert (root / "README.md").read_text().count("leaderboard:start") == 1
    assert "0ldversion00" not in (root / "README.md").read_text()
    assert [p.name for p in root.glob("*.png")] == [p for p in pngs if "0ldversion00" not in p]


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
