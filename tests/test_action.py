import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lambench.action import ACTION_TYPES, Call, Click, Finish, TypeText, action_tool_definitions, parse_action


def test_plain_json_object():
    r = parse_action('{"type": "type", "target": "6", "text": "hello"}')
    assert r.valid and r.action == TypeText(target="6", text="hello")


def test_json_in_markdown_fence_with_prose():
    text = 'I will click send.\n```json\n{"type": "click", "target": "Send"}\n```\nThat should do it.'
    assert parse_action(text).action == Click(target="Send")


def test_json_amid_prose_without_fence():
    text = 'Thought: the file is open. Action: {"type": "finish", "status": "success", "message": "ok"} done'
    assert parse_action(text).action == Finish(status="success", message="ok")


def test_openai_tool_call_with_json_string_arguments():
    call = {"id": "call_1", "type": "function",
            "function": {"name": "files.rename", "arguments": json.dumps({"path": "a.txt", "new_name": "b.txt"})}}
    r = parse_action(call)
    assert r.action == Call(tool="files.rename", args={"path": "a.txt", "new_name": "b.txt"})


def test_tool_call_naming_an_action_type():
    r = parse_action({"name": "click", "arguments": '{"target": "3"}'})
    assert r.action == Click(target="3")


@pytest.mark.parametrize("text, action", [
    ('click {"target": "1"}', Click(target="1")),
    ('  finish {"status": "success", "message": "ok"}\n', Finish(status="success", message="ok")),
    ('```\nmail.send {"to": ["a@b.example"], "subject": "s", "body": "b"}\n```',
     Call(tool="mail.send", args={"to": ["a@b.example"], "subject": "s", "body": "b"})),
])
def test_name_then_arguments_the_notation_of_the_system_prompt(text, action):
    """A small model copies the prompt's ``click {"target": ...}`` list; that is one action, read as such."""
    assert parse_action(text).action == action


@pytest.mark.parametrize("text, fragment", [
    ('teleport {"target": "1"}', "no 'type'"),  # not an action type, not a dotted tool
    ('click {"targt": "1"}', "malformed click"),
    ('click {"target": "1"} and then finish {"status": "success"}', "no 'type'"),  # two actions: not one
])
def test_name_then_arguments_only_when_it_is_one_known_action(text, fragment):
    r = parse_action(text)
    assert not r.valid and fragment in r.error


def test_tool_call_with_broken_arguments_is_invalid_not_an_exception():
    r = parse_action({"function": {"name": "click", "arguments": "{target: 3"}})
    assert not r.valid and "not valid JSON" in r.error


@pytest.mark.parametrize("text, fragment", [
    ("", "empty output"),
    ("just words", "no JSON object"),
    ('{"type": "teleport"}', "unknown action type 'teleport'"),
    ('{"type": "click"}', "target"),
    ('{"type": "click", "target": "1", "force": true}', "force"),
    ('{"type": "finish", "status": "probably"}', "status"),
    ("[1, 2]", "exactly one action"),
    ('{"target": "3"}', "no 'type'"),
])
def test_invalid_outputs_name_the_problem(text, fragment):
    r = parse_action(text)
    assert not r.valid
    assert fragment in r.error


def test_models_are_frozen_and_reject_unknown_fields():
    with pytest.raises(ValidationError):
        Click(target="1", extra="x")
    c = Click(target="1")
    with pytest.raises(ValidationError):
        c.target = "2"


def test_non_text_outputs():
    assert not parse_action(None).valid
    assert not parse_action(b"\xff\xfe").valid
    assert parse_action(b'{"type": "hotkey", "keys": "ctrl+s"}').valid
    assert parse_action(Click(target="2")).action == Click(target="2")


def test_tool_definitions_cover_every_action_type():
    tools = action_tool_definitions()
    names = [t["function"]["name"] for t in tools]
    # pointer-only ones come with a screen; hover/back/goto only where a browser offers them
    assert names == [t for t in ACTION_TYPES if t not in ("double_click", "drag", "hover", "back", "goto")]
    click = tools[0]["function"]
    assert click["parameters"]["required"] == ["target"]
    assert "type" not in click["parameters"]["properties"] and "x" not in click["parameters"]["properties"]
    pointed = {t["function"]["name"]: t["function"] for t in action_tool_definitions(points=True)}
    assert list(pointed) == [t for t in ACTION_TYPES if t not in ("hover", "back", "goto")]
    browser = {t["function"]["name"]: t["function"] for t in action_tool_definitions(("hover", "back", "goto"))}
    assert browser["hover"]["parameters"]["required"] == ["target"]
    assert browser["goto"]["parameters"]["required"] == ["url"] and browser["back"]["parameters"]["properties"] == {}
    assert pointed["click"]["parameters"]["required"] == [] and "x" in pointed["click"]["parameters"]["properties"]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_raises_on_arbitrary_text(text):
    r = parse_action(text)
    assert r.valid or isinstance(r.error, str)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "target", "text", "tool", "args", "status", "function", "name",
                                        "arguments", "keys"]), json_values, max_size=5))
def test_parser_never_raises_on_arbitrary_objects(obj):
    r = parse_action(obj)
    assert r.valid or isinstance(r.error, str)
    r2 = parse_action("Action: " + json.dumps(obj))
    assert r2.valid or isinstance(r2.error, str)
