"""Task templates' parameters (lambench.task.params): deterministic per (template, seed), different across seeds,
typed, usable in keys and values, and every authoring mistake an error naming it."""

import json
import os
import re
import subprocess
import sys

import pytest

from lambench.sandboxes.mockos.initial import build_state
from lambench.sandboxes.mockos.plugin import MockOSSetup
from lambench.task.params import GENERATORS, ParamError, instantiate, sample
from lambench.task.people import PEOPLE

TEMPLATE = {
    "id": "mail-refund", "suite": "t",
    "params": {"who": {"type": "person"}, "other": {"type": "person", "distinct_from": "who"},
               "amount": {"type": "amount", "min": 200, "max": 900, "step": 50},
               "day": {"type": "date", "start": "2026-11-23", "end": "2026-12-18", "weekdays": True},
               "at": {"type": "time", "start": "09:00", "end": "16:00", "step": 30},
               "doc": {"type": "filename", "stems": ["invoice", "receipt"], "ext": "txt"},
               "policy": {"type": "code", "pattern": "POL-####"},
               "city": {"type": "choice", "values": [{"name": "Lisbon", "code": "LIS"}, {"name": "Oslo", "code": "OSL"}]},
               "n": {"type": "int", "min": 2, "max": 6}},
    "instruction": "Refund {{ amount | money }} EUR to {{ who.name }} ({{ policy }}) on {{ day.long }} at {{ at }} "
                   "for {{ n }} nights in {{ city.name }}; not {{ other.first }}.",
    "setup": {"files": {"~/Downloads/{{ doc }}": "Policy {{ policy }}: {{ who.name }}"}},
    "gold": [{"type": "call", "tool": "pay", "args": {"amount": "{{ amount }}", "to": "{{ who.email }}",
                                                       "until": "{{ at.end }}", "nights": "{{ n }}",
                                                       "city": "{{ city.code | lower }}"}}],
}


def test_an_instance_is_the_same_for_the_same_seed_and_differs_across_seeds():
    a, b = instantiate(TEMPLATE, 3), instantiate(TEMPLATE, 3)
    assert a == b and "params" not in a and "{{" not in json.dumps(a)
    instructions = {instantiate(TEMPLATE, s)["instruction"] for s in range(20)}
    assert len(instructions) == 20
    golds = {json.dumps(instantiate(TEMPLATE, s)["gold"]) for s in range(20)}
    assert len(golds) >= 18


def test_instances_do_not_depend_on_the_process_hash_seed():
    code = ("import json; from lambench.task.params import instantiate; from tests.test_params import TEMPLATE; "
            "print(json.dumps(instantiate(TEMPLATE, 7)))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout for h in (1, 2)}
    assert len(outs) == 1 and json.loads(outs.pop()) == instantiate(TEMPLATE, 7)


def test_values_reach_keys_values_and_keep_their_type():
    inst = instantiate(TEMPLATE, 0)
    values = inst["instance"]["values"]
    assert inst["instance"]["template"] == "mail-refund" and inst["instance"]["seed"] == 0
    path = f"~/Downloads/{values['doc']}"
    assert list(inst["setup"]["files"]) == [path] and values["policy"] in inst["setup"]["files"][path]
    args = inst["gold"][0]["args"]
    assert args["amount"] == values["amount"] and isinstance(args["amount"], (int, float))
    assert isinstance(args["nights"], int) and 2 <= args["nights"] <= 6
    first, last = values["who"].split(" ", 1)
    assert args["to"] == f"{first.lower()}.{last.lower().replace(' ', '')}@acme.example"
    assert args["city"] in ("lis", "osl") and values["who"] != values["other"]
    assert f"{values['amount']:,.2f}" in inst["instruction"]


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_every_type_samples_within_its_options(kind):
    opts = {"choice": {"values": ["a", "b"]}, "code": {"pattern": "@@-##"}}.get(kind, {})
    for seed in range(30):
        value = sample({"x": {"type": kind, **opts}}, "t", seed)["x"].value
        if kind == "amount":
            assert 10 <= value <= 1000
        elif kind == "date":
            assert "2026-11-23" <= value <= "2026-12-18"
        elif kind == "time":
            assert "09:00" <= value <= "17:00"
        elif kind == "code":
            assert len(value) == 5 and value[2] == "-" and value[:2].isalpha() and value[3:].isdigit()
        elif kind == "choice":
            assert value in ("a", "b")


def test_weekdays_only_gives_weekdays():
    import datetime as dt

    days = {sample({"d": {"type": "date", "weekdays": True}}, "t", s)["d"].value for s in range(60)}
    assert days and all(dt.date.fromisoformat(d).weekday() < 5 for d in days)


@pytest.mark.parametrize("change,message", [
    ({"instruction": "Pay {{ whom.name }}"}, r"\{\{ whom \}\} names no parameter; parameters: who"),
    ({"instruction": "Pay {{ who.phone }}"}, "parameter who has no attribute 'phone'; its attributes: name, first"),
    ({"instruction": "Pay {{ who | shout }}"}, "unknown filter 'shout'"),
    ({"instruction": "Pay {{ who.name.x }}"}, "malformed reference"),
    ({"params": {"who": {"type": "persona"}}}, "params.who: unknown type 'persona'; types: choice"),
    ({"params": {"who": {"type": "person"}, "spare": {"type": "int"}}}, "params spare are declared but never used"),
    ({"params": {"who": {"type": "choice", "values": ["A"]}, "b": {"type": "choice", "values": ["A"],
                                                                   "distinct_from": "who"}},
      "instruction": "{{ who }} {{ b }}"}, "could not sample a value distinct from"),
    ({"params": {"who": {"type": "date", "start": "2026-11-28", "end": "2026-11-29", "weekdays": True}}},
     "no date between 2026-11-28 and 2026-11-29 on a weekday"),
    ({"params": {"who": {"type": "person", "distinct_from": "later"}}}, "not declared before it"),
])
def test_authoring_mistakes_name_the_parameter_and_the_fix(change, message):
    template = {"id": "t", "params": {"who": {"type": "person"}}, "instruction": "Pay {{ who.name }}", **change}
    with pytest.raises(ParamError, match=message):
        instantiate(template, 0)


def test_a_fixed_task_passes_through_unchanged():
    fixed = {"id": "f", "instruction": "no params {here}", "setup": {"files": {"~/a": {"kind": "dir"}}}}
    assert instantiate(fixed, 5) is fixed


def test_the_people_pool_is_distinct_and_unknown_to_the_default_desktop():
    assert len(set(PEOPLE)) == len(PEOPLE) >= 50
    assert len({f for f, _ in PEOPLE}) == len(PEOPLE)  # first names alone tell people apart
    world = " ".join(json.dumps(build_state(MockOSSetup(), seed)) for seed in range(5)).lower()
    clashes = [f"{f} {last}" for f, last in PEOPLE
               if re.search(rf"\b(?:{re.escape(f.lower())}|{re.escape(last.lower())})\b", world)]
    assert clashes == []


def test_a_choice_whose_keys_yaml_reads_as_booleans_is_an_error_saying_to_quote_them():
    import yaml

    params = yaml.safe_load("day: {type: choice, values: [{on: Monday, off: Friday}]}")
    with pytest.raises(ParamError, match="no attribute 'on'; its attributes: true, false .*quote them"):
        instantiate({"id": "t", "params": params, "instruction": "{{ day.on }} to {{ day.off }}"}, 0)
    quoted = yaml.safe_load("day: {type: choice, values: [{'on': Monday, 'off': Friday}]}")
    assert instantiate({"id": "t", "params": quoted, "instruction": "{{ day.on }} to {{ day.off }}"},
                       0)["instruction"] == "Monday to Friday"


def test_a_parameter_yaml_named_as_a_boolean_is_a_param_error_saying_to_quote_it_not_a_crash():
    import yaml

    params = yaml.safe_load("off: {type: int, min: 1, max: 9}")
    with pytest.raises(ParamError, match=r"\{\{ off \}\} names no parameter; parameters: False .*quote the name"):
        instantiate({"id": "t", "params": params, "instruction": "{{ off }}"}, 0)
    quoted = yaml.safe_load("'off': {type: int, min: 1, max: 9}")
    assert instantiate({"id": "t", "params": quoted, "instruction": "n={{ off }}"}, 0)["instruction"].startswith("n=")


def test_the_text_filter_makes_a_number_a_string():
    params = {"mins": {"type": "int", "min": 5, "max": 9}}
    task = instantiate({"id": "t", "params": params, "gold": [{"type": "type", "target": "Minutes",
                                                               "text": "{{ mins | text }}", "n": "{{ mins }}"}]}, 0)
    assert isinstance(task["gold"][0]["text"], str) and task["gold"][0]["text"] == str(task["gold"][0]["n"])
