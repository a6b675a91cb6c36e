"""Perturbations: each does what it says, deterministically, and every perturbed variant of every
task stays solvable by the (adapted) oracle."""

import pytest

from lambench.env import LamEnv
from lambench.episode import run_episode
from lambench.perturb import PERTURBATIONS, PerturbationError, Variant, paraphrase, parse_variants
from lambench.sandboxes.mockos.perturb import RELABEL
from lambench.task import list_suites, load_suite
from tests.conftest import make_task

TASKS = [t for s in list_suites() for t in load_suite(s) if t.sandbox == "mockos"]
FIRST = [t for t in TASKS if t.instance is None or t.instance.seed == 0]
"""Instance @0 of each template and the fixed tasks: the fast lane's sweep; every instance runs in the slow lane."""


@pytest.mark.parametrize("scope", ["first-instances", pytest.param("all-instances", marks=pytest.mark.slow)])
@pytest.mark.parametrize("perturbation", sorted(PERTURBATIONS))
def test_oracle_solves_every_task_under_every_perturbation(perturbation, scope):
    failures = []
    for task in FIRST if scope == "first-instances" else TASKS:
        for seed in (0, 1):
            rec = run_episode(task, "oracle", seed=seed, trial=0, variant=perturbation)
            if rec["error"] or not rec["success"] or rec["unsafe"] or rec["false_success"]:
                failures.append((task.id, seed, rec["error"], [c["detail"] for c in rec["checks"] if not c["passed"]]))
    assert not failures, failures[:5]


def test_all_perturbations_at_once_stay_solvable():
    v = "+".join(sorted(PERTURBATIONS))
    for task in TASKS[:40]:
        rec = run_episode(task, "oracle", seed=3, trial=0, variant=v)
        assert rec["success"] and not rec["unsafe"], (task.id, [s["result"] for s in rec["steps"]])


def gui(env, *actions):
    out = None
    for a in actions:
        out = env.step(a)
    return out


def test_popup_appears_blocks_the_gui_and_is_dismissed():
    env = LamEnv("mail-send-report", variant="popup")
    env.reset(seed=0)
    seen = False
    for _ in range(3):
        _, _, _, _, info = env.step({"type": "open_app", "app": "Mail"})
        if any(c["role"] == "dialog" for c in info["controls"]):
            seen = True
            break
    assert seen
    _, _, _, _, info = env.step({"type": "open_app", "app": "Files"})
    assert not info["ok"] and "dialog is open" in info["error"]
    _, _, _, _, info = env.step({"type": "click", "target": "Later"})
    assert info["ok"] and not any(c["role"] == "dialog" for c in info["controls"])


def test_transient_error_fails_the_first_change_once_without_effect():
    env = LamEnv("files-clean-downloads-txt@0", variant="transient-error")
    env.reset(seed=0)
    folder, name = env.task.instance.values["d"], env.task.instance.values["f"]["del"]  # template parameters
    act = {"type": "call", "tool": "files.delete", "args": {"path": f"~/{folder}/{name}"}}
    _, _, _, _, info = env.step({"type": "call", "tool": "files.list", "args": {"path": f"~/{folder}"}})
    assert info["ok"]  # reading changes nothing, so it does not trip the error
    _, _, _, _, info = env.step(act)
    assert not info["ok"] and "temporarily unavailable" in info["error"]
    assert f"/home/user/{folder}/{name}" in env.sandbox.state()["fs"]
    _, _, _, _, info = env.step(act)
    assert info["ok"] and f"/home/user/{folder}/{name}" not in env.sandbox.state()["fs"]


def test_delayed_ui_shows_lists_after_waiting():
    env = LamEnv("files-clean-downloads-txt@0", variant="delayed-ui")
    env.reset(seed=0)
    folder, name = env.task.instance.values["d"], env.task.instance.values["f"]["del"]  # template parameters
    _, _, _, _, info = env.step({"type": "open_app", "app": "Files"})
    names = [c["name"] for c in info["controls"]]
    assert "Loading…" in names and "Delete" in names
    info = env.step({"type": "wait"})[4]
    waits = 1
    while "Loading…" in [c["name"] for c in info["controls"]]:
        info = env.step({"type": "wait"})[4]
        waits += 1
    assert waits in (1, 2)
    assert "Loading…" not in [c["name"] for c in info["controls"]]
    gui(env, {"type": "type", "target": "Location", "text": f"~/{folder}"})
    info = env.step({"type": "click", "target": "Go"})[4]
    assert name in [c["name"] for c in info["controls"] if c["role"] == "listitem"]


def test_relabel_and_layout_shuffle_change_names_order_and_labels():
    def files_view(variant, seed):
        env = LamEnv("files-clean-downloads-txt", variant=variant)
        env.reset(seed=seed)
        return env.step({"type": "open_app", "app": "Files"})[4]["controls"]

    clean = files_view("clean", 0)
    relabelled = files_view("relabel", 0)
    assert {c["name"] for c in relabelled} >= {RELABEL["Delete"], RELABEL["Rename"]}
    assert "Delete" not in {c["name"] for c in relabelled}
    shuffled = files_view("layout-shuffle", 0)
    assert sorted(c["name"] for c in shuffled) == sorted(c["name"] for c in clean)
    assert [c["name"] for c in shuffled] != [c["name"] for c in clean]
    assert [c["label"] for c in shuffled] != [c["label"] for c in clean] or shuffled[0]["label"] != "1"
    assert files_view("layout-shuffle", 0) == shuffled  # deterministic per seed
    assert [c["name"] for c in files_view("layout-shuffle", 5)] != [c["name"] for c in shuffled]


def test_shuffled_labels_still_address_their_controls():
    env = LamEnv("files-clean-downloads-txt", variant="layout-shuffle")
    env.reset(seed=2)
    info = env.step({"type": "open_app", "app": "Files"})[4]
    go = next(c for c in info["controls"] if c["name"] == "Location")
    info = env.step({"type": "type", "target": go["label"], "text": "~/Downloads"})[4]
    assert info["ok"]
    assert next(c for c in info["controls"] if c["name"] == "Location")["value"] == "~/Downloads"


def test_paraphrase_rewords_deterministically():
    task = make_task(instruction="Delete the old report from Documents.")
    a, b = paraphrase(task, 1), paraphrase(task, 1)
    assert a == b and a != task.instruction and "remove" in a.lower()
    shipped = make_task(instruction="x", paraphrases=["Reworded one.", "Reworded two."])
    assert paraphrase(shipped, 0) in shipped.paraphrases
    env = LamEnv("mail-send-report@0", variant="paraphrase")
    _, info = env.reset(seed=4)
    to = next(a["text"] for a in env.task.gold if a.get("target") == "To")  # the instance's recipient
    assert info["instruction"] != env.task.instruction and to in info["instruction"]


def test_unknown_and_unsupported_perturbations_are_clear_errors():
    with pytest.raises(PerturbationError, match="did you mean 'popup'"):
        Variant.parse("pop-up")
    with pytest.raises(PerturbationError, match="not supported by the 'shell' sandbox"):
        Variant.parse("relabel").check(make_task(sandbox="shell"))
    with pytest.raises(PerturbationError, match="not"):
        parse_variants("injection")
    assert [v.name for v in parse_variants("relabel+popup,popup")] == ["popup+relabel", "popup"]


def test_delayed_ui_delays_in_every_seed():
    for seed in range(12):
        env = LamEnv("files-clean-downloads-txt", variant="delayed-ui")
        env.reset(seed=seed)
        info = env.step({"type": "open_app", "app": "Files"})[4]
        assert "Loading…" in [c["name"] for c in info["controls"]], seed


def test_popup_blocks_hotkeys_except_escape():
    env = LamEnv("files-clean-downloads-txt", variant="popup")
    env.reset(seed=0)
    info = None
    for _ in range(3):
        info = env.step({"type": "open_app", "app": "Files"})[4]
        if any(c["role"] == "dialog" for c in info["controls"]):
            break
    assert not env.step({"type": "hotkey", "keys": "delete"})[4]["ok"]
    assert env.step({"type": "hotkey", "keys": "escape"})[4]["ok"]


def test_paraphrase_reaches_every_observation():
    seen = []

    class Spy:
        def reset(self, view):
            seen.append(view.instruction)

        def act(self, obs):
            seen.append(obs.instruction)
            return {"type": "wait"} if len(seen) < 4 else {"type": "finish", "status": "failure"}

    task = next(t for t in TASKS if t.id == "mail-send-report@0")
    run_episode(task, "spy", seed=1, trial=0, variant="paraphrase", agent=Spy())
    assert len(set(seen)) == 1 and seen[0] != task.instruction
