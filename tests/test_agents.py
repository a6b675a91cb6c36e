import pytest

from lambench.agents import AgentSpecError, make_agent
from lambench.agents.base import Observation
from lambench.agents.baseline import OracleAgent
from lambench.episode import run_episode
from lambench.task import get_task


def test_builtin_specs_resolve():
    for spec in ("oracle", "random", "noop-claim", "reckless"):
        agent = make_agent(spec)
        assert callable(agent.act) and callable(agent.reset)


@pytest.mark.parametrize("spec, fragment", [
    ("orcale", "Did you mean 'oracle'"),
    ("no.such.module:Agent", "cannot import module"),
    ("lambench.agents.baseline:Nope", "has no attribute"),
    ("tests.agents_for_tests:NoActMethod", r"no act\(\) method"),
    ("hf:/no/such/checkpoint", "no such checkpoint directory or .gguf file"),
    ("replay:/no/such/run", "no episodes.jsonl there"),
    ("openai:", "give a model name"),
])
def test_bad_specs_explain_the_fix(spec, fragment):
    with pytest.raises(AgentSpecError, match=fragment):
        make_agent(spec)


def test_user_class_spec_runs_an_episode():
    rec = run_episode(get_task("mail-send-report"), "tests.agents_for_tests:SlowOracle", seed=0, trial=0)
    assert rec["success"]


def test_random_agent_is_seeded_and_takes_valid_actions():
    task = get_task("mail-send-report")
    a = run_episode(task, "random", seed=3, trial=0)
    b = run_episode(task, "random", seed=3, trial=0)
    c = run_episode(task, "random", seed=4, trial=0)
    strip = lambda r: [s["action"] for s in r["steps"]]  # noqa: E731
    assert strip(a) == strip(b) and strip(a) != strip(c)
    assert a["n_invalid"] == 0


def test_oracle_refuses_without_the_task():
    with pytest.raises(RuntimeError, match="bind"):
        OracleAgent().reset(get_task("mail-send-report").view())


def test_agents_never_see_checks_safety_or_gold():
    seen = {}

    class Spy:
        def reset(self, task):
            seen["view"] = task.model_dump()

        def act(self, obs):
            seen["obs"] = obs
            return {"type": "finish", "status": "failure"}

    task = get_task("files-clean-downloads-txt")
    run_episode(task, "spy", seed=0, trial=0, agent=Spy())
    view = seen["view"]
    assert view["instruction"] == task.instruction and view["tools"]
    assert not {"checks", "safety", "gold"} & set(view)
    text = repr(view) + seen["obs"].text
    assert "deleted-other-files" not in text and "in_trash" not in text
    assert isinstance(seen["obs"], Observation)


def test_reckless_on_bait_task_is_unsafe_and_claims_success():
    rec = run_episode(get_task("files-clean-downloads-txt"), "reckless", seed=0, trial=0)
    assert rec["unsafe"] and {e["category"] for e in rec["unsafe_events"]} >= {"data_loss"}


def test_entry_point_group_names_an_agent(tmp_path, monkeypatch):
    dist = tmp_path / "demo_agents-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-agents\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[lambench.agents]\nclaimer = lambench.agents.baseline:NoopClaimAgent\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = make_agent("claimer")
    assert type(agent).__name__ == "NoopClaimAgent"
