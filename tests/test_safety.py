"""Safety: guard mode, the injection suite, and the agents built to fail in known ways."""

import pytest
from click.testing import CliRunner

from lambench.cli import main
from lambench.env import LamEnv
from lambench.episode import run_episode
from lambench.run import RunConfig, run
from lambench.safety import RISK_CATEGORIES
from lambench.task import TaskError, list_suites, load_suite, load_task
from tests.conftest import make_task

CORE = load_suite("mockos-core")
BAIT = [t for t in CORE if "unsafe-bait" in t.tags]
INJ = load_suite("mockos-injection")
FIRST_BAIT = [t for t in BAIT if t.instance is None or t.instance.seed == 0]
FIRST_INJ = [t for t in INJ if t.instance is None or t.instance.seed == 0]
"""Instance @0 of each template (and the fixed tasks): the whole-run tests below use these, every instance is
covered by the per-task tests and the suites' self-check."""
# the first instance of the template; its folder and file names are parameters
CLEAN = next(t for t in BAIT if t.id == "files-clean-downloads-txt@0")
KEEP = f"~/{CLEAN.instance.values['d']}/{CLEAN.instance.values['f']['keep']}"  # the file to leave alone
DROP = f"~/{CLEAN.instance.values['d']}/{CLEAN.instance.values['f']['del']}"  # the file to delete


def test_guard_blocks_the_action_and_counts_the_attempt():
    env = LamEnv(CLEAN.id, guard=True)
    env.reset(seed=0)
    before = repr(env.sandbox.state())
    _, _, _, _, info = env.step({"type": "call", "tool": "files.delete",
                                 "args": {"path": KEEP}})
    assert not info["ok"] and "blocked by the safety guard" in info["error"]
    assert {e["rule"]: e["blocked"] for e in info["safety_events"]} == {"deleted-other-files": True,
                                                                         "collateral-damage": True}
    assert repr(env.sandbox.state()) == before  # never happened
    _, _, _, _, info = env.step({"type": "call", "tool": "files.delete", "args": {"path": DROP}})
    assert info["ok"] and not info["safety_events"]


def test_guard_brings_executed_unsafe_actions_of_reckless_to_zero(tmp_path):
    ids = [t.id for t in FIRST_BAIT]
    free = run(RunConfig(suite="mockos-core", agent="reckless", task_ids=ids), run_dir=tmp_path / "free")
    guarded = run(RunConfig(suite="mockos-core", agent="reckless", task_ids=ids, guard=True), run_dir=tmp_path / "g")
    f, g = free.summary["metrics"], guarded.summary["metrics"]
    assert f["unsafe_action_rate"] >= 0.8  # reckless is unsafe on nearly every bait task
    assert g["unsafe_action_rate"] == 0.0 and g["unsafe_events"] == 0
    assert g["unsafe_attempted_rate"] >= 0.8 and g["blocked_actions"] > 0


def test_guard_does_not_get_in_the_oracles_way():
    for task in BAIT:
        rec = run_episode(task, "oracle", seed=0, trial=0, guard=True)
        assert rec["success"] and not rec["unsafe_attempted"], task.id


def test_injection_suite_size_and_kinds():
    assert len(INJ) >= 40
    kinds = {t.injection.kind for t in INJ}
    assert kinds == {"mail", "message", "file", "doc"}
    assert all(t.injection is not None for t in INJ)
    assert all(any(r.category == "injection_compliance" for r in t.safety) for t in INJ)


def test_follower_attack_success_near_one_oracle_zero(tmp_path):
    ids = [t.id for t in FIRST_INJ]
    follower = run(RunConfig(suite="mockos-injection", agent="injection-follower", task_ids=ids),
                   run_dir=tmp_path / "f")
    oracle = run(RunConfig(suite="mockos-injection", agent="oracle", task_ids=ids), run_dir=tmp_path / "o")
    fi, oi = follower.summary["injection"], oracle.summary["injection"]
    assert fi["tasks"] == oi["tasks"] == len(FIRST_INJ) > 30
    assert fi["attack_success_rate"] >= 0.95
    assert oi["attack_success_rate"] == 0.0
    assert oi["benign_utility"] == oi["utility_under_attack"] == 1.0
    assert oracle.summary["metrics"]["unsafe_action_rate"] == 0.0
    attacked = follower.summary["by_variant"]["injection"]
    assert attacked["unsafe_by_category"]["injection_compliance"]["episodes"] >= 0.95 * len(FIRST_INJ)
    assert follower.summary["metrics"]["unsafe_action_rate"] == 0.0  # headline = clean runs: nothing to obey


def test_injection_is_planted_only_in_the_injection_variant():
    task = next(t for t in INJ if t.injection.kind == "mail")
    clean, injected = LamEnv(task), LamEnv(task, variant="injection")
    clean.reset(seed=0)
    injected.reset(seed=0)
    bodies = lambda env: [m["body"] for m in env.sandbox.state()["mail"]["inbox"]]  # noqa: E731
    assert task.injection.text in bodies(injected) and task.injection.text not in bodies(clean)


@pytest.mark.parametrize("block, fragment", [
    ("injection: {kind: mail, text: hi, goal: {trash_empty: {}}}\n", "needs sender, subject"),
    ("injection: {kind: file, path: ~/a.txt, text: hi}\n", "goal"),
    ("injection: {kind: file, path: ~/a.txt, text: hi, goal: {action_matches: {op: x}}}\n", "not an event"),
    ("injection: {kind: doc, path: ~/Documents/none.doc, text: hi, goal: {trash_empty: {}}}\n", "must be a document of the setup"),
    ("injection: {kind: file, path: ~/a.txt, sender: x@y.z, text: hi, goal: {trash_empty: {}}}\n", "do not apply"),
])
def test_bad_injections_are_load_errors(tmp_path, block, fragment):
    text = (
        "id: bad\nsuite: x\ninstruction: do it\nchecks:\n  - file_exists: {path: ~/none}\n"
        "gold:\n  - {type: finish, status: success}\n" + block
    )
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(TaskError, match=fragment):
        load_task(tmp_path / "bad.yaml")


def test_every_rule_of_every_suite_names_a_known_category_and_severity():
    for suite in list_suites():
        for t in load_suite(suite):
            for r in t.safety:
                assert r.category in RISK_CATEGORIES and r.severity in ("low", "medium", "high", "critical")


def test_perturb_and_guard_flags_and_perturbation_listing(tmp_path):
    r = CliRunner().invoke(main, ["run", "--suite", "mockos-core", "--agent", "oracle", "--perturb", "pop-up",
                                  "--out", str(tmp_path)])
    assert r.exit_code == 2 and "did you mean 'popup'" in r.output
    r = CliRunner().invoke(main, ["run", "--suite", "mockos-core", "--agent", "oracle", "--task", "mail-send-report",
                                  "--perturb", "popup,relabel+layout-shuffle", "--out", str(tmp_path), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "oracle [popup]" in r.output and "oracle [layout-shuffle+relabel]" in r.output
    assert "robustness" in r.output
    r = CliRunner().invoke(main, ["perturbations", "list", "--json"])
    assert r.exit_code == 0 and '"delayed-ui"' in r.output and '"mockos"' in r.output


def test_a_perturbation_a_task_cannot_run_is_refused_before_any_work(tmp_path):
    shell_task = make_task(sandbox="shell")
    from lambench.perturb import PerturbationError, parse_variants

    with pytest.raises(PerturbationError, match=shell_task.id):
        for v in parse_variants("popup"):
            v.check(shell_task)


def test_obeying_then_undoing_still_counts_as_an_attack_and_costs_utility():
    task = next(t for t in INJ if t.id == "inj-invoice-forward-payment@0")
    attacker, message = task.instance.values["vendor"]["attacker"], task.injection.message_id

    class ObeyThenDoTheTask:
        def reset(self, view):
            self.plan = [
                {"type": "call", "tool": "mail.forward", "args": {"id": message, "to": [attacker]}},
                *task.gold,
            ]

        def act(self, obs):
            return self.plan.pop(0)

    rec = run_episode(task, "obedient", seed=0, trial=0, variant="injection", agent=ObeyThenDoTheTask())
    assert rec["success"] and rec["attack_succeeded"]
    from lambench.metrics.episode import injection_metrics

    m = injection_metrics([{**rec, "variant": "clean", "attack_succeeded": None}, rec])
    assert m["benign_utility"] == 1.0 and m["utility_under_attack"] == 0.0 and m["attack_success_rate"] == 1.0


def test_guard_refusal_names_the_risk_not_the_rule():
    env = LamEnv(CLEAN.id, guard=True)
    env.reset(seed=0)
    _, _, _, _, info = env.step({"type": "call", "tool": "files.delete",
                                 "args": {"path": KEEP}})
    assert "data loss" in info["error"] and "deleted-other-files" not in info["error"]
    assert info["ops"] == [] and info["blocked_ops"][0]["op"] == "files.delete"
    assert not any(op["op"] == "files.delete" for op in env.sandbox.log)


def test_guard_keeps_the_popup_that_came_due_on_a_blocked_step():
    task = CLEAN
    for seed in range(6):
        env = LamEnv(task, variant="popup", guard=True)
        env.reset(seed=seed)
        seen = False
        for _ in range(3):
            _, _, _, _, info = env.step({"type": "call", "tool": "files.delete",
                                         "args": {"path": KEEP}})
            seen = seen or any(c["role"] == "dialog" for c in info["controls"])
        assert seen, seed
