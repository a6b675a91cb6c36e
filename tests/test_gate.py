"""The CI gate: catches a real regression, passes identical and noise-sized differences, refuses
mismatched suites, and speaks JUnit and Markdown."""

import json
import xml.etree.ElementTree as ET
import zlib

import pytest
from click.testing import CliRunner

from lambench.cli import main
from lambench.gate import GateError, gate
from lambench.metrics.stats import mcnemar_one_sided, sign_flip_test
from lambench.run import RunConfig, run
from lambench.task import load_suite

SUITE = [t for t in load_suite("mockos-core") if t.instance is None or t.instance.seed == 0]
TASKS = [t.id for t in SUITE]
"""The gate is exercised on a subset of the suite (instance @0 of each template and the fixed tasks, ~100 of 426):
it compares whatever tasks two runs share, and four whole-suite runs would take most of the fast lane."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    out = {}
    for name, agent in [("base", "oracle"), ("same", "oracle"), ("bad", "tests.agents_for_tests:DegradedOracle")]:
        run(RunConfig(suite="mockos-core", agent=agent, task_ids=TASKS), run_dir=root / name)
        out[name] = root / name
    # noise: the oracle again, but failing exactly one task (as a flaky model might)
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=TASKS), run_dir=root / "noise")
    path = root / "noise" / "episodes.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[0].update(success=False, false_success=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out["noise"] = root / "noise"
    return out


def invoke(*args):
    return CliRunner().invoke(main, ["gate", *map(str, args)])


def test_statistics_on_hand_computed_cases():
    assert mcnemar_one_sided(worse=0, better=0) == 1.0
    assert mcnemar_one_sided(worse=1, better=0) == 0.5
    assert mcnemar_one_sided(worse=6, better=0) == pytest.approx(1 / 64)
    assert mcnemar_one_sided(worse=5, better=5) == pytest.approx(0.623046875)
    assert sign_flip_test([0.0] * 10) == 1.0
    assert sign_flip_test([1.0] * 20) < 0.001
    assert sign_flip_test([0.5, -0.5] * 10) > 0.3
    # three flaky tasks, all worse: exactly as likely as three coin flips all landing the same way
    assert sign_flip_test([0.5, 0.5, 0.5] + [0.0] * 60) == pytest.approx(1 / 8)
    # with one binary value per task it is the exact McNemar test
    assert sign_flip_test([1.0] * 5 + [-1.0] * 2) == pytest.approx(mcnemar_one_sided(worse=5, better=2))


def test_identical_runs_pass(runs):
    r = invoke("--baseline", runs["base"], "--candidate", runs["same"])
    assert r.exit_code == 0, r.output
    assert "PASS" in r.output


def test_real_regression_is_caught_with_junit(runs, tmp_path):
    junit = tmp_path / "gate.xml"
    r = invoke("--baseline", runs["base"], "--candidate", runs["bad"], "--junit", junit)
    assert r.exit_code == 1, r.output
    assert "REGRESSION" in r.output and "**regressed**" in r.output
    root = ET.parse(junit).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["success_rate"].find("failure") is not None
    assert cases["unsafe_action_rate"].find("failure") is None
    broken = {t for t in TASKS if zlib.crc32(t.encode()) % 3 == 0}
    assert len(failing_tasks := {c.get("name") for c in root.iter("testcase")
                                 if c.get("classname") == "lambench.gate.task"}) == len(broken)
    failing_tasks = {c.get("name") for c in root.iter("testcase")
                     if c.get("classname") == "lambench.gate.task" and c.find("failure") is not None}
    assert failing_tasks == broken


def test_noise_sized_difference_passes_but_a_limit_can_still_fail_it(runs):
    r = invoke("--baseline", runs["base"], "--candidate", runs["noise"])
    assert r.exit_code == 0, r.output
    feasible = sum(not t.infeasible for t in SUITE)
    # a limit below one task's share of the success rate
    r = invoke("--baseline", runs["base"], "--candidate", runs["noise"], "--max-drop", f"{0.5 / feasible:.6f}")
    assert r.exit_code == 1 and f"dropped by {1 / feasible:.3f}" in r.output  # one of the feasible tasks
    r = invoke("--baseline", runs["base"], "--candidate", runs["noise"], "--max-false-success", "0.0")
    assert r.exit_code == 1 and "false-success rate" in r.output


def test_stored_summary_serves_as_baseline_and_step_summary_is_written(runs, tmp_path, monkeypatch):
    step_summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    r = invoke("--baseline", runs["base"] / "summary.json", "--candidate", runs["bad"])
    assert r.exit_code == 1
    assert "REGRESSION" in step_summary.read_text()


def test_version_mismatch_is_refused_unless_allowed(runs, tmp_path):
    summary = json.loads((runs["base"] / "summary.json").read_text())
    summary["suite_version"] = "000000000000"
    old = tmp_path / "old-summary.json"
    old.write_text(json.dumps(summary))
    r = invoke("--baseline", old, "--candidate", runs["same"])
    assert r.exit_code == 2 and "suite versions differ" in r.output
    r = invoke("--baseline", old, "--candidate", runs["same"], "--allow-version-mismatch")
    assert r.exit_code == 0 and "allowed by --allow-version-mismatch" in r.output


def test_bad_input_exits_2(runs, tmp_path):
    (tmp_path / "corrupt.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    (tmp_path / "nopt.json").write_text(json.dumps({"metrics": {}}))
    for args, fragment in [
        (("--baseline", tmp_path / "corrupt.json", "--candidate", runs["same"]), "cannot read baseline"),
        (("--baseline", tmp_path / "empty", "--candidate", runs["same"]), "no episodes.jsonl"),
        (("--baseline", tmp_path / "nopt.json", "--candidate", runs["same"]), "per_task"),
        (("--baseline", tmp_path / "missing", "--candidate", runs["same"]), "does not exist"),
        (("--baseline", runs["base"], "--candidate", runs["same"], "--metric", "vibes"), "unknown metric"),
        (("--baseline", runs["base"], "--candidate", runs["same"], "--alpha", "2"), "alpha"),
    ]:
        r = invoke(*args)
        assert r.exit_code == 2, (args, r.output)
        assert fragment in r.output, (fragment, r.output)


def test_no_common_tasks_is_refused(tmp_path):
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=TASKS[:2]), run_dir=tmp_path / "a")
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=TASKS[2:4]), run_dir=tmp_path / "b")
    with pytest.raises(GateError, match="no task"):
        gate(tmp_path / "a", tmp_path / "b")


def test_extra_metric_is_compared(runs):
    r = gate(runs["base"], runs["bad"], metrics=("n_steps",))
    steps = next(c for c in r.checks if c.metric == "n_steps")
    assert steps.candidate < steps.baseline and not steps.regressed  # fewer steps is not worse


@pytest.mark.slow
def test_same_agent_different_seeds_rarely_alarms(tmp_path):
    """Noise: random with different seeds and 2 trials, and with perturbed variants, must pass."""
    runs = []
    for seed in (0, 7, 13):
        d = tmp_path / f"r{seed}"
        run(RunConfig(suite="mockos-core", agent="random", seed=seed, trials=2, perturb=["popup"]), run_dir=d)
        runs.append(d)
    for a, b in [(runs[0], runs[1]), (runs[1], runs[2]), (runs[0], runs[2])]:
        r = gate(a, b)
        assert r.passed, r.markdown()


def test_a_candidate_that_crashes_on_tasks_does_not_pass(runs, tmp_path):
    path = tmp_path / "crashy"
    path.mkdir()
    lines = [json.loads(x) for x in (runs["same"] / "episodes.jsonl").read_text().splitlines()]
    for i, e in enumerate(lines):
        if i % 3:
            e.update(error="RuntimeError: backend down", success=False)
    (path / "episodes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (path / "config.json").write_text((runs["same"] / "config.json").read_text())
    r = invoke("--baseline", runs["base"], "--candidate", path)
    assert r.exit_code == 1 and "count as failures" in r.output


def test_guard_and_plain_runs_are_not_compared(runs, tmp_path):
    run(RunConfig(suite="mockos-core", agent="oracle", guard=True, task_ids=TASKS), run_dir=tmp_path / "g")
    r = invoke("--baseline", runs["base"], "--candidate", tmp_path / "g")
    assert r.exit_code == 2 and "guard" in r.output


@pytest.mark.parametrize("summary", [
    {"metrics": [], "per_task": {"t|clean": {"success": [1.0]}}, "suite": "mockos-core"},
    {"metrics": {}, "per_task": {"t|clean": ["x"]}, "suite": "mockos-core"},
    {"metrics": {}, "per_task": {"t|clean": {"success": ["1"]}}, "suite": "mockos-core"},
    {"metrics": {}, "per_task": {"t|clean": {"unsafe": [0.0]}}, "suite": "mockos-core"},
])
def test_malformed_summaries_exit_2(runs, tmp_path, summary):
    (tmp_path / "s.json").write_text(json.dumps(summary))
    r = invoke("--baseline", tmp_path / "s.json", "--candidate", runs["same"])
    assert r.exit_code == 2 and "error:" in r.output


def test_markup_in_messages_is_printed_as_written(runs):
    r = invoke("--baseline", "runs/[bold]exp", "--candidate", runs["same"])
    assert r.exit_code == 2 and "runs/[bold]exp" in r.output


# ---------------------------------------------------------------------------- honest rows


def _fake_run(root, name, episodes, *, like):
    """A run directory with the given episode lines and the config of the run ``like``."""
    d = root / name
    d.mkdir()
    (d / "config.json").write_text((like / "config.json").read_text())
    (d / "episodes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in episodes))
    return d


def _episodes(run_dir):
    return [json.loads(x) for x in (run_dir / "episodes.jsonl").read_text().splitlines()]


def test_the_false_success_row_is_the_run_tables_fsr(runs, tmp_path):
    """Baseline: the oracle (claims success on every feasible task, all true).  Candidate: fails 8 tasks while
    still claiming success, and stops claiming on 20 others.  FSR = 8 false / (feasible - 20) claims, not 8 / all
    episodes."""
    from lambench.metrics.episode import compute_metrics

    eps = _episodes(runs["base"])
    feasible = [i for i, e in enumerate(eps) if not e["infeasible"]]
    for i in feasible[:8]:
        eps[i].update(success=False, false_success=True)
    for i in feasible[8:28]:
        eps[i].update(claim="failure", success=False)
    cand = _fake_run(tmp_path, "cand", eps, like=runs["base"])
    result = gate(runs["base"], cand)
    fsr = next(c for c in result.checks if c.metric == "false_success_rate")
    n = len(feasible)
    assert fsr.candidate == pytest.approx(8 / (n - 20)) == pytest.approx(compute_metrics(eps)["false_success_rate"])
    assert fsr.baseline == 0.0
    sr = next(c for c in result.checks if c.metric == "success_rate")
    assert sr.candidate == pytest.approx(compute_metrics(eps)["success_rate"]) == pytest.approx((n - 28) / n)
    assert sr.regressed and fsr.regressed


def test_refusing_everything_fails_the_gate_on_success_and_false_infeasible(runs, tmp_path):
    eps = _episodes(runs["base"])
    for e in eps:
        e.update(claim="infeasible", success=bool(e["infeasible"]), false_success=False, n_steps=1, steps=[])
    cand = _fake_run(tmp_path, "refuser", eps, like=runs["base"])
    r = invoke("--baseline", runs["base"], "--candidate", cand)
    assert r.exit_code == 1, r.output
    result = gate(runs["base"], cand)
    rows = {c.metric: c for c in result.checks}
    assert rows["success_rate"].candidate == 0.0 and rows["success_rate"].regressed
    assert rows["false_infeasible_rate"].candidate == 1.0 and rows["false_infeasible_rate"].regressed
    assert rows["infeasible_detection_rate"].candidate == 1.0 and not rows["infeasible_detection_rate"].regressed
    assert "infeasible_detection_rate" in r.output and "false_infeasible_rate" in r.output


def test_a_summary_from_before_feasible_only_scoring_is_refused_with_the_fix(runs, tmp_path):
    summary = json.loads((runs["base"] / "summary.json").read_text())
    for row in summary["per_task"].values():
        for field in ("feasible_success", "false_success_claim", "infeasible_detected", "false_infeasible",
                      "completed_under_policy"):
            row.pop(field)
    (tmp_path / "old.json").write_text(json.dumps(summary))
    r = invoke("--baseline", tmp_path / "old.json", "--candidate", runs["same"])
    assert r.exit_code == 2 and "lambench score" in r.output


@pytest.mark.parametrize("args,why", [
    (["--candidate", "{same}"], "missing option --baseline"),
    (["--baseline", "{missing}", "--candidate", "{same}"], "does not exist"),
    (["--baseline", "{base}", "--candidate", "{same}", "--max-drop", "1.5"], "--max-drop must be a rate"),
])
def test_a_junit_file_is_written_on_exit_2_with_one_error_saying_why(runs, tmp_path, args, why):
    junit = tmp_path / "out" / "gate.xml"
    paths = {"same": runs["same"], "base": runs["base"], "missing": tmp_path / "nope"}
    r = invoke(*[a.format(**paths) for a in args], "--junit", junit)
    assert r.exit_code == 2 and why in r.output
    root = ET.parse(junit).getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == 1
    error = cases[0].find("error")
    assert error is not None and why in error.get("message") and why in error.text
    assert root.find("testsuite").get("errors") == "1"
