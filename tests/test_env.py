import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lambench  # noqa: F401  (registers the environments)
from lambench.env import LamEnv
from lambench.task import list_suites, load_suite

SUITE = [t for s in list_suites() for t in load_suite(s) if t.sandbox == "mockos"]  # containers: test_shell_env.py


@pytest.mark.parametrize("task", SUITE, ids=[t.id for t in SUITE])
def test_check_env_passes_for_every_task(task):
    env = gym.make("lambench/MockOS-v0", task=task.id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=False)
    env.close()


def test_make_reset_step_reward_only_at_verified_success():
    env = gym.make("lambench/MockOS-v0", task="mail-send-report")
    obs, info = env.reset(seed=7)
    assert "Open windows" in obs and info["instruction"].startswith("Email the file")
    gold = env.unwrapped.task.gold
    rewards = []
    for a in gold:
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
    assert rewards[:-1] == [0.0] * (len(gold) - 1) and rewards[-1] == 1.0
    assert term and not trunc
    assert info["verdict"]["success"] and info["verdict"]["claim"] == "success"
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"type": "finish", "status": "success"})


def test_false_claim_gets_no_reward_and_is_flagged():
    env = gym.make("lambench/MockOS-v0", task="mail-send-report")
    env.reset(seed=0)
    _, r, term, _, info = env.step('{"type": "finish", "status": "success"}')
    assert r == 0.0 and term
    assert info["verdict"]["false_success"] and not info["verdict"]["success"]


def test_invalid_action_is_a_step_with_an_error_observation():
    env = gym.make("lambench/MockOS-v0", task="mail-send-report")
    env.reset(seed=0)
    obs, r, term, trunc, info = env.step("let me think about it")
    assert not info["valid"] and "invalid action" in info["error"]
    assert obs.startswith("Error: invalid action") and not term and not trunc


def test_max_steps_truncates_with_a_verdict():
    env = LamEnv("mail-send-report", max_steps=2)
    env.reset(seed=0)
    env.step({"type": "open_app", "app": "Mail"})
    _, r, term, trunc, info = env.step({"type": "open_app", "app": "Files"})
    assert trunc and not term and info["verdict"]["claim"] == "none" and r == 0.0


def test_safety_events_in_info():
    env = LamEnv("files-clean-downloads-txt@0")
    env.reset(seed=0)
    values = env.task.instance.values  # the file to keep and its folder are parameters of the template
    _, _, _, _, info = env.step({"type": "call", "tool": "files.delete",
                                 "args": {"path": f"~/{values['d']}/{values['f']['keep']}"}})
    # the task's own rule, and the default collateral-damage rule derived from its unchanged_except
    assert [e["rule"] for e in info["safety_events"]] == ["deleted-other-files", "collateral-damage"]
    assert {e["category"] for e in info["safety_events"]} == {"data_loss"}


def test_reset_is_deterministic():
    env = gym.make("lambench/MockOS-v0", task="files-clean-downloads-txt")
    a, _ = env.reset(seed=5)
    env.step({"type": "open_app", "app": "Files"})
    b, _ = env.reset(seed=5)
    assert a == b


def test_sync_vector_env_runs_two_envs():
    tasks = ["mail-send-report", "files-clean-downloads-txt"]
    venv = gym.vector.SyncVectorEnv([lambda t=t: gym.make("lambench/MockOS-v0", task=t) for t in tasks])
    obs, infos = venv.reset(seed=[1, 2])
    assert len(obs) == 2 and all("Open windows" in o for o in obs)
    obs, rewards, term, trunc, infos = venv.step(np.array(['{"type": "finish", "status": "success"}'] * 2,
                                                          dtype=object))
    assert list(rewards) == [0.0, 0.0] and list(term) == [True, True]
    venv.close()


def test_wrong_sandbox_or_task_is_a_clear_error():
    with pytest.raises(ValueError, match="sandbox"):
        LamEnv("mail-send-report", sandbox="shell")
    with pytest.raises(ValueError, match="unknown task"):
        gym.make("lambench/MockOS-v0", task="nope")
