"""The mock OS's screen: observation modes, the layout, coordinate actions, and screenshots in the run directory."""

import io
import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from gymnasium.utils.env_checker import check_env
from PIL import Image

from lambench.action import parse_action
from lambench.cli import main
from lambench.env import OBSERVATION_MODES, LamEnv
from lambench.episode import run_episode
from lambench.run import RunConfig, run
from lambench.task import list_suites, load_suite

MOCKOS = [t for s in list_suites() for t in load_suite(s)
          if t.sandbox == "mockos" and (t.instance is None or t.instance.seed == 0)]
TASK = "files-clean-downloads-txt@0"
POINTER = "tests.agents_for_tests:PointerOracle"


@pytest.mark.parametrize("mode", OBSERVATION_MODES)
def test_check_env_passes_in_every_observation_mode(mode):
    env = LamEnv(TASK, observation=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning of the checker is a failure here
        check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    if mode == "text":
        assert isinstance(obs, str) and "box" not in info["controls"][0]
    else:
        assert obs["image"].shape == (768, 1024, 3) and obs["image"].dtype == np.uint8
        assert all(c["box"] is not None for c in info["controls"])
        assert ('[1] button "Files"' in obs["text"]) == (mode != "screenshot")  # screenshot: no tree


@pytest.mark.parametrize("variant,mode", [("clean", "both"), pytest.param("layout-shuffle+relabel+popup", "som",
                                                                         marks=pytest.mark.slow)])
def test_every_mock_os_task_is_solved_by_pointing_alone(variant, mode):
    """The oracle's clicks turned into clicks at the centre of each control's box, its typing into typing after
    clicking the field: every task (instance @0) still succeeds, so every control it needs is on the screen and a
    point reaches what the label reached."""
    failures, pointing = [], 0
    for task in MOCKOS:
        rec = run_episode(task, POINTER, seed=0, trial=0, variant=variant, observation=mode)
        pointing += any(s["action"] and "x" in s["action"] for s in rec["steps"])
        if rec["error"] or not rec["success"] or rec["unsafe"]:
            failures.append((task.id, rec["error"], [(s["action"], s["result"]) for s in rec["steps"]
                                                     if not s["ok"]][:2]))
    assert not failures, failures[:5]
    assert pointing >= 0.45 * len(MOCKOS)  # 77 of 151: the others' gold is API calls


def test_the_screen_is_the_same_for_a_seed_and_moves_with_the_layout_perturbation():
    def shot(variant):
        env = LamEnv("mail-send-report@0", variant=variant, observation="both")
        obs, info = env.reset(seed=3)
        obs, *_, info = env.step({"type": "open_app", "app": "Mail"})
        return obs["image"], {c["name"]: c["box"] for c in info["controls"]}

    a, boxes_a = shot("clean")
    b, boxes_b = shot("clean")
    assert np.array_equal(a, b) and boxes_a == boxes_b
    c, boxes_c = shot("layout-shuffle")
    assert not np.array_equal(a, c)
    assert boxes_c != boxes_a and set(boxes_c) == set(boxes_a)  # the same controls, elsewhere


def test_each_control_is_drawn_in_its_box_and_marks_are_drawn_only_in_som():
    env = LamEnv(TASK, observation="both")
    obs, info = env.reset(seed=0)
    obs, *_, info = env.step({"type": "open_app", "app": "Files"})
    som = LamEnv(TASK, observation="som")
    som.reset(seed=0)
    marked, *_ = som.step({"type": "open_app", "app": "Files"})
    img = obs["image"].astype(int)
    background = img[5, 5]
    for c in info["controls"]:
        x0, y0, x1, y1 = c["box"]
        assert (np.abs(img[y0:y1, x0:x1] - background).sum(axis=2) > 0).any(), c  # something is drawn there
    assert not np.array_equal(obs["image"], marked["image"])
    red = (marked["image"][..., 0] > 200) & (marked["image"][..., 1] < 60)
    assert red.sum() > 50 * len(info["controls"]) and not ((obs["image"][..., 0] > 200)
                                                            & (obs["image"][..., 1] < 60)).any()


def _env(mode="both"):
    env = LamEnv(TASK, observation=mode)
    env.reset(seed=0)
    return env


def _box(info, name):
    return next(c["box"] for c in info["controls"] if c["name"] == name)


def test_a_click_between_controls_does_nothing_and_off_the_screen_is_an_error_naming_its_size():
    env = _env()
    before = json.dumps(env.sandbox.state(), sort_keys=True)
    *_, info = env.step({"type": "click", "x": 512, "y": 400})  # the empty desktop
    assert info["ok"] and "nothing there" in info["result"]
    *_, info = env.step({"type": "click", "x": 1024, "y": 10})
    assert not info["ok"] and "outside the screen" in info["error"] and "1024x768" in info["error"]
    *_, info = env.step({"type": "click", "x": -1, "y": 10})
    assert not info["ok"] and "x from 0 to 1023" in info["error"]
    assert json.dumps(env.sandbox.state(), sort_keys=True) == before


def test_clicks_at_points_act_like_clicks_on_labels():
    env = _env()
    _, _, _, _, info = env.step({"type": "open_app", "app": "Files"})
    x0, y0, x1, y1 = _box(info, "Mail")
    *_, info = env.step({"type": "click", "x": x0 + 1, "y": y1 - 1})  # the box's inner edge
    assert info["ok"] and info["focused"] == "mail"
    *_, info = env.step({"type": "click", "x": x1, "y": y0})  # one pixel right of it: the gap
    assert info["ok"] and "nothing there" in info["result"]


def test_typing_goes_to_the_field_clicked_and_without_one_is_an_error():
    env = _env()
    env.step({"type": "open_app", "app": "Mail"})
    *_, info = env.step({"type": "type", "text": "hello"})
    assert not info["ok"] and "no text field has the focus" in info["error"]
    *_, info = env.step({"type": "click", "target": "Compose"})
    x0, y0, x1, y1 = _box(info, "Subject")
    *_, info = env.step({"type": "click", "x": (x0 + x1) // 2, "y": (y0 + y1) // 2})
    assert info["ok"] and info["result"] == "focused Subject"
    *_, info = env.step({"type": "type", "text": "Quarterly numbers"})
    assert info["ok"]
    assert next(c["value"] for c in info["controls"] if c["name"] == "Subject") == "Quarterly numbers"
    env.step({"type": "open_app", "app": "Files"})  # another window: the focus goes with it
    *_, info = env.step({"type": "type", "text": "x"})
    assert not info["ok"] and "no text field has the focus" in info["error"]


def test_a_double_click_clicks_twice():
    env = _env()
    x0, y0, x1, y1 = _box(env.step({"type": "wait"})[4], "Files")
    *_, info = env.step({"type": "double_click", "x": x0 + 5, "y": y0 + 5})
    assert info["ok"] and info["result"] == "Files is focused; then Files is focused"
    *_, info = env.step({"type": "double_click", "target": "Writer"})
    assert info["ok"] and info["result"].count("Writer is focused") == 2


def test_drag_and_scroll_at_a_point_move_the_list_under_it_only():
    env = LamEnv("files-clean-downloads-txt@0", observation="both")
    env.reset(seed=0)
    *_, info = env.step({"type": "open_app", "app": "Mail"})
    items = [c for c in info["controls"] if c["role"] == "listitem"]
    x0, y0, x1, y1 = items[-1]["box"]
    *_, info = env.step({"type": "drag", "x": x0 + 10, "y": y1 - 2, "to_x": x0 + 10, "to_y": y1 - 2})
    assert info["ok"] and "did not move" in info["result"]
    *_, info = env.step({"type": "drag", "x": 512, "y": 600, "to_x": 512, "to_y": 100})  # empty window area
    assert info["ok"] and "nothing there moves" in info["result"]
    *_, info = env.step({"type": "scroll", "x": 500, "y": 750, "direction": "down"})  # the taskbar
    assert info["ok"] and "nothing to scroll" in info["result"]
    *_, info = env.step({"type": "scroll", "x": 500, "y": 300, "direction": "down"})
    assert info["ok"] and info["result"] == "scrolled down"
    *_, info = env.step({"type": "drag", "x": 10, "y": 10, "to_x": 2000, "to_y": 10})
    assert not info["ok"] and "outside the screen" in info["error"]


def test_a_run_keeps_each_screen_once_as_a_png_in_the_run_directory(tmp_path):
    tasks = [t.id for t in MOCKOS if t.suite == "mockos-core"][:6]
    result = run(RunConfig(suite="mockos-core", agent="oracle", task_ids=tasks, observation="som"),
                 run_dir=tmp_path / "som")
    assert result.summary["metrics"]["success_rate"] == 1.0
    lines = [json.loads(x) for x in (tmp_path / "som" / "observations.jsonl").read_text().splitlines()]
    shots = [o["screenshot"] for line in lines for o in line["observations"]]
    files = sorted((tmp_path / "som" / "screens").iterdir())
    assert len(shots) > len(files) > 1  # the same screen (the empty desktop at the start) is stored once
    assert {f"screens/{f.name}" for f in files} == set(shots)
    with Image.open(files[0]) as im:
        assert im.size == (1024, 768) and im.mode == "RGB"
    episodes = [json.loads(x) for x in (tmp_path / "som" / "episodes.jsonl").read_text().splitlines()]
    assert {e["observation"] for e in episodes} == {"som"}
    assert json.loads((tmp_path / "som" / "config.json").read_text())["observation"] == "som"
    text = run(RunConfig(suite="mockos-core", agent="oracle", task_ids=tasks[:1]), run_dir=tmp_path / "text")
    assert not (text.run_dir / "screens").exists()
    assert "observation" not in json.loads((text.run_dir / "episodes.jsonl").read_text().splitlines()[0])


def test_a_run_in_another_observation_mode_is_not_mixed_into_an_existing_one(tmp_path):
    ids = [next(t.id for t in MOCKOS if t.suite == "mockos-core")]
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=ids), run_dir=tmp_path / "r")
    with pytest.raises(Exception, match="observation"):
        run(RunConfig(suite="mockos-core", agent="oracle", task_ids=ids, observation="som"), run_dir=tmp_path / "r")


def test_image_modes_on_a_sandbox_without_a_screen_are_refused_before_anything_runs(tmp_path):
    r = CliRunner().invoke(main, ["run", "--suite", "shell-core", "--agent", "oracle", "--observation", "screenshot",
                                  "--out", str(tmp_path / "r"), "--quiet"])
    assert r.exit_code == 2, r.output
    assert "--observation screenshot needs a sandbox that renders a screen" in r.output
    assert "shell" in r.output and "--observation text" in r.output
    assert not (tmp_path / "r" / "episodes.jsonl").exists() or not (tmp_path / "r" / "episodes.jsonl").read_text()


def test_png_bytes_round_trip():
    from lambench.images import png_bytes

    env = _env("screenshot")
    obs, _ = env.reset(seed=0)
    with Image.open(io.BytesIO(png_bytes(obs["image"]))) as im:
        assert np.array_equal(np.asarray(im), obs["image"])


# ---------------------------------------------------------------------------- coordinate answers


@pytest.mark.parametrize("text,action", [
    ("click(120, 340)", {"type": "click", "x": 120, "y": 340}),
    ("click(x=120.4, y=340)", {"type": "click", "x": 120, "y": 340}),
    ("`double_click(5, 6)`", {"type": "double_click", "x": 5, "y": 6}),
    ("left_click(7,8)", {"type": "click", "x": 7, "y": 8}),
    ('scroll(1, 2, "up")', {"type": "scroll", "target": None, "x": 1, "y": 2, "direction": "up"}),
    ('{"x": 10, "y": 20}', {"type": "click", "x": 10, "y": 20}),
    ('{"x": 10, "y": 20, "action": "double_click"}', {"type": "double_click", "x": 10, "y": 20}),
    ('{"type": "click", "target": "3"}', {"type": "click", "target": "3"}),  # as recorded before points existed
    ('{"type": "type", "text": "hi"}', {"type": "type", "text": "hi"}),
    ('{"type": "drag", "x": 1, "y": 2, "to_x": 3, "to_y": 4}', {"type": "drag", "x": 1, "y": 2, "to_x": 3, "to_y": 4}),
])
def test_coordinate_answers_in_the_common_forms(text, action):
    res = parse_action(text)
    assert res.valid, res.error
    assert res.action.model_dump() == action


@pytest.mark.parametrize("output,why", [
    ({"type": "click", "x": 3}, "give both x and y"),
    ({"type": "click"}, "give a target"),
    ({"type": "click", "target": "3", "x": 1, "y": 2}, "not both"),
    ({"type": "click", "x": True, "y": 2}, "not true/false"),
    ({"type": "click", "x": 1.5, "y": 2}, "fractional"),
    ({"type": "click", "x": 10**9, "y": 2}, "less than or equal"),
    ("click(" + "9" * 400 + ", 3)", "no JSON object"),
    ('{"x": 1e400, "y": 2}', "no 'type'"),
    ('{"x": 1, "y": 2, "z": 3}', "no 'type'"),
    ('click(1, 2, "up")', "no JSON object"),
])
def test_malformed_coordinates_are_invalid_actions_with_the_reason(output, why):
    res = parse_action(output)
    assert not res.valid and why in res.error, res.error


# ---------------------------------------------------------------------------- model adapters


def _png_of(b64):
    import base64

    with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
        return im.size, np.asarray(im.convert("RGB"))


def test_openai_gets_the_screenshot_as_an_image_part_and_normalized_points_are_scaled_to_pixels():
    from tests.fake_servers import OpenAIServer

    files = LamEnv(TASK, observation="screenshot")
    _, info = files.reset(seed=0)
    x0, y0, x1, y1 = _box(info, "Files")
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    with OpenAIServer() as oai:
        oai.script(OpenAIServer.text(f"click({cx * 1000 / 1024:.0f}, {cy * 1000 / 768:.0f})"),
                   OpenAIServer.tool_call("finish", {"status": "failure", "message": "stop"}))
        rec = run_episode(files.task, "openai:gpt-vision", seed=0, trial=0, observation="screenshot",
                          agent_options={"base_url": oai.url, "api_key": "sk-test", "coordinates": "norm1000",
                                         "max_retries": 0})
        first = oai.bodies[0]
    assert rec["error"] is None, rec["error"]
    step = rec["steps"][0]
    assert step["action"]["type"] == "click" and abs(step["action"]["x"] - cx) <= 2 and abs(step["action"]["y"] - cy) <= 2
    assert step["ok"] and step["result"] == "Files is focused"
    text, image = first["messages"][-1]["content"]
    assert text["type"] == "text" and "(the screen is in the screenshot)" in text["text"]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png;base64,")
    size, pixels = _png_of(image["image_url"]["url"].split(",", 1)[1])
    assert size == (1024, 768) and pixels.std() > 10  # a drawn screen, not a blank
    tools = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert {"double_click", "drag"} <= set(tools) and "x" in tools["click"]["parameters"]["properties"]
    assert "shows you the screen as a screenshot" in first["messages"][0]["content"]


def test_anthropic_gets_an_image_block_and_a_text_run_sends_none():
    from tests.fake_servers import AnthropicServer

    task = LamEnv(TASK).task
    with AnthropicServer() as ant:
        ant.script(AnthropicServer.tool_use("click", {"x": 30, "y": 748}),
                   AnthropicServer.tool_use("finish", {"status": "failure", "message": "stop"}))
        rec = run_episode(task, "anthropic:claude-test", seed=0, trial=0, observation="som",
                          agent_options={"base_url": ant.url, "api_key": "sk-test", "max_retries": 0})
        ant.script(AnthropicServer.tool_use("finish", {"status": "failure", "message": "stop"}))
        text_rec = run_episode(task, "anthropic:claude-test", seed=0, trial=0,
                               agent_options={"base_url": ant.url, "api_key": "sk-test", "max_retries": 0})
        bodies = ant.bodies
    assert rec["error"] is None and text_rec["error"] is None
    assert rec["steps"][0]["action"] == {"type": "click", "x": 30, "y": 748} and rec["steps"][0]["ok"]
    blocks = bodies[0]["messages"][-1]["content"]
    image = next(b for b in blocks if b["type"] == "image")
    assert image["source"]["type"] == "base64" and image["source"]["media_type"] == "image/png"
    assert _png_of(image["source"]["data"])[0] == (1024, 768)
    assert isinstance(bodies[-1]["messages"][-1]["content"], str)  # text mode: no image, no screen note
    assert "screenshot" not in bodies[-1]["system"] and "shows you the screen" in bodies[0]["system"]
    text_tools = {t["name"]: t for t in bodies[-1]["tools"]}
    assert "double_click" not in text_tools and "x" not in text_tools["click"]["input_schema"]["properties"]


def test_a_bad_coordinates_option_is_refused_by_name():
    from lambench.agents import AgentSpecError, make_agent

    with pytest.raises((AgentSpecError, ValueError), match="coordinates must be pixels or norm1000"):
        make_agent("openai:gpt-x", options={"base_url": "http://127.0.0.1:9/v1", "api_key": "k",
                                            "coordinates": "percent"})


def test_the_gate_refuses_runs_of_different_observation_modes_and_boards_keep_them_apart(tmp_path):
    from lambench.gate import GateError, gate
    from lambench.results.board import agent_label

    ids = [t.id for t in MOCKOS if t.suite == "mockos-core"][:3]
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=ids), run_dir=tmp_path / "text")
    som = run(RunConfig(suite="mockos-core", agent="oracle", task_ids=ids, observation="som"), run_dir=tmp_path / "som")
    assert som.summary["observation"] == "som"
    with pytest.raises(GateError, match="different observations.*--observation text.*--observation som"):
        gate(tmp_path / "text", tmp_path / "som")
    assert gate(tmp_path / "som", tmp_path / "som").passed
    episode = json.loads((tmp_path / "som" / "episodes.jsonl").read_text().splitlines()[0])
    assert agent_label(episode) == "oracle [som]" and agent_label({**episode, "observation": None}) == "oracle"


# ---------------------------------------------------------------------------- datasets, replay, SFT


class ClickByPoint:
    """Offline replay: the dataset's gold, every click turned into a click at the centre of the gold control's
    recorded box; fails loudly if a step comes without its screenshot."""

    privileged = True

    def bind_trajectory(self, golds):
        self.golds = golds
        return True

    def reset(self, task):
        self.last_status = None

    def act(self, obs):
        assert obs.image is not None and obs.image.shape == (768, 1024, 3), "no screenshot"
        gold = self.golds[obs.step]
        action = dict(gold["action"])
        self.last_status = gold["status"]
        if action["type"] == "click":
            box = next(c["box"] for c in obs.controls if c["label"] == str(action["target"]).strip("[]")
                       or c["name"].lower() == str(action["target"]).lower())
            return {"type": "click", "x": (box[0] + box[2]) // 2, "y": (box[1] + box[3]) // 2}
        return action


def test_a_recorded_screenshot_run_replays_from_its_images_and_exports_them_for_sft(tmp_path):
    import shutil

    from lambench.replay.dataset import DatasetError, load_dataset, write_dataset
    from lambench.replay.recorder import record_run
    from lambench.replay.run import ReplayConfig, replay
    from lambench.replay.sft import export_sft

    ids = [t.id for t in MOCKOS if t.suite == "mockos-core" and not t.infeasible][:8]
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=ids, observation="both"), run_dir=tmp_path / "run")
    records, _ = record_run(tmp_path / "run")
    write_dataset(records, tmp_path / "made" / "shots.jsonl")
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "made", moved)  # a dataset travels with its screens/ directory
    shutil.rmtree(tmp_path / "made")
    shutil.rmtree(tmp_path / "run")
    lines = [json.loads(x) for x in (moved / "shots.jsonl").read_text().splitlines()]
    assert all(line["observation"]["screenshot"].startswith("screens/") for line in lines)
    assert all(c["box"] for line in lines for c in line["observation"]["controls"])
    ds = load_dataset(moved / "shots.jsonl")
    assert all(s["observation"]["screenshot"].startswith(str(moved.resolve())) for s in ds.steps)

    clicks = sum(s["gold"]["action"]["type"] == "click" for s in ds.steps)
    assert clicks > 5
    result = replay(ReplayConfig(dataset=str(moved / "shots.jsonl"), agent="tests.test_screen:ClickByPoint",
                                 retries=0), run_dir=tmp_path / "replay")
    m = result.summary["replay"]
    assert result.summary["metrics"]["errored"] == 0 and m["step_success_rate"] == 1.0, m  # a point in the
    # gold control's box is the gold's object
    out = tmp_path / "sft" / "train.jsonl"
    n = export_sft(moved / "shots.jsonl", out)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert n == len(ds.steps) and all(len(r["images"]) == 1 and (out.parent / r["images"][0]).is_file()
                                      for r in rows)
    assert rows[0]["messages"][1]["content"][0] == {"type": "image"}
    tools = {t["function"]["name"]: t["function"] for t in json.loads(rows[0]["tools"])}
    assert {"double_click", "drag"} <= set(tools) and "x" in tools["click"]["parameters"]["properties"]
    assert all(s["meta"]["observation"] == "both" for s in ds.steps)

    lines[0]["observation"]["screenshot"] = "../../../etc/passwd"
    lines[1]["observation"]["screenshot"] = "screens/nothere.png"
    (moved / "bad.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(DatasetError) as err:
        load_dataset(moved / "bad.jsonl")
    assert "line 1: observation.screenshot '../../../etc/passwd' is not under the dataset's directory" in str(err.value)
    assert "line 2: observation.screenshot 'screens/nothere.png' is missing" in str(err.value)


def test_a_point_is_scored_as_the_control_whose_box_holds_it():
    from lambench.metrics.replay import resolve_object, score_step

    controls = [{"label": "3", "name": "Send", "box": [10, 10, 60, 36]},
                {"label": "4", "name": "Dialog", "box": [0, 0, 200, 200]}, {"label": "5", "name": "OK"}]
    gold = {"type": "click", "target": "3"}
    golds = [(gold, resolve_object(gold, controls))]
    for point, obj, ok in [((10, 10), "#4", False), ((300, 5), "@300,5", False), ((100, 100), "#4", False)]:
        pred = {"type": "click", "x": point[0], "y": point[1]}
        assert resolve_object(pred, controls) == obj
        assert score_step(pred, obj, "continue", golds, "continue")["success"] is ok
    controls[1]["box"] = [100, 100, 200, 200]  # no longer over the button: a point on it is the button
    pred = {"type": "click", "x": 59, "y": 35}
    assert score_step(pred, resolve_object(pred, controls), "continue", golds, "continue")["success"] is True


@pytest.mark.parametrize("message", [
    "image input is not supported - hint: you may need to provide the mmproj",  # llama.cpp's llama-server
    'can only concatenate str (not "list") to str',  # llama-cpp-python's server with a text-only GGUF (seen here)
])
def test_a_text_only_model_sent_a_screenshot_is_one_clear_error_not_retries(message):
    from tests.fake_servers import OpenAIServer, error

    with OpenAIServer() as oai:
        oai.script(*[error(500, message)] * 5)
        rec = run_episode(LamEnv(TASK).task, "openai:text-only", seed=0, trial=0, observation="screenshot",
                          agent_options={"base_url": oai.url, "api_key": "sk-test", "max_retries": 3})
        assert len(oai.bodies) == 1  # not retried: it cannot get better
    assert "does not take images" in rec["error"] and "--observation text" in rec["error"]


def test_other_server_errors_after_a_screenshot_keep_their_own_handling():
    from tests.fake_servers import OpenAIServer, error

    with OpenAIServer() as oai:  # an unrelated 500 is retried (then an error of its own), not a "no images" error
        oai.script(error(500, "list index out of range"),
                   OpenAIServer.tool_call("finish", {"status": "failure", "message": "stop"}))
        rec = run_episode(LamEnv(TASK).task, "openai:vision", seed=0, trial=0, observation="screenshot",
                          agent_options={"base_url": oai.url, "api_key": "sk-test", "max_retries": 2})
    assert rec["error"] is None and rec["claim"] == "failure"


def test_the_viewer_shows_the_screens_of_an_image_mode_run(tmp_path):
    from lambench.view import build_view

    ids = [t.id for t in MOCKOS if t.suite == "mockos-core"][:2]
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=ids, observation="som"), run_dir=tmp_path / "run")
    page = build_view([tmp_path / "run"], tmp_path / "site")
    site = page.parent
    copied = sorted(p.name for p in (site / "screens").iterdir())
    assert copied == sorted(p.name for p in (tmp_path / "run" / "screens").iterdir())
    data = "".join(p.read_text() for p in (site / "data").glob("c*.js"))
    assert data.count('"screenshot_url":"screens/') > len(ids) and '"screenshot":' not in data
    with Image.open(site / "screens" / copied[0]) as im:
        assert im.size == (1024, 768)
    # a second run whose file of the same name holds another picture: both shown, neither replaces the other
    import shutil

    shutil.copytree(tmp_path / "run", tmp_path / "other")
    first = sorted((tmp_path / "other" / "screens").iterdir())[0]
    first.write_bytes(sorted((tmp_path / "run" / "screens").iterdir())[1].read_bytes()[:-1] + b"\0")
    site2 = build_view([tmp_path / "run", tmp_path / "other"], tmp_path / "site2").parent
    assert len(list((site2 / "screens").iterdir())) == len(copied) + 1
    # a path in observations.jsonl that climbs out of the run directory is not copied, nor shown
    (tmp_path / "secret.png").write_bytes(b"\x89PNG secret")
    obs_path = tmp_path / "other" / "observations.jsonl"
    lines = [json.loads(x) for x in obs_path.read_text().splitlines()]
    lines[0]["observations"][0]["screenshot"] = "screens/../../secret.png"
    obs_path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    site3 = build_view([tmp_path / "other"], tmp_path / "site3").parent
    shown = [p.read_bytes() for p in (site3 / "screens").iterdir()]
    assert b"\x89PNG secret" not in shown and "secret" not in "".join(
        p.read_text() for p in (site3 / "data").glob("c*.js"))


@pytest.mark.slow  # ~9 s: every mock-OS task
def test_random_pointing_never_crashes_the_desktop_and_is_scored_like_any_agent():
    """Points off the screen, garbage coordinates, drags and typing anywhere over every mock-OS task: no episode
    errors (all the agent's doing is its outcome), nothing is verified done, and claims of success are false."""
    errors, successes, claims, false, invalid = [], 0, 0, 0, 0
    for task in MOCKOS:
        rec = run_episode(task, "tests.agents_for_tests:RandomPointer", seed=0, trial=0, observation="both")
        if rec["error"]:
            errors.append((task.id, rec["error"]))
        successes += rec["success"] and not task.infeasible
        claims += rec["claim"] == "success"
        false += rec["false_success"]
        invalid += rec["n_invalid"]
        for step in rec["steps"]:
            if step["action"] and step["action"]["type"] in ("click", "double_click") and "x" in step["action"]:
                x, y = step["action"]["x"], step["action"]["y"]
                off = not (0 <= x < 1024 and 0 <= y < 768)
                assert off == ("outside the screen" in (step["error"] or "")), step
    assert not errors, errors[:3]
    assert successes <= 0.02 * len(MOCKOS) and claims > 0 and false == claims and invalid > 0


def test_a_double_click_never_answers_the_confirmation_dialog_its_first_click_opened():
    """Labels are positions in the tree: once the first click opens "Remove the account?", the same label may be
    the dialog's OK button (it was, under layout-shuffle, on seeds 22 and 31).  The second click does nothing then."""
    tried = 0
    for seed in range(40):
        env = LamEnv("files-clean-downloads-txt@0", variant="layout-shuffle", observation="both")
        env.reset(seed=seed)
        *_, info = env.step({"type": "open_app", "app": "Settings"})
        guest = next(c for c in info["controls"] if c["role"] == "listitem" and c["name"] == "guest")
        *_, info = env.step({"type": "click", "target": guest["label"]})
        remove = next(c for c in info["controls"] if c["name"] == "Remove user")
        for how in ({"target": remove["label"]}, {"x": remove["box"][0] + 3, "y": remove["box"][1] + 3}):
            probe = LamEnv("files-clean-downloads-txt@0", variant="layout-shuffle", observation="both")
            probe.reset(seed=seed)
            probe.step({"type": "open_app", "app": "Settings"})
            probe.step({"type": "click", "target": guest["label"]})
            *_, res = probe.step({"type": "double_click", **how})
            tried += 1
            assert res["ok"] and "removed" not in res["result"], (seed, how, res["result"])
            assert "a dialog opened" in res["result"] and any(c["role"] == "dialog" for c in res["controls"])
            assert "guest" in json.dumps(probe.sandbox.state())
    assert tried == 80


def test_recording_takes_no_file_from_outside_the_run_and_names_copies_by_content(tmp_path):
    """observations.jsonl is written by the run, but a run directory can come from anywhere: a screenshot path that
    leaves it (or is not a PNG) makes the episode skipped, never copied into the dataset."""
    from lambench.replay.dataset import load_dataset, write_dataset
    from lambench.replay.recorder import record_run

    ids = [t.id for t in MOCKOS if t.suite == "mockos-core" and not t.infeasible][:3]
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=ids, observation="both"), run_dir=tmp_path / "run")
    (tmp_path / "secret.png").write_bytes((tmp_path / "run" / "screens").iterdir().__next__().read_bytes())
    (tmp_path / "run" / "screens" / "fake.png").write_text("not an image")
    path = tmp_path / "run" / "observations.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[0]["observations"][0]["screenshot"] = "../secret.png"
    lines[1]["observations"][0]["screenshot"] = "screens/fake.png"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    records, report = record_run(tmp_path / "run")
    assert report.episodes == 1 and sum(report.skipped.values()) == 2
    assert any("outside the run directory" in why for why in report.skipped)
    write_dataset(records, tmp_path / "ds" / "d.jsonl")
    names = {p.name for p in (tmp_path / "ds" / "screens").iterdir()}
    import hashlib

    assert all(n == hashlib.sha256((tmp_path / "ds" / "screens" / n).read_bytes()).hexdigest()[:24] + ".png"
               for n in names)
    assert len(load_dataset(tmp_path / "ds" / "d.jsonl").steps) == len(records)
    (tmp_path / "ds" / "screens" / sorted(names)[0]).write_text("GIF89a not a png")
    from lambench.replay.dataset import DatasetError

    with pytest.raises(DatasetError, match="is not a readable PNG"):
        load_dataset(tmp_path / "ds" / "d.jsonl")


@pytest.mark.parametrize("action,why", [
    ({"type": "click", "x": 30, "y": 748}, "at a point (x, y)"),
    ("click(30, 748)", "at a point (x, y)"),
    ({"type": "double_click", "target": "1"}, "(a pointer action)"),
    ({"type": "drag", "x": 1, "y": 2, "to_x": 3, "to_y": 4}, "(a pointer action)"),
    ({"type": "scroll", "x": 500, "y": 300}, "at a point (x, y)"),
    ({"type": "type", "text": "hi"}, "without a target"),
])
def test_a_text_run_keeps_label_actions_only_and_counts_point_actions_invalid(action, why):
    """Without a screenshot a point is a blind guess: in a text run it stays the invalid action it was before points
    existed (same invalid counts), with a message saying what to do."""
    env = _env("text")
    before = json.dumps(env.sandbox.state(), sort_keys=True)
    _, _, _, _, info = env.step(action)
    assert not info["valid"] and why in info["error"] and "address a control by its label" in info["error"]
    assert json.dumps(env.sandbox.state(), sort_keys=True) == before and info["focused"] == "desktop"
    _, _, _, _, info = env.step({"type": "scroll", "target": ""})  # an empty target was always taken
    assert info["valid"]


def test_the_self_check_flags_controls_that_do_not_fit_on_the_screen():
    from lambench.selfcheck import off_screen

    task = MOCKOS[0]
    taskbar = [{"label": str(i + 1), "role": "button", "name": n, "value": ""}
               for i, n in enumerate(["Files", "Writer", "Mail", "Calendar", "Settings"])]
    fields = [{"label": str(i + 6), "role": "edit", "name": f"Field {i}", "value": "x" * 400} for i in range(40)]
    fits = [{"text": "", "controls": taskbar + fields[:5]}]
    assert off_screen(task, fits) == []
    problems = off_screen(task, fits + [{"text": "", "controls": taskbar + fields}])
    assert len(problems) == 1 and problems[0].startswith("step 1: ") and "do not fit on the screen" in problems[0]
    shell = next(t for t in load_suite("shell-core"))
    assert off_screen(shell, [{"text": "", "controls": fields}]) == []  # no screen, nothing to check
