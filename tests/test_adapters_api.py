"""The ``openai:`` and ``anthropic:`` adapters, driven through the real SDK clients against scripted
HTTP servers on 127.0.0.1 (tests/fake_servers.py): requests, tool calls, tokens and cost, retries,
timeouts, the switch to JSON in text, error messages, the response cache, offline replay and the
concurrency limit.  No test sleeps through a backoff: the waits the retry loop asks for are recorded.
"""

from __future__ import annotations

import inspect
import json
import threading

import pytest

from lambench.agents import AgentSpecError, make_agent
from lambench.agents import llm as llm_module
from lambench.agents.base import Observation
from lambench.agents.clients import with_retries
from lambench.episode import run_episode
from lambench.prompts import SYSTEM_PROMPT, action_to_tool_call, format_history
from lambench.run import RunConfig, run
from lambench.task import get_task
from tests.fake_servers import AnthropicServer, OpenAIServer, Reply, closed_port_url, delay, error, html

TASK = "mail-send-report@0"  # one instance of the template: its recipient, subject and file are parameters
_TYPED = {a["target"]: a["text"] for a in get_task(TASK).gold if a["type"] == "type"}
SEND = {"to": [_TYPED["To"]], "subject": _TYPED["Subject"], "body": _TYPED["Body"],
        "attachments": [_TYPED["Attachment path"]]}
SEND_ACTION = {"type": "call", "tool": "mail.send", "args": SEND}
FINISH = {k: v for k, v in get_task(TASK).gold[-1].items() if k in ("status", "message")}
DATASET = "tasks/replay/mockos-core.jsonl.gz"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch):
    """The backoff waits the adapters ask for, recorded instead of slept."""
    waits: list[float] = []

    def recorded(call, policy, *, what, sleep=None, on_retry=None):
        return with_retries(call, policy, what=what, sleep=waits.append, on_retry=on_retry)

    monkeypatch.setattr(llm_module, "with_retries", recorded)
    return waits


@pytest.fixture
def oai():
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def ant():
    with AnthropicServer() as server:
        yield server


def opts(server=None, *, base_url=None, **kw):
    return {"base_url": base_url or server.url, "api_key": "sk-test", "request_timeout": 5.0, "max_retries": 2, **kw}


def episode(server=None, spec="openai:gpt-test", task=TASK, seed=0, **kw):
    return run_episode(get_task(task), spec, seed=seed, trial=0, agent_options=opts(server, **kw))


def user_turn(body):
    return body["messages"][-1]["content"]


def oai_tools(body):
    return {t["function"]["name"]: t["function"] for t in body.get("tools") or []}


def episodes(run_dir):
    return [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------------------- 1-3: answers of the model


def test_native_tool_calls_request_tokens_and_cost(oai, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("gpt-test: {input: 2.5, output: 10.0}\nother-model: {input: 100, output: 100}\n")
    oai.script(OpenAIServer.tool_call("mail_send", SEND, usage=(1200, 30)),
               OpenAIServer.tool_call("finish", FINISH, usage=(1300, 20)))
    result = run(RunConfig(suite="mockos-core", agent="openai:gpt-test", task_ids=[TASK], seed=7, retries=0,
                           agent_options=opts(oai, temperature=0.3, max_tokens=256, price_table=str(prices))),
                 run_dir=tmp_path / "run")
    [rec] = episodes(tmp_path / "run")
    assert rec["error"] is None and rec["termination"] == "finish" and rec["success"]
    assert [s["action"] for s in rec["steps"]] == [SEND_ACTION, {"type": "finish", **FINISH}]
    assert all(s["valid"] for s in rec["steps"])
    # tokens and cost: (1200*2.5 + 30*10)/1e6 = 0.0033; (1300*2.5 + 20*10)/1e6 = 0.00345
    assert [(s["tokens_in"], s["tokens_out"]) for s in rec["steps"]] == [(1200, 30), (1300, 20)]
    assert [s["cost_usd"] for s in rec["steps"]] == pytest.approx([0.0033, 0.00345])
    assert (rec["tokens_in"], rec["tokens_out"]) == (2500, 50) and rec["cost_usd"] == pytest.approx(0.00675)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["metrics"]
    assert summary == result.summary["metrics"]
    assert (summary["tokens_in"], summary["tokens_out"]) == (2500, 50)
    assert summary["cost_usd"] == pytest.approx(0.00675) and summary["episodes_with_cost"] == 1
    assert summary["mean_latency_s_per_step"] > 0
    # what the server received
    assert len(oai.requests) == 2
    first = oai.bodies[0]
    assert oai.requests[0]["path"] == "/v1/chat/completions"
    assert oai.requests[0]["headers"]["authorization"] == "Bearer sk-test"
    assert first["model"] == "gpt-test" and first["temperature"] == 0.3 and first["max_tokens"] == 256
    assert first["seed"] == 7
    assert first["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert first["messages"][1]["role"] == "user" and get_task(TASK).instruction in user_turn(first)
    tools = oai_tools(first)
    # the environment's tools, under names the API accepts (mail.send -> mail_send; the server refuses dots)
    assert {"click", "type", "open_app", "finish", "mail_send", "files_read"} <= set(tools)
    assert tools["mail_send"]["description"].startswith("Send a new message")
    assert tools["mail_send"]["parameters"]["required"] == ["to"]
    assert all(t["type"] == "function" for t in first["tools"])
    assert "mail.send" in user_turn(oai.bodies[1])  # the history shows the environment's name


def test_malformed_tool_call_arguments_are_an_invalid_step(oai):
    oai.script(OpenAIServer.tool_call("click", '{"target": "Compose"'),  # cut-off JSON
               OpenAIServer.tool_call("open_app", {"app": "Mail"}),
               OpenAIServer.tool_call("finish", {"status": "failure", "message": "stopping"}))
    rec = episode(oai)
    assert rec["error"] is None and rec["termination"] == "finish"
    bad, ok, fin = rec["steps"]
    assert not bad["valid"] and "not valid JSON" in bad["error"]
    assert bad["raw"] == {"name": "click", "arguments": '{"target": "Compose"'}
    assert ok["valid"] and ok["action"] == {"type": "open_app", "app": "Mail"} and fin["valid"]
    assert rec["n_invalid"] == 1
    assert "not valid JSON" in user_turn(oai.bodies[1])  # the model is told what was wrong


def test_plain_text_answers_are_parsed_when_they_hold_an_action(oai):
    oai.script(OpenAIServer.text('Sure. I will open Mail first: {"type": "open_app", "app": "Mail"}'),
               OpenAIServer.text("I am not sure what to do here."),
               OpenAIServer.text('```json\n{"type": "finish", "status": "failure", "message": "gave up"}\n```'))
    rec = episode(oai)
    assert rec["error"] is None and rec["termination"] == "finish"
    prose, nothing, fenced = rec["steps"]
    assert prose["valid"] and prose["action"] == {"type": "open_app", "app": "Mail"}
    assert not nothing["valid"] and "no JSON object" in nothing["error"]
    assert fenced["valid"] and fenced["action"]["type"] == "finish"
    assert rec["claim"] == "failure"


def test_a_model_that_never_finishes_ends_by_max_steps():
    with OpenAIServer(default=OpenAIServer.text("Let me think about it some more.", usage=(50, 5))) as server:
        rec = episode(server)
        assert len(server.requests) == get_task(TASK).max_steps
    assert rec["error"] is None and rec["termination"] == "max_steps"
    assert rec["n_steps"] == rec["n_invalid"] == get_task(TASK).max_steps
    assert rec["tokens_in"] == 50 * rec["n_steps"] and not rec["success"] and rec["claim"] == "none"


# ---------------------------------------------------------------------------- 4-5: retries and timeouts


@pytest.mark.parametrize("headers, wait", [({"Retry-After": "2"}, 2.0),
                                           ({"retry-after-ms": "1500", "Retry-After": "2"}, 1.5)])
def test_429_honours_retry_after(oai, sleeps, headers, wait):
    oai.script(error(429, "Rate limit reached for gpt-test on requests per min.", type="requests",
                     code="rate_limit_exceeded", headers=headers),
               OpenAIServer.tool_call("finish", FINISH))
    rec = episode(oai)
    assert sleeps == [wait]
    assert rec["error"] is None and rec["steps"][0]["valid"] and len(oai.requests) == 2


def test_5xx_is_retried_with_backoff(oai, sleeps):
    oai.script(error(500, "The server had an error while processing your request.", type="server_error"),
               error(503, "Service unavailable"), OpenAIServer.tool_call("finish", FINISH))
    rec = episode(oai, max_retries=3)
    assert rec["error"] is None and rec["steps"][0]["valid"] and len(oai.requests) == 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0  # full jitter, base 1 s


def test_429_out_of_quota_is_not_retried(oai, sleeps):
    oai.script(error(429, "You exceeded your current quota, please check your plan and billing details.",
                     type="insufficient_quota", code="insufficient_quota"))
    rec = episode(oai)
    assert "out of quota" in rec["error"] and len(oai.requests) == 1 and sleeps == []


def test_a_server_that_keeps_failing_is_an_infrastructure_error(tmp_path, sleeps):
    with OpenAIServer(default=error(500, "upstream exploded", type="server_error")) as server:
        rec = episode(server, max_retries=2)
        assert rec["termination"] == "error" and rec["steps"] == []
        assert "3 attempt(s)" in rec["error"] and "500 server error: upstream exploded" in rec["error"]
        assert len(server.requests) == 3 and len(sleeps) == 2

        server.requests.clear()
        result = run(RunConfig(suite="mockos-core", agent="openai:gpt-test", task_ids=[TASK], retries=1,
                               agent_options=opts(server, max_retries=1)), run_dir=tmp_path / "run")
        assert len(server.requests) == 4  # 2 attempts of the episode x 2 requests
    [rec] = episodes(tmp_path / "run")
    assert rec["attempts"] == 2 and "InfraError" in rec["error"]
    metrics = result.summary["metrics"]
    assert metrics["errored"] == 1 and metrics["episodes"] == 0 and metrics["success_rate"] in (None, 0.0)


def test_a_slow_answer_times_out_and_is_retried(oai):
    oai.script(delay(3.0, OpenAIServer.tool_call("finish", {"status": "failure"})),
               OpenAIServer.tool_call("finish", FINISH))
    rec = episode(oai, request_timeout=0.5)
    assert rec["error"] is None and rec["steps"][0]["action"]["message"] == FINISH["message"]
    assert len(oai.requests) == 2


def test_a_hanging_server_errors_the_episode_and_the_run_goes_on(tmp_path):
    hang_on = get_task(TASK).instruction

    def answer(body):
        return delay(5.0) if hang_on in user_turn(body) else OpenAIServer.tool_call("finish", FINISH)

    with OpenAIServer(default=answer) as server:
        run(RunConfig(suite="mockos-core", agent="openai:gpt-test", task_ids=[TASK, "files-clean-downloads-txt@0"],
                      retries=0, agent_options=opts(server, request_timeout=0.5, max_retries=1)),
            run_dir=tmp_path / "run")
        assert len(server.requests) == 3
    hung, other = episodes(tmp_path / "run")
    assert hung["task_id"] == TASK and "within 0.5s" in hung["error"] and "2 attempt(s)" in hung["error"]
    assert other["error"] is None and other["termination"] == "finish"


# ---------------------------------------------------------------------------- 6: no tool support


def test_a_server_without_tools_switches_to_json_in_text():
    with OpenAIServer(reject_tools=True) as server:
        server.script(OpenAIServer.text(json.dumps(SEND_ACTION)),
                      OpenAIServer.text(json.dumps({"type": "finish", **FINISH})))
        rec = episode(server)  # protocol=auto
        bodies = server.bodies
    assert rec["error"] is None and rec["success"] and [s["valid"] for s in rec["steps"]] == [True, True]
    assert rec["steps"][0]["action"] == SEND_ACTION
    assert len(bodies) == 3 and "tools" in bodies[0]
    assert all("tools" not in b for b in bodies[1:])  # the JSON protocol from then on
    system = bodies[1]["messages"][0]["content"]
    assert system.startswith(SYSTEM_PROMPT) and "Reply with exactly one JSON object" in system
    assert "- mail.send(to: array" in system


def test_protocol_tools_on_a_server_without_tools_says_use_json():
    with OpenAIServer(reject_tools=True) as server:
        rec = episode(server, protocol="tools")
        assert len(server.requests) == 1
    assert "does not support tools" in rec["error"] and "protocol=json" in rec["error"]


def test_protocol_json_sends_no_tools(oai):
    oai.script(OpenAIServer.text(json.dumps({"type": "finish", **FINISH})))
    rec = episode(oai, protocol="json")
    assert rec["steps"][0]["valid"] and "tools" not in oai.bodies[0]


# ---------------------------------------------------------------------------- 7: broken endpoints


def test_an_html_page_with_status_200_is_a_clear_error_at_once(sleeps):
    with OpenAIServer(default=html(200, "Welcome to nginx!")) as server:
        rec = episode(server)
        assert len(server.requests) == 1 and sleeps == []  # a wrong URL: not retried
    assert "HTML page ('Welcome to nginx!')" in rec["error"] and "--base-url" in rec["error"]


def test_a_proxy_error_page_is_retried_then_a_clear_error():
    with OpenAIServer(default=html(502, "502 Bad Gateway")) as server:
        rec = episode(server, max_retries=1)
        assert len(server.requests) == 2
    assert "502 server error: an HTML page ('502 Bad Gateway')" in rec["error"]
    assert "<html" not in rec["error"]


def test_a_cut_off_json_body_is_retried_then_a_clear_error():
    with OpenAIServer(default=Reply(body='{"id": "chatcmpl-1", "object": "chat.completion", "choices": [')) as server:
        rec = episode(server, max_retries=1)
        assert len(server.requests) == 2
    assert "not JSON" in rec["error"] and "InfraError" in rec["error"]


def test_a_closed_port_names_the_url():
    url = closed_port_url()
    rec = episode(base_url=url, max_retries=1)
    assert rec["termination"] == "error" and f"cannot connect to {url}" in rec["error"]


@pytest.mark.parametrize("reply, fragments", [
    (error(401, "Incorrect API key provided: sk-test.", code="invalid_api_key"), ["401", "OPENAI_API_KEY"]),
    (error(404, "The model `gpt-test` does not exist or you do not have access to it.", code="model_not_found"),
     ["404", "model 'gpt-test'"]),
    (error(400, "Invalid value for 'temperature'.", code="invalid_value"), ["rejected the request (400"]),
])
def test_client_errors_are_infra_errors_without_retries(reply, fragments, sleeps):
    with OpenAIServer(default=reply) as server:
        rec = episode(server)
        assert len(server.requests) == 1 and sleeps == []
    for fragment in fragments:
        assert fragment in rec["error"]


def test_missing_api_keys_explain_the_fix(oai):
    with pytest.raises(AgentSpecError, match="set OPENAI_API_KEY"):
        make_agent("openai:gpt-4o-mini")
    with pytest.raises(AgentSpecError, match="set ANTHROPIC_API_KEY"):
        make_agent("anthropic:claude-test")
    # a local OpenAI-compatible server needs no key
    rec = run_episode(get_task(TASK), "openai:local", seed=0, trial=0, agent_options={"base_url": oai.url})
    assert rec["error"] is None and oai.requests[0]["headers"]["authorization"] == "Bearer no-key"


# ---------------------------------------------------------------------------- 8: the response cache


def test_the_response_cache_replays_an_episode_without_the_server(oai, tmp_path):
    cache = str(tmp_path / "cache")
    oai.script(OpenAIServer.tool_call("mail_send", SEND, usage=(300, 30)), OpenAIServer.tool_call("finish", FINISH))
    first = episode(oai, cache=cache)
    assert first["success"] and len(oai.requests) == 2
    assert len(list((tmp_path / "cache").glob("*/*.json"))) == 2
    url = oai.url
    oai.close()

    def same(a, b):
        keys = ("success", "claim", "claim_message", "checks", "termination", "tokens_in", "tokens_out", "error")
        assert [s["action"] for s in a["steps"]] == [s["action"] for s in b["steps"]]
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}

    same(first, episode(base_url=url, cache=cache))  # the server is gone
    same(first, episode(base_url=url, cache=cache))  # and again: still nothing is sent
    changed = episode(base_url=url, cache=cache, temperature=0.5, max_retries=0)  # another request: not cached
    assert changed["error"] and "cannot connect" in changed["error"]
    with OpenAIServer(default=OpenAIServer.tool_call("finish", {"status": "failure"})) as other:
        # another endpoint is another model as far as the cache knows: never an answer recorded elsewhere
        assert episode(other, cache=cache)["claim"] == "failure" and len(other.requests) == 1


def test_the_cache_remembers_a_refusal_of_tools(tmp_path):
    cache = str(tmp_path / "cache")
    with OpenAIServer(reject_tools=True) as server:
        server.script(OpenAIServer.text(json.dumps(SEND_ACTION)),
                      OpenAIServer.text(json.dumps({"type": "finish", **FINISH})))
        first = episode(server, cache=cache)
        url = server.url
    assert first["success"]
    from lambench.agents import llm

    llm._NO_TOOLS.clear()  # as in a new process: only the cache knows the server refuses tools
    again = episode(base_url=url, cache=cache)  # the server is gone: the refusal and the answers are cached
    assert again["error"] is None and [s["action"] for s in again["steps"]] == [s["action"] for s in first["steps"]]


# ---------------------------------------------------------------------------- 9: Anthropic


ANTHROPIC_SAMPLING = "temperature" in inspect.signature(
    __import__("anthropic").resources.messages.Messages.create).parameters


def test_anthropic_tool_use_text_system_tools_and_usage(ant):
    ant.script(AnthropicServer.tool_use("mail_send", SEND, text="Sending the report.", usage=(900, 40)),
               AnthropicServer.text('Done: {"type": "finish", "status": "success", "message": "Sent."}',
                                    usage=(950, 15)))
    rec = episode(ant, "anthropic:claude-test", temperature=0.2, max_tokens=300)
    assert rec["error"] is None and rec["success"] and rec["termination"] == "finish"
    assert [s["action"] for s in rec["steps"]] == [SEND_ACTION,
                                                   {"type": "finish", "status": "success", "message": "Sent."}]
    assert [(s["tokens_in"], s["tokens_out"]) for s in rec["steps"]] == [(900, 40), (950, 15)]
    assert (rec["tokens_in"], rec["tokens_out"]) == (1850, 55)
    first = ant.bodies[0]
    assert ant.requests[0]["path"] == "/v1/messages"
    headers = ant.requests[0]["headers"]
    assert "sk-test" in headers.get("x-api-key", "") + headers.get("authorization", "")
    assert first["model"] == "claude-test" and first["max_tokens"] == 300
    assert first["system"] == SYSTEM_PROMPT
    assert [m["role"] for m in first["messages"]] == ["user"]
    assert get_task(TASK).instruction in first["messages"][0]["content"]
    tools = {t["name"]: t for t in first["tools"]}
    assert {"click", "finish", "mail_send"} <= set(tools)
    assert tools["mail_send"]["input_schema"]["properties"]["to"]["type"] == "array"
    assert all(set(t) == {"name", "description", "input_schema"} for t in first["tools"])
    # SDKs >= 1.0 removed sampling parameters (API version 2026-10-21 refuses them); older ones send them
    assert ("temperature" in first) == ANTHROPIC_SAMPLING
    if ANTHROPIC_SAMPLING:
        assert first["temperature"] == 0.2


@pytest.mark.parametrize("reply, wait", [
    (error(429, "Number of requests has exceeded your rate limit", type="rate_limit_error",
           headers={"retry-after": "3"}, anthropic=True), 3.0),
    (error(529, "Overloaded", type="overloaded_error", anthropic=True), None),
    (error(500, "Internal server error", type="api_error", anthropic=True), None),
])
def test_anthropic_retries_429_529_500(ant, sleeps, reply, wait):
    ant.script(reply, AnthropicServer.tool_use("finish", FINISH))
    rec = episode(ant, "anthropic:claude-test")
    assert rec["error"] is None and rec["steps"][0]["valid"] and len(ant.requests) == 2
    assert len(sleeps) == 1 and (wait is None or sleeps == [wait])


def test_anthropic_errors():
    with AnthropicServer(default=error(529, "Overloaded", type="overloaded_error", anthropic=True)) as server:
        rec = episode(server, "anthropic:claude-test", max_retries=1)
        assert len(server.requests) == 2 and "529 server error: Overloaded" in rec["error"]
    with AnthropicServer(default=error(401, "invalid x-api-key", type="authentication_error", anthropic=True)) as s:
        rec = episode(s, "anthropic:claude-test")
        assert len(s.requests) == 1 and "ANTHROPIC_API_KEY" in rec["error"]
    with AnthropicServer(default=html(200, "Login")) as s:
        rec = episode(s, "anthropic:claude-test")
        assert len(s.requests) == 1 and "HTML page ('Login')" in rec["error"]
    with AnthropicServer(reject_tools=True) as s:
        s.script(AnthropicServer.text(json.dumps({"type": "finish", **FINISH})))
        rec = episode(s, "anthropic:claude-test")
        assert rec["error"] is None and rec["steps"][0]["valid"]
        assert "tools" in s.bodies[0] and "tools" not in s.bodies[1]


# ---------------------------------------------------------------------------- 10: offline replay


def test_offline_replay_with_an_openai_model(oai, tmp_path):
    from lambench.replay.dataset import load_dataset
    from lambench.replay.run import ReplayConfig, replay

    ds = load_dataset(DATASET)
    # the shipped dataset names the task by its instance id once re-recorded, by the template id before
    ids = [next(f"mockos-core/{tid}/clean/s0/t0" for tid in (task, get_task(task).file_id)
                if f"mockos-core/{tid}/clean/s0/t0" in ds.trajectories)
           for task in (TASK, "files-clean-downloads-txt@0")]
    steps = [s for tid in ids for s in ds.trajectories[tid]]

    def gold(body):  # the model answers each step's gold action as a native tool call
        turn = user_turn(body)
        step = next(s for s in steps if s["request"] in turn and s["observation"]["text"] in turn
                    and format_history(s["history"]) in turn)
        fn = action_to_tool_call(step["gold"]["action"])["function"]
        return OpenAIServer.tool_call(fn["name"].replace(".", "_"), fn["arguments"], usage=(200, 10))

    oai.default = gold
    from lambench.replay.dataset import write_dataset

    two = tmp_path / "two.jsonl"  # the two trajectories of the shipped dataset (replaying it whole loads 25k steps)
    write_dataset(steps, two)
    result = replay(ReplayConfig(dataset=str(two), agent="openai:gpt-test", trajectories=ids, retries=0,
                                 agent_options=opts(oai)), run_dir=tmp_path / "replay")
    assert len(oai.requests) == len(steps)
    recs = {r["task_id"]: r for r in episodes(tmp_path / "replay")}
    for tid in ids:
        rec = recs[tid]
        assert rec["error"] is None and rec["step_success"] == 1.0 and rec["success"]
        assert rec["tokens_in"] == 200 * len(ds.trajectories[tid])
    # the user turn holds the recorded observation and the gold history
    later = next(s for s in steps if s["history"])
    assert any(later["observation"]["text"] in user_turn(b) and format_history(later["history"]) in user_turn(b)
               for b in oai.bodies)
    assert result.summary["metrics"]["successes"] == 2


# ---------------------------------------------------------------------------- 11: concurrency limit


@pytest.mark.parametrize("limit, expected", [(1, 1), (None, 2)])
def test_max_concurrency_limits_requests_in_flight(limit, expected):
    with OpenAIServer(default=delay(0.25, OpenAIServer.tool_call("finish", FINISH))) as server:
        options = opts(server) if limit is None else opts(server, max_concurrency=limit)
        view = get_task(TASK).view()
        agents = [make_agent("openai:gpt-test", options=options) for _ in range(2)]
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def work(agent):
            try:
                agent.reset(view)
                start.wait()
                for _ in range(3):
                    agent.act(Observation(text="[1] button \"Mail\""))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(a,)) for a in agents]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert not errors and len(server.requests) == 6
        assert server.max_in_flight == expected
