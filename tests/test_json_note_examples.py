"""The JSON-in-text protocol shows example actions the environment offers.

A small model copies the example action of the prompt: Qwen2.5-Coder-0.5B-Instruct answered
``{"type": "click", "target": "7"}`` at every step of shell tasks, where there is nothing to click,
because the note showed that click whatever the environment (docs/real-model.md).
"""

from __future__ import annotations

import re

from lambench.action import action_tool_definitions, parse_action
from lambench.agents.base import Observation
from lambench.agents.llm import JSON_PROTOCOL_NOTE, ChatAgent
from lambench.env import LamEnv
from lambench.task import get_task

API_TOOL = {"type": "function", "function": {
    "name": "tickets.create", "description": "Open a ticket.",
    "parameters": {"type": "object", "properties": {"title": {"type": "string"}, "body": {"type": "string"}},
                   "required": ["title", "body"]}}}


def _system(task, tools) -> str:
    agent = ChatAgent("m", protocol="json")
    agent.reset(task.view().model_copy(update={"tools": tools}))
    return agent.messages(Observation(text="$ ", history=[]))[0]["content"]


def _examples(system: str) -> list[dict]:
    """The example actions of the note, each parsed as the harness parses a model's answer."""
    line = next(l for l in system.splitlines() if l.startswith("Reply with exactly one JSON object"))
    shown = re.findall(r"(\{.*?\})(?= or |\. The tools)", line.split("e.g. ", 1)[1])
    results = [parse_action(s) for s in shown]
    assert all(r.valid for r in results), [r.error for r in results]
    return [r.action.model_dump() for r in results]


def test_a_shell_gets_a_shell_example_and_no_click():
    tools = action_tool_definitions(("shell", "finish"))  # what the shell sandbox offers
    system = _system(get_task("sh-archive-create-tgz"), tools)
    kinds = [a["type"] for a in _examples(system)]
    assert kinds == ["shell", "finish"] and '"click"' not in system


def test_api_tools_get_a_call_of_an_offered_tool():
    tools = action_tool_definitions(("finish",)) + [API_TOOL]  # the web app's shape: finish and its API
    system = _system(get_task("sh-archive-create-tgz"), tools)
    actions = _examples(system)
    assert [a["type"] for a in actions] == ["call", "finish"]
    assert actions[0]["tool"] == "tickets.create" and set(actions[0]["args"]) == {"title", "body"}


def test_the_mock_os_note_is_unchanged():
    task = get_task("mail-send-report")
    env = LamEnv(task)
    try:
        env.reset(seed=0)
        tools = env.sandbox.tools()
    finally:
        env.close()
    system = _system(task, tools)
    assert JSON_PROTOCOL_NOTE.split("{tools}")[0] in system
    assert [a["type"] for a in _examples(system)] == ["click", "call", "finish"]
