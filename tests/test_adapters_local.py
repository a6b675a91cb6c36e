"""Local model adapters: tool-call formats, the hf: adapter on a real (tiny, random) transformers model,
openai: against `transformers serve` serving it, replay: re-runs, and the prompt's context budget."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lambench.action import parse_action
from lambench.agents.base import AgentSpecError, Observation, make_agent
from lambench.agents.toolcalls import extract_tool_call
from lambench.episode import run_episode
from lambench.run import RunConfig, run
from lambench.task import get_task

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _parsed(text):
    res = parse_action(extract_tool_call(text))
    return res.action.model_dump() if res.valid else res.error


@pytest.mark.parametrize("text, expected", [
    ('{"type": "click", "target": "7"}', {"type": "click", "target": "7"}),
    ('Sure! ```json\n{"type": "open_app", "app": "Mail"}\n```', {"type": "open_app", "app": "Mail"}),
    ('<tool_call>\n{"name": "click", "arguments": {"target": "Send"}}\n</tool_call><|im_end|>',
     {"type": "click", "target": "Send"}),
    ('<tool_call>{"name": "mail.send", "arguments": {"to": ["a@x.example"], "subject": "Hi", "body": "b"}}</tool_call>',
     {"type": "call", "tool": "mail.send", "args": {"to": ["a@x.example"], "subject": "Hi", "body": "b"}}),
    ('[{"name": "type", "arguments": {"target": "4", "text": "hello"}}]',  # xLAM
     {"type": "type", "target": "4", "text": "hello"}),
    ('{"tool_calls": [{"name": "wait", "arguments": {}}]}', {"type": "wait"}),
    ('<|python_tag|>{"name": "hotkey", "parameters": {"keys": "ctrl+s"}}<|eom_id|>',  # Llama 3.1
     {"type": "hotkey", "keys": "ctrl+s"}),
    ('{"name": "finish", "parameters": {"status": "infeasible", "message": "no such file"}}',
     {"type": "finish", "status": "infeasible", "message": "no such file"}),
    ('[TOOL_CALLS] [{"name": "scroll", "arguments": {"direction": "up"}}]</s>',  # Mistral v0.3
     {"type": "scroll", "target": None, "direction": "up"}),
    ('[TOOL_CALLS]select[ARGS]{"target": "9", "option": "Weekly"}',  # Mistral, newer templates
     {"type": "select", "target": "9", "option": "Weekly"}),
])
def test_tool_call_formats(text, expected):
    assert _parsed(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("<tool_call>not json</tool_call>", "no JSON object"),
    ('[{"name": "click", "arguments": {"target": "1"}}, {"name": "wait", "arguments": {}}]', "exactly one action"),
    ('<tool_call>{"name": "click", "arguments": "{broken"}</tool_call>', "not valid JSON"),
    ("I would click the button.", "no JSON object"),
    ("", "empty output"),
    ("[6]", "must be a JSON object"),
    ("<tool_call>6</tool_call>", "no JSON object"),
])
def test_tool_call_garbage_is_an_invalid_action(text, fragment):
    assert fragment in _parsed(text)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("torch", reason="pip install 'lambench[hf]'")
    pytest.importorskip("transformers", reason="pip install 'lambench[hf]'")
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _check_garbage_episode(rec):
    assert rec["error"] is None, rec["error"]
    assert rec["termination"] == "max_steps" and rec["n_steps"] == rec["n_invalid"] > 0
    assert all(not s["valid"] and s["error"] for s in rec["steps"])
    assert rec["tokens_in"] > 0 and rec["tokens_out"] > 0
    assert not rec["success"] and rec["claim"] == "none"


def test_hf_adapter_runs_real_generation_and_records_garbage_as_invalid(tiny_model):
    task = get_task("mail-send-report")
    rec = run_episode(task, f"hf:{tiny_model}", seed=0, trial=0, agent_options={"max_tokens": 12, "device": "cpu"})
    _check_garbage_episode(rec)
    assert rec["n_steps"] == task.max_steps
    # greedy decoding is deterministic
    again = run_episode(task, f"hf:{tiny_model}", seed=0, trial=0, agent_options={"max_tokens": 12})
    assert [s["raw"] for s in again["steps"]] == [s["raw"] for s in rec["steps"]]


def test_hf_adapter_prompt_uses_the_chat_template_with_tools(tiny_model):
    agent = make_agent(f"hf:{tiny_model}", options={"max_tokens": 4})
    task = get_task("mail-send-report")
    from lambench.env import LamEnv

    env = LamEnv(task)
    text, info = env.reset(seed=0)
    agent.reset(task.view().model_copy(update={"tools": env.sandbox.tools()}))
    obs = Observation(text=text, controls=info["controls"], history=[])
    msgs = agent.messages(obs)
    assert msgs[0]["role"] == "system" and "finish" in msgs[0]["content"]
    assert task.instruction in msgs[-1]["content"] and text in msgs[-1]["content"]
    ids = agent._prompt_ids(msgs, agent.tools)
    prompt = agent.tokenizer.decode(ids[0])
    assert prompt.startswith("<|tools|>") and "mail.send" in prompt and prompt.endswith("<|assistant|>")


def test_context_budget_in_tokens(tiny_model):
    agent = make_agent(f"hf:{tiny_model}", options={"context_tokens": 600})
    agent.reset(get_task("mail-send-report").view())
    history = [{"type": "type", "target": str(i), "text": f"some words number {i}"} for i in range(200)]
    long_obs = "\n".join(f'[{i}] listitem "report-{i}.txt"' for i in range(400))
    user = agent.messages(Observation(text=long_obs, history=history))[-1]["content"]
    assert agent._count(user) <= 600
    assert "earlier actions not shown" in user and "observation cut to fit" in user
    assert '"some words number 199"' in user  # the newest action is kept
    chars = make_agent("openai:m", options={"base_url": "http://127.0.0.1:9", "context_chars": 2000})
    chars.reset(get_task("mail-send-report").view())
    assert len(chars.messages(Observation(text=long_obs, history=history))[-1]["content"]) <= 2000


def test_a_cut_history_keeps_its_start_for_several_steps():
    """Over budget, the earliest actions go in blocks: consecutive steps share the prompt up to the newest
    action, so a server's prompt cache (llama.cpp's prefix match) is reused instead of re-reading it all."""
    agent = make_agent("openai:m", options={"base_url": "http://127.0.0.1:9", "context_chars": 3000})
    agent.reset(get_task("mail-send-report").view())
    obs_text = "\n".join(f'[{i}] listitem "report-{i}.txt"' for i in range(60))
    history = [{"type": "type", "target": str(i), "text": f"some words number {i}"} for i in range(80)]
    turns = [agent.messages(Observation(text=obs_text, history=history[:n]))[-1]["content"] for n in range(40, 80)]
    assert all(len(t) <= 3000 for t in turns) and all("earlier actions not shown" in t for t in turns)
    kept = sum(b.startswith(a.split("\n\nObservation:")[0]) for a, b in zip(turns, turns[1:]))
    assert kept >= 0.75 * (len(turns) - 1), kept
    assert all(f'"some words number {n - 1}"' in t for n, t in zip(range(40, 80), turns))  # the newest is kept


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def transformers_server(tiny_model):
    # the venv's own console script first: `.venv/bin/python -m pytest` does not put .venv/bin on PATH
    local = Path(sys.executable).parent / "transformers"
    exe = str(local) if local.exists() else shutil.which("transformers")
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        exe = None
    if exe is None:
        if CI:
            pytest.fail("`transformers serve` is not installed (pip install 'transformers[serving]'); CI needs it")
        pytest.skip("`transformers serve` is not installed: pip install 'transformers[serving]'")
    port = _free_port()
    log = open(tiny_model.parent / "serve.log", "w")
    proc = subprocess.Popen([exe, "serve", str(tiny_model), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                pytest.fail("transformers serve did not start:\n" + (tiny_model.parent / "serve.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_openai_adapter_against_transformers_serve(tiny_model, transformers_server, tmp_path):
    task = get_task("mail-send-report")
    opts = {"base_url": transformers_server, "max_tokens": 12, "request_timeout": 120}
    rec = run_episode(task, f"openai:{tiny_model}", seed=0, trial=0, agent_options=opts)
    _check_garbage_episode(rec)
    # through the runner: the tokens reach the summary, the episode is scored (not errored)
    result = run(RunConfig(suite="mockos-core", agent=f"openai:{tiny_model}", task_ids=["mail-send-report@0"],
                           agent_options=opts), run_dir=tmp_path / "run")
    m = result.summary["metrics"]
    assert m["errored"] == 0 and m["episodes"] == 1 and m["invalid_action_rate"] == 1.0
    assert m["tokens_in"] > 0 and m["mean_latency_s_per_step"] > 0


def test_replay_adapter_reproduces_a_run(tmp_path):
    first = tmp_path / "first"
    tasks = ["mail-send-report@0", "files-clean-downloads-txt@0", "settings-enable-bluetooth"]
    run(RunConfig(suite="mockos-core", agent="random", task_ids=tasks, perturb=["popup"], trials=2), run_dir=first)
    again = run(RunConfig(suite="mockos-core", agent=f"replay:{first}", task_ids=tasks, perturb=["popup"], trials=2),
                run_dir=tmp_path / "again")
    assert again.summary["metrics"]["errored"] == 0

    def load(d):
        eps = [json.loads(x) for x in (d / "episodes.jsonl").open()]
        return {(e["task_id"], e["variant"], e["seed"], e["trial"]):
                (e["success"], e["claim"], e["checks"], e["state_changes"], [s["action"] for s in e["steps"]])
                for e in eps}

    assert load(first) == load(tmp_path / "again") and len(load(first)) == 12
    # an episode the recorded run does not have is an infrastructure error naming it
    other = run(RunConfig(suite="mockos-core", agent=f"replay:{first}", task_ids=["cal-create-dentist@0"], retries=0),
                run_dir=tmp_path / "other")
    ep = json.loads((tmp_path / "other/episodes.jsonl").read_text())
    assert "no episode for task 'cal-create-dentist@0'" in ep["error"] and other.summary["metrics"]["errored"] == 1


def test_adapter_option_errors_are_clear(tiny_model):
    with pytest.raises(AgentSpecError, match="unknown option"):
        make_agent(f"hf:{tiny_model}", options={"temprature": 0.1})
    with pytest.raises(AgentSpecError, match="protocol must be auto, tools or json"):
        make_agent(f"hf:{tiny_model}", options={"protocol": "xml"})
    with pytest.raises(AgentSpecError, match="dtype must be"):
        make_agent(f"hf:{tiny_model}", options={"dtype": "int3"})
    with pytest.raises(AgentSpecError, match="prompt template"):
        make_agent(f"hf:{tiny_model}", options={"prompt_template": "/no/such/template.yaml"})


def test_prompt_template_file(tiny_model, tmp_path):
    (tmp_path / "t.yaml").write_text("system: You are a careful desktop agent.\n"
                                     "user: 'TASK {request} | DONE {history} | SCREEN {observation}'\n")
    agent = make_agent(f"hf:{tiny_model}", options={"prompt_template": str(tmp_path / "t.yaml"),
                                                     "protocol": "json"})
    agent.reset(get_task("mail-send-report").view())
    msgs = agent.messages(Observation(text="[1] button \"OK\"", history=[{"type": "wait"}]))
    assert msgs[0]["content"].startswith("You are a careful desktop agent.")
    assert "Reply with exactly one JSON object" in msgs[0]["content"]  # the JSON protocol note
    assert msgs[-1]["content"].startswith("TASK ") and '1. {"type": "wait"}' in msgs[-1]["content"]
    (tmp_path / "bad.yaml").write_text("user: '{request} {nope}'\n")
    with pytest.raises(AgentSpecError, match="may use"):
        make_agent(f"hf:{tiny_model}", options={"prompt_template": str(tmp_path / "bad.yaml")})


def test_missing_sdk_message_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "anthropic", None)  # as if not installed
    with pytest.raises(AgentSpecError, match=r"pip install 'lambench\[api\]'"):
        make_agent("anthropic:claude-x", options={"api_key": "k"})


def test_secrets_in_agent_options_never_reach_config_json(tmp_path):
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=["mail-send-report@0"],
                  agent_options={"api_key": "sk-very-secret", "temperature": 0.5}), run_dir=tmp_path / "r")
    cfg = json.loads((tmp_path / "r/config.json").read_text())
    assert cfg["agent_options"] == {"api_key": "***", "temperature": 0.5}
    assert "sk-very-secret" not in (tmp_path / "r/config.json").read_text()


def test_token_counts_are_recorded_and_compared_but_token_secrets_are_not(tmp_path):
    from lambench.agents.clients import is_secret_name
    from lambench.run.config import config_diffs, redacted

    opts = {"api_key": "a", "hf_token": "b", "apiKey": "c", "X-Auth": "d", "password": "e", "max_tokens": 32,
            "max_new_tokens": 64, "temperature": 0.5, "tokenizer": "t"}
    shown = redacted({"agent_options": opts})["agent_options"]
    assert {k for k, v in shown.items() if v == "***"} == {"api_key", "hf_token", "apiKey", "X-Auth", "password"}
    assert shown["max_tokens"] == 32 and shown["max_new_tokens"] == 64 and shown["tokenizer"] == "t"
    assert not is_secret_name("max_tokens") and is_secret_name("access_token") and is_secret_name("sig")
    # one-word spellings of a secret are masked too (a word split alone would let them through)
    assert all(map(is_secret_name, ("apitoken", "accesstoken", "secretkey", "hftoken", "APIKEY", "tokens_secret")))
    config = RunConfig(suite="mockos-core", agent="oracle", task_ids=["mail-send-report@0"],
                       agent_options={"max_tokens": 32})
    run(config, run_dir=tmp_path / "r")
    old = json.loads((tmp_path / "r/config.json").read_text())
    assert old["agent_options"] == {"max_tokens": 32}
    changed = config.model_copy(update={"agent_options": {"max_tokens": 64}})
    assert any("max_tokens" in d for d in config_diffs(old, changed, old["suite_version"], tmp_path / "r"))
    masked = {**old, "agent_options": {"max_tokens": "***"}}  # as an older lambench wrote it: resumes
    assert config_diffs(masked, config, old["suite_version"], tmp_path / "r") == []


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers (a hung endpoint)."""
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/v1"
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def test_a_hung_endpoint_is_an_infrastructure_error_not_a_scored_timeout(silent_server, tmp_path):
    opts = {"base_url": silent_server, "request_timeout": 30}
    rec = run_episode(get_task("mail-send-report"), "openai:m", seed=0, trial=0, step_timeout=1.0,
                      agent_options=opts)
    assert rec["error"] and "did not answer within the step timeout" in rec["error"]
    assert rec["termination"] == "error"
    result = run(RunConfig(suite="mockos-core", agent="openai:m", task_ids=["mail-send-report@0", "mail-send-report@0"][:1],
                           step_timeout=1.0, retries=1, agent_options=opts), run_dir=tmp_path / "r")
    assert result.summary["metrics"]["errored"] == 1 and result.summary["metrics"]["episodes"] == 0


def test_a_prompt_longer_than_the_model_is_the_models_failure(tiny_model):
    from transformers import AutoConfig

    agent = make_agent(f"hf:{tiny_model}", options={"max_tokens": 4, "context_tokens": 100000})
    limit = AutoConfig.from_pretrained(tiny_model).max_position_embeddings
    agent.reset(get_task("mail-send-report").view())
    out = agent.act(Observation(text="word " * (limit + 10), history=[]))
    assert "exceeds the model's context window" in out and not parse_action(out).valid


def test_resuming_with_other_agent_options_is_refused(tmp_path):
    from lambench.run import RunDirError

    cfg = dict(suite="mockos-core", agent="oracle", task_ids=["mail-send-report@0"])
    run(RunConfig(**cfg, agent_options={"temperature": 0.0, "cache": "/tmp/a"}), run_dir=tmp_path / "r")
    run(RunConfig(**cfg, agent_options={"temperature": 0.0, "cache": "/tmp/b"}), run_dir=tmp_path / "r")  # neutral
    with pytest.raises(RunDirError, match="agent options"):
        run(RunConfig(**cfg, agent_options={"temperature": 1.0}), run_dir=tmp_path / "r")


def test_templates_without_a_system_role_get_it_folded_in(tiny_model, tmp_path):
    import shutil as sh

    from transformers import AutoTokenizer

    d = tmp_path / "nosys"
    sh.copytree(tiny_model, d)
    tok = AutoTokenizer.from_pretrained(d)
    tok.chat_template = ("{%- for m in messages %}{%- if m['role'] == 'system' %}{{ raise_exception('System role "
                         "not supported') }}{%- endif %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor -%}"
                         "{%- if add_generation_prompt %}<|assistant|>{% endif -%}")  # ignores tools, too
    tok.save_pretrained(d)
    rec = run_episode(get_task("settings-enable-bluetooth"), f"hf:{d}", seed=0, trial=0,
                      agent_options={"max_tokens": 4})
    assert rec["error"] is None and rec["n_steps"] > 0
    agent = make_agent(f"hf:{d}", options={"max_tokens": 4})
    agent.reset(get_task("settings-enable-bluetooth").view().model_copy(update={"tools": [
        {"type": "function", "function": {"name": "click", "parameters": {"type": "object", "properties": {}}}}]}))
    agent.act(Observation(text="x", history=[]))
    assert agent._tools_in_template is False and agent._json_mode()  # tools described in the prompt instead
    prompt = agent.tokenizer.decode(agent._prompt_ids(agent.messages(Observation(text="x")), None)[0])
    assert prompt.startswith("<|user|>") and "Reply with exactly one JSON object" in prompt


# ---------------------------------------------------------------------------- a vision-language model


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    pytest.importorskip("torch", reason="pip install 'lambench[hf]'")
    pytest.importorskip("transformers", reason="pip install 'lambench[hf]'")
    from tests.tiny_model import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm") / "model")


def test_hf_vision_language_model_gets_the_screenshot_through_its_processor(tiny_vlm, tiny_model):
    from lambench.agents.base import Observation
    from lambench.env import LamEnv

    task = get_task("mail-send-report@0")
    opts = {"max_tokens": 8, "device": "cpu"}
    both = run_episode(task, f"hf:{tiny_vlm}", seed=0, trial=0, agent_options=opts, observation="both")
    _check_garbage_episode(both)  # a random model: every answer invalid, recorded, nothing crashes
    again = run_episode(task, f"hf:{tiny_vlm}", seed=0, trial=0, agent_options=opts, observation="both")
    assert [s["raw"] for s in again["steps"]] == [s["raw"] for s in both["steps"]]  # greedy: deterministic

    env = LamEnv(task, observation="both")
    obs, info = env.reset(seed=0)
    agent = make_agent(f"hf:{tiny_vlm}", options=opts)
    agent.reset(task.view().model_copy(update={"tools": env.tools()}))
    seen = Observation(text=obs["text"], controls=info["controls"], image=obs["image"])
    assert agent.messages(seen)[-1]["content"][0]["type"] == "image"  # the image part first
    agent.act(seen)
    with_image = agent.last_usage["tokens_in"]
    agent.act(Observation(text=obs["text"], controls=info["controls"]))
    assert with_image - agent.last_usage["tokens_in"] == 4  # the image tokens the processor put in: 2x2 patches

    blind = run_episode(task, f"hf:{tiny_model}", seed=0, trial=0, agent_options=opts, observation="screenshot")
    assert "text-only checkpoint" in blind["error"] and "--observation text" in blind["error"]
