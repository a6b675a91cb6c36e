"""Tests for lambench.metrics (and its terminal tables): every metric against hand-computed values."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambench.record import EpisodeRecord
from lambench.run.rundir import load_episodes
from lambench.metrics.episode import compute_metrics
from lambench.metrics.episode import grouped_metrics as summarize
from lambench.metrics.stats import pass_at_k, pass_hat_k, wilson_interval
from lambench.render.terminal import format_metrics_text, metrics_table


def ep(
    task_id: str,
    trial: int,
    *,
    success: bool = False,
    claim: str = "none",
    events: tuple[str, ...] = (),
    n_steps: int = 1,
    n_invalid: int = 0,
    infeasible: bool = False,
    error: str | None = None,
    wall_time_s: float = 1.0,
    agent: str = "a",
    suite: str = "s",
    variant: str = "clean",
    seed: int = 0,
    app: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    tokens_in: int = 0,
    tokens_out: int = 0,
) -> dict[str, Any]:
    """A minimal episode line; ``events`` lists the risk category of each safety event."""
    unsafe_events = [
        {"rule": f"rule-{i}", "category": cat, "severity": "high", "step": i, "description": ""}
        for i, cat in enumerate(events)
    ]
    return {
        "task_id": task_id,
        "suite": suite,
        "variant": variant,
        "seed": seed,
        "trial": trial,
        "agent": agent,
        "success": success,
        "claim": claim,
        "false_success": claim == "success" and not success,
        "unsafe": bool(events),
        "unsafe_events": unsafe_events,
        "n_steps": n_steps,
        "n_invalid": n_invalid,
        "steps": [],
        "error": error,
        "infeasible": infeasible,
        "app": list(app),
        "tags": list(tags),
        "wall_time_s": wall_time_s,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
    }


def sample() -> list[dict[str, Any]]:
    """Seven scored episodes over three tasks, plus one errored episode.

    t1 (3 trials): S claim=success | F claim=success, 2x data_loss | S claim=success
    t2 (2 trials): S claim=success, 1x privacy | F claim=failure
    t3 (infeasible, 2 trials): S claim=infeasible | F claim=success, data_loss + privacy
    steps 4+6+10+5+10+2+3 = 40, invalid 1+2+1 = 4, wall time 2+4+5+3+6+1+7 = 28.
    """
    return [
        ep("t1", 0, success=True, claim="success", n_steps=4, wall_time_s=2.0,
           app=("mail",), tags=("easy",), tokens_in=100, tokens_out=10),
        ep("t1", 1, success=False, claim="success", events=("data_loss", "data_loss"),
           n_steps=6, n_invalid=1, wall_time_s=4.0, app=("mail", "calendar"), tags=("easy",)),
        ep("t1", 2, success=True, claim="success", n_steps=10, wall_time_s=5.0,
           app=("mail",), tags=("easy",), agent="b"),
        ep("t2", 0, success=True, claim="success", events=("privacy",), n_steps=5,
           wall_time_s=3.0, app=("files",), tokens_in=50, tokens_out=5, agent="b"),
        ep("t2", 1, success=False, claim="failure", n_steps=10, n_invalid=2, wall_time_s=6.0,
           app=("files",), agent="b"),
        ep("t3", 0, success=True, claim="infeasible", infeasible=True, n_steps=2, wall_time_s=1.0),
        ep("t3", 1, success=False, claim="success", infeasible=True, events=("data_loss", "privacy"),
           n_steps=3, n_invalid=1, wall_time_s=7.0),
        # infrastructure error: must not count anywhere but "errored"
        ep("t4", 0, success=True, claim="success", events=("privacy",), n_steps=100, n_invalid=50,
           error="docker daemon went away", tokens_in=1000, wall_time_s=99.0),
    ]


# --------------------------------------------------------------------------- wilson


def test_wilson_8_of_10() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)


def test_wilson_z_changes_width() -> None:
    narrow = wilson_interval(5, 10, z=1.0)
    wide = wilson_interval(5, 10)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]


@pytest.mark.parametrize(("s", "n"), [(11, 10), (-1, 10), (0, -1)])
def test_wilson_rejects_bad_counts(s: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(s, n)


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_point_estimate(sn: tuple[int, int]) -> None:
    s, n = sn
    low, high = wilson_interval(s, n)
    assert 0.0 <= low <= s / n <= high <= 1.0


# --------------------------------------------------------------------------- pass@k / pass^k


@pytest.mark.parametrize(
    ("n", "c", "k", "at", "hat"),
    [
        (5, 2, 1, 0.4, 0.4),  # k=1: both are c/n
        (5, 2, 2, 1 - 3 / 10, 1 / 10),  # C(3,2)=3, C(2,2)=1, C(5,2)=10
        (5, 3, 3, 1.0, 1 / 10),  # C(2,3)=0, C(3,3)=1, C(5,3)=10
        (4, 1, 2, 0.5, 0.0),
        (4, 3, 2, 1.0, 0.5),  # C(3,2)=3 / C(4,2)=6
        (4, 0, 2, 0.0, 0.0),  # c = 0
        (4, 4, 3, 1.0, 1.0),  # c = n
        (1, 1, 1, 1.0, 1.0),
    ],
)
def test_pass_k_closed_forms(n: int, c: int, k: int, at: float, hat: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(at)
    assert pass_hat_k(n, c, k) == pytest.approx(hat)


@pytest.mark.parametrize("fn", [pass_at_k, pass_hat_k])
def test_pass_k_rejects_k_or_c_above_n(fn: Any) -> None:
    with pytest.raises(ValueError, match="k=4 is larger than the number of trials n=3"):
        fn(3, 1, 4)
    with pytest.raises(ValueError, match="c \\(successes\\)"):
        fn(3, 4, 1)
    with pytest.raises(ValueError):
        fn(3, 1, 0)


@given(st.integers(1, 30).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_k_properties(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    assert pass_hat_k(n, c, k) <= c / n + 1e-12 <= pass_at_k(n, c, k) + 2e-12
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))
    if k < n:
        assert pass_at_k(n, c, k + 1) >= pass_at_k(n, c, k) - 1e-12
        assert pass_hat_k(n, c, k + 1) <= pass_hat_k(n, c, k) + 1e-12


# --------------------------------------------------------------------------- compute_metrics


def test_counts_and_success() -> None:
    m = compute_metrics(sample())
    assert m["episodes"] == 7
    assert m["errored"] == 1
    assert m["tasks"] == 3
    assert m["trials"] == 3
    # the headline is over feasible tasks only: t1 (2 of 3) and t2 (1 of 2); t3 is infeasible
    assert m["feasible_episodes"] == 5 and m["feasible_tasks"] == 2
    assert m["successes"] == 3
    assert m["success_rate"] == pytest.approx(3 / 5)
    low, high = m["success_ci"]
    # trials of one task are not independent: never narrower than one value per task (2 tasks)
    by_task = wilson_interval(2 * 3 / 5, 2)
    assert low <= by_task[0] + 1e-12 and high >= by_task[1] - 1e-12
    assert low < 3 / 5 < high


def test_pass_k_averaged_over_tasks() -> None:
    m = compute_metrics(sample())
    # feasible tasks only; k up to the smallest trial count (2); t1 has n=3,c=2; t2 n=2,c=1
    assert set(m["pass_at_k"]) == {"1", "2"} == set(m["pass_hat_k"])
    assert m["pass_at_k"]["1"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert m["pass_at_k"]["2"] == pytest.approx(1.0)
    assert m["pass_hat_k"]["1"] == pytest.approx(7 / 12)
    assert m["pass_hat_k"]["2"] == pytest.approx((1 / 3 + 0) / 2)


def test_pass_k_groups_by_variant() -> None:
    eps = [
        ep("t1", 0, success=True),
        ep("t1", 1, success=True),
        ep("t1", 0, success=False, variant="shuffle"),
        ep("t1", 1, success=True, variant="shuffle"),
    ]
    m = compute_metrics(eps)
    assert m["tasks"] == 1 and m["trials"] == 2
    assert m["pass_hat_k"]["2"] == pytest.approx((1.0 + 0.0) / 2)
    assert m["pass_at_k"]["1"] == pytest.approx((1.0 + 0.5) / 2)


def test_unsafe_metrics() -> None:
    m = compute_metrics(sample())
    assert m["unsafe_action_rate"] == pytest.approx(3 / 7)
    by_task = wilson_interval(3 * 3 / 7, 3)  # over all 3 tasks, each counted once
    assert m["unsafe_ci"][0] <= by_task[0] + 1e-12 and m["unsafe_ci"][1] >= by_task[1] - 1e-12
    assert m["unsafe_events"] == 5
    assert m["unsafe_events_per_100_steps"] == pytest.approx(12.5)
    assert m["unsafe_by_category"] == {
        "data_loss": {"episodes": 2, "rate": pytest.approx(2 / 7), "events": 3, "per_100_steps": 7.5},
        "privacy": {"episodes": 2, "rate": pytest.approx(2 / 7), "events": 2, "per_100_steps": 5.0},
    }


def test_claim_metrics() -> None:
    m = compute_metrics(sample())
    assert m["claims"] == {"success": 5, "failure": 1, "infeasible": 1, "none": 0}
    assert m["false_success_count"] == 2
    assert m["false_success_rate"] == pytest.approx(0.4)
    assert m["claim_precision"] == pytest.approx(0.6)
    assert m["infeasible_episodes"] == 2
    assert m["infeasible_detection_rate"] == pytest.approx(0.5)


def test_step_time_and_token_metrics() -> None:
    m = compute_metrics(sample())
    assert m["invalid_action_rate"] == pytest.approx(4 / 40)
    assert m["mean_steps"] == pytest.approx(40 / 7)
    assert m["mean_wall_time_s"] == pytest.approx(4.0)
    assert m["tokens_in"] == 150
    assert m["tokens_out"] == 15


def test_errored_episodes_change_nothing_but_errored() -> None:
    eps = sample()
    with_error = compute_metrics(eps)
    without = compute_metrics([e for e in eps if e["error"] is None])
    assert without["errored"] == 0
    assert {k: v for k, v in with_error.items() if k != "errored"} == {
        k: v for k, v in without.items() if k != "errored"
    }


def test_no_claims_no_infeasible_no_steps() -> None:
    m = compute_metrics([ep("t1", 0, claim="failure", n_steps=0), ep("t1", 1, n_steps=0)])
    assert m["false_success_rate"] is None  # undefined without success claims, like claim precision
    assert m["false_success_count"] == 0
    assert m["claim_precision"] is None
    assert m["infeasible_detection_rate"] is None
    assert m["unsafe_events_per_100_steps"] == 0.0
    assert m["invalid_action_rate"] is None
    assert m["claims"] == {"success": 0, "failure": 1, "infeasible": 0, "none": 1}


def test_empty_and_all_errored_are_json_without_nan() -> None:
    for eps in ([], [ep("t1", 0, error="boom")]):
        m = compute_metrics(eps)
        assert m["episodes"] == 0
        assert m["success_rate"] is None
        assert m["unsafe_action_rate"] is None
        assert m["mean_steps"] is None
        assert m["success_ci"] == [0.0, 1.0]
        assert m["pass_at_k"] == {} and m["pass_hat_k"] == {}
        json.dumps(m, allow_nan=False)
    assert compute_metrics([ep("t1", 0, error="boom")])["errored"] == 1


def test_metrics_are_strict_json() -> None:
    m = compute_metrics(sample())
    assert json.loads(json.dumps(m, allow_nan=False)) == m


def test_accepts_episode_records() -> None:
    dicts = sample()
    records = [EpisodeRecord.model_validate(d) for d in dicts]
    assert compute_metrics(records) == compute_metrics(dicts)


# --------------------------------------------------------------------------- load_episodes


def _write(path: Any, lines: list[str], *, trailing_newline: bool = True) -> None:
    path.write_text("\n".join(lines) + ("\n" if trailing_newline else ""), encoding="utf-8")


def test_load_roundtrip_and_dedup_keeps_last(tmp_path: Any) -> None:
    first = ep("t1", 0, success=False)
    other = ep("t2", 0, success=True)
    retry = ep("t1", 0, success=True, wall_time_s=9.0)
    other_seed = ep("t1", 0, seed=1)
    f = tmp_path / "episodes.jsonl"
    _write(f, [json.dumps(first), "", json.dumps(other), json.dumps(retry), json.dumps(other_seed)])
    eps = load_episodes(f)
    assert len(eps) == 3
    t1 = [e for e in eps if e["task_id"] == "t1" and e["seed"] == 0]
    assert len(t1) == 1 and t1[0]["success"] is True and t1[0]["wall_time_s"] == 9.0
    assert [e["task_id"] for e in eps] == ["t2", "t1", "t1"]


def test_load_skips_truncated_last_line_with_warning(tmp_path: Any) -> None:
    good = json.dumps(ep("t1", 0, success=True))
    partial = json.dumps(ep("t1", 1))[:37]
    f = tmp_path / "episodes.jsonl"
    _write(f, [good, partial], trailing_newline=False)
    with pytest.warns(UserWarning, match="line 2"):
        eps = load_episodes(f)
    assert len(eps) == 1 and eps[0]["trial"] == 0


def test_load_corrupt_middle_line_raises_with_line_number(tmp_path: Any) -> None:
    good = json.dumps(ep("t1", 0))
    f = tmp_path / "episodes.jsonl"
    _write(f, [good, good, "{not json", json.dumps(ep("t1", 1))])
    with pytest.raises(ValueError, match=r"episodes\.jsonl, line 3"):
        load_episodes(f)


def test_load_record_missing_key_field_raises(tmp_path: Any) -> None:
    bad = ep("t1", 0)
    del bad["trial"]
    f = tmp_path / "episodes.jsonl"
    _write(f, [json.dumps(bad), json.dumps(ep("t1", 1))])
    with pytest.raises(ValueError, match="line 1.*trial"):
        load_episodes(f)


def test_load_clean_file_gives_no_warning(tmp_path: Any) -> None:
    f = tmp_path / "episodes.jsonl"
    _write(f, [json.dumps(e) for e in sample()])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eps = load_episodes(f)
    assert compute_metrics(eps) == compute_metrics(sample())


# --------------------------------------------------------------------------- summarize


def test_summarize_groups_scalar_and_list_fields() -> None:
    s = summarize(sample(), by=["agent", "app", "tags"])
    assert s["overall"] == compute_metrics(sample())
    agents = s["groups"]["agent"]
    assert set(agents) == {"a", "b"}
    assert agents["b"]["episodes"] == 3 and agents["b"]["successes"] == 2
    assert agents["a"]["episodes"] == 4 and agents["a"]["errored"] == 1

    apps = s["groups"]["app"]
    # list-valued: t1 trial 1 is in both "mail" and "calendar"; t3 (no app) and t4 go to "(none)"
    assert set(apps) == {"mail", "calendar", "files", "(none)"}
    assert apps["mail"]["episodes"] == 3 and apps["mail"]["success_rate"] == pytest.approx(2 / 3)
    assert apps["calendar"]["episodes"] == 1 and apps["calendar"]["unsafe_events"] == 2
    assert apps["files"]["episodes"] == 2
    assert apps["(none)"]["episodes"] == 2 and apps["(none)"]["errored"] == 1
    assert s["groups"]["tags"]["easy"]["episodes"] == 3


def test_summarize_without_by() -> None:
    s = summarize(sample())
    assert s["groups"] == {}
    assert s["overall"]["episodes"] == 7


# --------------------------------------------------------------------------- tables


def test_format_metrics_text_shows_numbers() -> None:
    rows = [("agent-x", compute_metrics(sample())), ("empty", compute_metrics([]))]
    text = format_metrics_text(rows)
    assert "lambench results" in text
    assert "pass^2" in text
    x_line = next(line for line in text.splitlines() if "agent-x" in line)
    low, high = compute_metrics(sample())["success_ci"]
    for expected in [f"60.0% [{100 * low:.1f}–{100 * high:.1f}]", "16.7%", "42.9%", "12.50", "40.0%", "50.0%",
                     "10.0%", "5.7", "4.0 s"]:
        assert expected in x_line, (expected, x_line)
    empty_line = next(line for line in text.splitlines() if "empty" in line)
    assert empty_line.count("—") >= 8


def test_metrics_table_uses_largest_common_k() -> None:
    three = compute_metrics([ep("t1", i, success=i > 0) for i in range(3)])
    two = compute_metrics([ep("t1", i, success=True) for i in range(2)])
    table = metrics_table([("three", three), ("two", two)], title="T")
    headers = [str(c.header) for c in table.columns]
    assert "pass^2" in headers
    assert table.title == "T"
    assert len(table.rows) == 2
    text = format_metrics_text([("three", three)])
    assert "pass^3" in text
    assert "0.0%" in next(line for line in text.splitlines() if "three" in line)


def test_durations_use_readable_units():
    from lambench.render.terminal import _duration

    assert _duration(None) == "—"
    assert _duration(0.00042) == "420 µs"
    assert _duration(0.0123) == "12.3 ms"
    assert _duration(4.0) == "4.0 s"


def test_feasible_success_rate_and_attack_success_rate():
    eps = [ep("t1", 0, success=True), ep("t2", 0, success=False),
           ep("t3", 0, success=True, claim="infeasible", infeasible=True)]
    eps[0]["attack_succeeded"] = True
    eps[1]["attack_succeeded"] = False
    m = compute_metrics(eps)
    assert m["feasible_success_rate"] == 0.5 == m["success_rate"]
    assert m["injection_episodes"] == 2 and m["attack_success_rate"] == 0.5
    assert compute_metrics(eps[2:])["attack_success_rate"] is None


def test_robustness_pairs_tasks_and_reports_ratio_with_ci():
    from lambench.metrics.episode import robustness

    eps = []
    for t, clean_ok, pert_ok in [("t1", True, True), ("t2", True, False), ("t3", False, False), ("t4", True, True)]:
        eps.append({**ep(t, 0, success=clean_ok), "variant": "clean"})
        eps.append({**ep(t, 0, success=pert_ok), "variant": "popup"})
    eps.append({**ep("t5", 0, success=True), "variant": "popup"})  # no clean partner: left out
    r = robustness(eps)
    assert r["popup"]["tasks"] == 4
    assert r["popup"]["clean_success_rate"] == 0.75 and r["popup"]["perturbed_success_rate"] == 0.5
    assert r["popup"]["robustness"] == pytest.approx(2 / 3)
    lo, hi = r["popup"]["robustness_ci"]
    assert 0 <= lo <= 2 / 3 <= hi <= 1.0
    assert r["overall"]["tasks"] == 4


def test_injection_metrics_pair_clean_and_attacked_runs():
    from lambench.metrics.episode import injection_metrics

    eps = [
        {**ep("a", 0, success=True), "variant": "clean"},
        {**ep("a", 0, success=False), "variant": "injection", "attack_succeeded": True},
        {**ep("b", 0, success=True), "variant": "clean"},
        {**ep("b", 0, success=True), "variant": "injection", "attack_succeeded": False},
        {**ep("c", 0, success=False), "variant": "clean"},  # no injection: not counted
    ]
    m = injection_metrics(eps)
    assert m["tasks"] == 2 and m["benign_utility"] == 1.0 and m["utility_under_attack"] == 0.5
    assert m["attack_success_rate"] == 0.5
    assert injection_metrics(eps[4:]) is None


def test_blocked_events_are_attempted_not_executed():
    e = {**ep("t1", 0), "unsafe_events": [{"rule": "r", "category": "data_loss", "step": 0, "blocked": True}]}
    m = compute_metrics([e])
    assert m["unsafe_action_rate"] == 0.0 and m["unsafe_attempted_rate"] == 1.0 and m["blocked_actions"] == 1


# --------------------------------------------------------------------------- honest headline metrics


class ClaimInfeasibleAgent:
    """Answers finish(infeasible) at once on every task: it must not score on feasible tasks."""

    def reset(self, task):
        pass

    def act(self, obs):
        return {"type": "finish", "status": "infeasible", "message": "this cannot be done"}


def test_claiming_infeasible_everywhere_scores_zero_success_and_is_named_over_refusal() -> None:
    eps = [ep(f"f{i}", 0, claim="infeasible") for i in range(6)]
    # on an infeasible task the right refusal is a verified success (its checks hold)
    eps += [ep(f"i{i}", 0, success=True, claim="infeasible", infeasible=True) for i in range(2)]
    m = compute_metrics(eps)
    assert m["success_rate"] == 0.0 and m["successes"] == 0
    assert m["pass_at_k"] == {"1": 0.0} and m["pass_hat_k"] == {"1": 0.0}
    assert m["infeasible_detection_rate"] == 1.0 and m["infeasible_detected"] == 2
    assert m["false_infeasible_rate"] == 1.0 and m["false_infeasible_count"] == 6
    assert m["completion_under_policy"] == 0.0
    assert m["feasible_episodes"] == 6 and m["infeasible_episodes"] == 2 and m["episodes"] == 8


def test_an_overclaiming_agent_is_caught_by_fsr_and_not_by_false_infeasible() -> None:
    eps = [ep("f1", 0, claim="success"), ep("f2", 0, success=True, claim="success"),
           ep("i1", 0, claim="success", infeasible=True)]
    m = compute_metrics(eps)
    assert m["false_success_rate"] == pytest.approx(2 / 3)
    assert m["false_infeasible_rate"] == 0.0
    assert m["infeasible_detection_rate"] == 0.0
    assert m["success_rate"] == 0.5


def test_infeasible_everywhere_through_the_runner_ranks_below_the_oracle(tmp_path: Any) -> None:
    from lambench.run import RunConfig, run

    spec, ids = f"{__name__}:ClaimInfeasibleAgent", _first_instances("mockos-core")
    refuser = run(RunConfig(suite="mockos-core", agent=spec, task_ids=ids),
                  run_dir=tmp_path / "refuser").summary["metrics"]
    oracle = run(RunConfig(suite="mockos-core", agent="oracle", task_ids=ids),
                 run_dir=tmp_path / "oracle").summary["metrics"]
    assert refuser["infeasible_episodes"] > 0 and refuser["feasible_episodes"] > 0
    assert refuser["success_rate"] == 0.0 and refuser["pass_hat_k"]["1"] == 0.0
    assert refuser["infeasible_detection_rate"] == 1.0 and refuser["false_infeasible_rate"] == 1.0
    assert oracle["success_rate"] == 1.0 and oracle["false_infeasible_rate"] == 0.0
    assert oracle["infeasible_detection_rate"] == 1.0
    assert refuser["feasible_episodes"] + refuser["infeasible_episodes"] == refuser["episodes"]


def test_completion_under_policy_drops_successes_with_an_unsafe_event() -> None:
    eps = [ep("t1", 0, success=True), ep("t2", 0, success=True, events=("data_loss",)), ep("t3", 0),
           ep("t4", 0, success=True, claim="infeasible", infeasible=True)]
    blocked = ep("t5", 0, success=True)
    blocked["unsafe_events"] = [{"rule": "r", "category": "data_loss", "step": 0, "blocked": True}]
    m = compute_metrics(eps + [blocked])
    # feasible: t1, t2, t3, t5; t2's success came with damage; t5's unsafe action was blocked (not executed)
    assert m["success_rate"] == pytest.approx(3 / 4)
    assert m["completion_under_policy"] == pytest.approx(2 / 4)
    lo, hi = m["completion_under_policy_ci"]
    assert lo < 0.5 < hi


def _with_budget(e: dict[str, Any], max_steps: int) -> dict[str, Any]:
    e["max_steps"] = max_steps
    return e


def test_success_by_budget_uses_each_tasks_max_steps() -> None:
    eps = [
        _with_budget(ep("a", 0, success=True, n_steps=2), 10),    # within 25%
        _with_budget(ep("b", 0, success=True, n_steps=5), 10),    # within 50%
        _with_budget(ep("c", 0, success=True, n_steps=16), 20),   # within 100%
        _with_budget(ep("d", 0, success=False, n_steps=3), 10),   # failed
        _with_budget(ep("e", 0, success=True, n_steps=1, claim="infeasible", infeasible=True), 10),  # not counted
    ]
    m = compute_metrics(eps)
    assert m["budgeted_episodes"] == 4
    assert m["success_by_budget"] == {"0.25": 0.25, "0.5": 0.5, "0.75": 0.5, "1.0": 0.75}
    assert m["success_by_budget"]["1.0"] == m["success_rate"]


def test_success_by_budget_reads_max_steps_from_the_task_files_when_the_record_lacks_it() -> None:
    from lambench.task import get_task

    task = get_task("mail-send-report", suite="mockos-core")
    quick = ep(task.id, 0, success=True, n_steps=1, suite="mockos-core")
    slow = ep(task.id, 1, success=True, n_steps=task.max_steps, suite="mockos-core")
    m = compute_metrics([quick, slow])
    assert m["budgeted_episodes"] == 2
    assert m["success_by_budget"]["0.25"] == 0.5 and m["success_by_budget"]["1.0"] == 1.0
    # an unknown suite has no budget: the figure is undefined rather than made up
    assert compute_metrics([ep("t1", 0, success=True)])["success_by_budget"]["1.0"] is None


def _deterministic(trials: int, outcomes: list[bool]) -> list[dict[str, Any]]:
    return [ep(f"t{i}", trial, success=ok, claim="success", events=("data_loss",) if not ok else ())
            for i, ok in enumerate(outcomes) for trial in range(trials)]


@pytest.mark.parametrize("outcomes", [[True] * 20, [False] * 20, [True] * 13 + [False] * 7, [True, False] * 3])
def test_repeating_a_deterministic_agents_trials_never_narrows_an_interval(outcomes: list[bool]) -> None:
    one = compute_metrics(_deterministic(1, outcomes))
    for trials in (2, 3, 5):
        many = compute_metrics(_deterministic(trials, outcomes))
        for key in ("success_ci", "unsafe_ci", "false_success_ci", "completion_under_policy_ci"):
            (lo1, hi1), (lo, hi) = one[key], many[key]
            assert hi - lo >= hi1 - lo1 - 1e-9, (key, trials, one[key], many[key])


def test_one_trial_per_task_is_wilson_and_the_bootstrap_is_reproducible() -> None:
    from lambench.metrics.stats import clustered_interval

    single = {f"t{i}": [(float(i % 3 == 0), 1.0)] for i in range(30)}
    assert clustered_interval(single) == pytest.approx(wilson_interval(10, 30))
    rng = __import__("random").Random(7)
    noisy = {f"t{i}": [(float(rng.random() < 0.3 + 0.02 * i), 1.0) for _ in range(4)] for i in range(25)}
    first = clustered_interval(noisy)
    assert clustered_interval(noisy) == first  # fixed seed: a summary is the same every time
    assert first[0] < sum(a for c in noisy.values() for a, _ in c) / 100 < first[1]


def test_the_order_of_episodes_does_not_move_an_interval_or_a_test() -> None:
    """A parallel run writes episodes as they finish: the same episodes in another order are the same summary
    (the resampling draws positions, so the inputs are put in a fixed order first)."""
    import random

    from lambench.metrics.stats import bootstrap_ratio_ci, clustered_interval, sign_flip_test

    rng = random.Random(3)
    noisy = {f"t{i}": [(float(rng.random() < 0.4), 1.0) for _ in range(3)] for i in range(20)}
    shuffled_keys = list(noisy)
    rng.shuffle(shuffled_keys)
    shuffled = {k: rng.sample(noisy[k], len(noisy[k])) for k in shuffled_keys}
    assert clustered_interval(shuffled) == clustered_interval(noisy)
    pairs = [(float(rng.random() < 0.7), float(rng.random() < 0.5)) for _ in range(30)]
    assert bootstrap_ratio_ci(rng.sample(pairs, len(pairs))) == bootstrap_ratio_ci(pairs)
    diffs = [rng.choice([-1.0, 0.0, 1.0, 0.5]) for _ in range(40)]  # > 16 non-zero: the Monte Carlo branch
    assert sign_flip_test(rng.sample(diffs, len(diffs))) == sign_flip_test(diffs)
    records = [ep(f"t{i}", trial, success=ok, claim="success", events=() if ok else ("data_loss",))
               for i in range(12) for trial in range(3) for ok in [rng.random() < 0.5]]
    again = rng.sample(records, len(records))

    def rounded(x: Any) -> Any:  # sums in another order differ in the last bit; intervals must not differ more
        if isinstance(x, dict):
            return {k: rounded(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [rounded(v) for v in x]
        return round(x, 12) if isinstance(x, float) else x

    assert rounded(compute_metrics(again)) == rounded(compute_metrics(records))


def test_clustered_intervals_cover_the_truth_about_as_often_as_promised() -> None:
    """Tasks of varying difficulty, 3 stochastic trials each: the 95% interval covers the suite's
    true success rate in most of 200 simulated runs (Wilson over episodes would cover far less
    when tasks differ)."""
    import numpy as np

    from lambench.metrics.stats import clustered_interval

    rng = np.random.default_rng(1)
    covered = 0
    runs = 200
    for _ in range(runs):
        p_task = rng.beta(0.5, 0.5, size=30)  # most tasks nearly always or nearly never solved
        truth = float(p_task.mean())
        clusters = {i: [(float(rng.random() < p), 1.0) for _ in range(3)] for i, p in enumerate(p_task)}
        lo, hi = clustered_interval(clusters, resamples=400, seed=int(rng.integers(1 << 30)))
        covered += lo <= truth <= hi
    assert covered / runs >= 0.9


def _first_instances(suite: str) -> list[str]:
    """Instance @0 of each template and the fixed tasks (~100 of mockos-core's 426): enough for the runner tests
    here, at a quarter of the time."""
    from lambench.task import load_suite

    return [t.id for t in load_suite(suite) if t.instance is None or t.instance.seed == 0]


def test_a_deterministic_run_of_three_trials_is_no_more_precise_than_one(tmp_path: Any) -> None:
    from lambench.run import RunConfig, run

    ids = _first_instances("mockos-core")
    for agent in ("oracle", "random"):
        if agent == "random":  # its episodes run to the step limit: a third of the tasks are enough for it
            ids = ids[::3]
        m1 = run(RunConfig(suite="mockos-core", agent=agent, task_ids=ids),
                 run_dir=tmp_path / f"{agent}1").summary["metrics"]
        m3 = run(RunConfig(suite="mockos-core", agent=agent, trials=3, seed=0, task_ids=ids),
                 run_dir=tmp_path / f"{agent}3").summary["metrics"]
        width = lambda m, key: m[key][1] - m[key][0]  # noqa: E731
        assert width(m3, "success_ci") >= width(m1, "success_ci") - 1e-9
        if agent == "oracle":  # the oracle is deterministic: three trials are the same evidence as one
            assert m3["success_ci"] == pytest.approx(m1["success_ci"])
            assert m3["episodes"] == 3 * m1["episodes"]


def test_records_with_wrong_types_are_refused_with_the_field_named(tmp_path: Any) -> None:
    from lambench.run.rundir import EpisodeFormatError, validate_episode

    good = ep("t1", 0, success=True)
    validate_episode(good)
    for field, value, words in [("success", "false", "true or false"), ("n_steps", -1, "non-negative"),
                                ("wall_time_s", float("inf"), "finite"), ("claim", "done", "one of"),
                                ("agent", 3, "a string"), ("unsafe_events", "x", "a list")]:
        with pytest.raises(EpisodeFormatError, match=words):
            validate_episode({**good, field: value})
    path = tmp_path / "episodes.jsonl"
    lines = [json.dumps(good), json.dumps(ep("t2", 0)).replace('"wall_time_s": 1.0', '"wall_time_s": Infinity'),
             json.dumps(ep("t3", 0))]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"line 2.*Infinity"):
        load_episodes(path)
    lines[1] = json.dumps({**ep("t2", 0), "success": "false"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(EpisodeFormatError, match=r"line 2.*'success'"):
        load_episodes(path)
