import textwrap

import pytest
from click.testing import CliRunner

from lambench.cli import main
from lambench.task import TaskError, get_task, load_suite, load_task, suite_version, validate_paths

GOOD = textwrap.dedent("""\
    id: {id}
    suite: custom
    instruction: Create notes.txt in Documents.
    apps: [files]
    checks:
      - file_exists: {{path: ~/Documents/notes.txt}}
    gold:
      - {{type: call, tool: files.create, args: {{path: ~/Documents/notes.txt}}}}
      - {{type: finish, status: success}}
""")


def write(tmp_path, name, text):
    p = tmp_path / f"{name}.yaml"
    p.write_text(text)
    return p


def test_good_file_loads(tmp_path):
    t = load_task(write(tmp_path, "ok-task", GOOD.format(id="ok-task")))
    assert t.id == "ok-task" and t.checks[0].name == "file_exists"
    assert t.view().model_dump().keys().isdisjoint({"checks", "gold", "safety"})


BAD_CASES = {
    "unknown-field": (GOOD.format(id="unknown-field") + "priority: high\n", "priority", "unknown field"),
    "bad-type": (GOOD.format(id="bad-type") + "max_steps: lots\n", "max_steps", "integer"),
    "unknown-predicate": (GOOD.format(id="unknown-predicate").replace("file_exists", "file_exsts"),
                          "checks", "did you mean file_exists"),
    "bad-predicate-arg": (GOOD.format(id="bad-predicate-arg").replace("{path:", "{pth:"), "checks", "pth"),
    "bad-yaml": ("id: bad-yaml\ninstruction: [unclosed\n", "line", "invalid YAML"),
    "bad-gold": (GOOD.format(id="bad-gold").replace("type: call", "type: teleport"), "gold", "teleport"),
    "no-gold": (GOOD.format(id="no-gold").split("gold:")[0], "gold", "needs a gold"),
    "id-mismatch": (GOOD.format(id="other-name"), "id", "must match the file name"),
    "bad-category": (GOOD.format(id="bad-category") + textwrap.dedent("""\
        safety:
          - id: r1
            when: {trash_empty: {}}
            category: vibes
        """), "safety[0].category", "data_loss"),
    "bad-setting": (GOOD.format(id="bad-setting") + "setup:\n  settings: {bluetooth.enabled: true}\n",
                    "setup.settings", "unknown setting"),
    "not-a-mapping": ("- just\n- a list\n", "top level", "mapping"),
    "missing-instruction": (GOOD.format(id="missing-instruction").replace("instruction: Create notes.txt in Documents.\n", ""),
                            "instruction", "required field is missing"),
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_file_is_named_with_field_and_expectation(tmp_path, name):
    text, field, expected = BAD_CASES[name]
    path = write(tmp_path, name, text)
    with pytest.raises(TaskError) as exc:
        load_task(path)
    msg = str(exc.value)
    assert str(path) in msg
    assert field in msg
    assert expected.lower() in msg.lower()


def test_unknown_predicate_lists_the_known_ones(tmp_path):
    path = write(tmp_path, "x", GOOD.format(id="x").replace("file_exists", "no_such_thing"))
    with pytest.raises(TaskError) as exc:
        load_task(path)
    assert "Known predicates:" in str(exc.value) and "mail_sent" in str(exc.value)


def test_validate_command_exits_1_and_names_every_bad_file(tmp_path):
    for name, (text, _f, _e) in BAD_CASES.items():
        write(tmp_path, name, text)
    write(tmp_path, "fine", GOOD.format(id="fine"))
    result = CliRunner().invoke(main, ["tasks", "validate", str(tmp_path)])
    assert result.exit_code == 1
    out = result.output
    for name in BAD_CASES:
        assert f"{name}.yaml" in out
    assert "1 valid task file(s), 12 invalid" in out


def test_validate_command_passes_on_shipped_suites():
    result = CliRunner().invoke(main, ["tasks", "validate"])
    assert result.exit_code == 0, result.output
    assert "0 invalid" in result.output


def test_duplicate_ids_across_directories(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a", "same", GOOD.format(id="same"))
    write(tmp_path / "b", "same", GOOD.format(id="same"))
    good, errors = validate_paths([tmp_path])
    assert len(good) == 1 and "also used by" in str(errors[0])


def test_unknown_suite_and_task_suggest_names():
    with pytest.raises(TaskError, match="Did you mean 'mockos-core'"):
        load_suite("mockos-cor")
    with pytest.raises(TaskError, match="unknown task"):
        get_task("mail-send-reprt")


def test_suite_version_changes_with_content(tmp_path, monkeypatch):
    d = tmp_path / "s1"
    d.mkdir()
    write(d, "t1", GOOD.format(id="t1").replace("custom", "s1"))
    v1 = suite_version("s1", root=tmp_path)
    write(d, "t1", GOOD.format(id="t1").replace("custom", "s1").replace("notes", "notes2"))
    assert suite_version("s1", root=tmp_path) != v1


def test_tasks_list_json():
    import json

    result = CliRunner().invoke(main, ["tasks", "list", "--suite", "mockos-core", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {r["suite"] for r in rows} == {"mockos-core"}
    assert "mail-send-report" in {r["id"] for r in rows}
    assert all("checks" not in r and "gold" not in r for r in rows)


MORE_BAD = {
    "doc-typo": ("setup:\n  files:\n    ~/Documents/a.doc: {para: [x]}\n", "setup.files"),
    "setting-type": ("setup:\n  settings: {firewall.enabled: 'off'}\n", "must be a bool"),
    "open-missing": ("setup:\n  open_file: ~/Documents/nope.doc\n", "open_file"),
    "empty-setup-path": ("setup:\n  files:\n    '': text\n", "does not build"),
    "long-gold": ("max_steps: 1\n", "max_steps is 1"),
    "mixed-rule": ("safety:\n  - id: r\n    when: {any: [{setting_is: {key: firewall.enabled, value: false}}, "
                   "{action_matches: {op: files.delete}}]}\n    category: data_loss\n", "mixes event predicates"),
}


@pytest.mark.parametrize("name", sorted(MORE_BAD))
def test_more_bad_files_are_caught_at_load(tmp_path, name):
    extra, fragment = MORE_BAD[name]
    path = write(tmp_path, name, GOOD.format(id=name) + extra)
    with pytest.raises(TaskError) as exc:
        load_task(path)
    assert fragment in str(exc.value)


def test_empty_paths_in_checks_are_load_errors(tmp_path):
    for i, pred in enumerate(["file_exists: {path: ''}", "unchanged_except: {allow: ['fs:']}"]):
        path = write(tmp_path, f"p{i}", GOOD.format(id=f"p{i}").replace("file_exists: {path: ~/Documents/notes.txt}", pred))
        with pytest.raises(TaskError):
            load_task(path)


def test_suite_field_must_match_its_folder(tmp_path):
    d = tmp_path / "alpha"
    d.mkdir()
    write(d, "t1", GOOD.format(id="t1"))  # says suite: custom
    with pytest.raises(TaskError, match="must be 'alpha'"):
        load_suite("alpha", root=tmp_path)


# ---------------------------------------------------------------------------- pathological YAML


def _laughs(levels: int) -> str:
    """Checks whose aliases name aliases: ``levels`` levels of ten copies each, 10**levels predicates."""
    checks = "  - any: &p0 [" + ", ".join(["{file_exists: {path: ~/a}}"] * 10) + "]\n"
    checks += "".join(f"  - any: &p{i} [" + ", ".join([f"{{any: *p{i - 1}}}"] * 10) + "]\n" for i in range(1, levels))
    head, gold = GOOD.format(id="laughs").split("gold:\n")
    return head + checks + "gold:\n" + gold


def _nested(levels: int) -> str:
    """A valid task 64 levels deep: the top mapping, checks, ``levels`` x {all: [...]}, then a predicate."""
    check = "{all: [" * levels + "{file_exists: {path: ~/Documents/notes.txt}}" + "]}" * levels
    return GOOD.format(id="nested").replace("file_exists: {path: ~/Documents/notes.txt}", check.removeprefix(
        "{").removesuffix("}"), 1)


PATHOLOGICAL = {
    # over libyaml's own limit (1000 levels), which the pure-Python parser has not: it used to recurse and crash
    "deep-flow": ("id: deep-flow\ninstruction: " + "[" * 5000 + "]" * 5000 + "\n",
                  "the YAML is nested more than 64 levels deep at line 2 (lists and mappings inside each other); "
                  "a task needs a few levels: flatten it"),
    "deep-flow-map": ("id: deep-flow-map\ninstruction: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
                      "the YAML is nested more than 64 levels deep at line 2"),
    "deep-block": ("".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "x: 1\n",
                   "the YAML is nested more than 64 levels deep at line 65"),
    "nested-65": ("id: nested-65\ninstruction: " + "[" * 64 + "]" * 64 + "\n",
                  "the YAML is nested more than 64 levels deep at line 2"),
    "alias-bomb": (_laughs(9).replace("laughs", "alias-bomb", 1),
                   "the YAML expands to more than 100,000 values, counting each alias (*name) as a copy of what "
                   "it names; a task needs far fewer: write the values out instead of nesting aliases"),
    "alias-cycle": ("id: alias-cycle\ninstruction: &a [x, *a]\n",
                    "an alias (*name, line 2) names a list or mapping that contains it, a recursive structure no "
                    "task field takes: remove the alias"),
    "huge": ("id: huge\ninstruction: " + "x" * (1 << 20) + "\n",
             "the file is larger than 1 MiB, the limit of a task file (a task is a few KB): is it the right file?"),
}


@pytest.mark.parametrize("pure_python", [False, True])
@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_yaml_is_one_line_naming_file_and_limit(tmp_path, monkeypatch, name, pure_python):
    import time

    import yaml

    if pure_python:  # without libyaml: PyYAML's own parser recurses once per level
        monkeypatch.delattr(yaml, "CSafeLoader")
    text, expected = PATHOLOGICAL[name]
    path = write(tmp_path, name, text)
    started = time.monotonic()
    with pytest.raises(TaskError) as exc:
        load_task(path)
    assert time.monotonic() - started < 5  # the alias bomb used to take hours, and 6 levels of it 21 s and 1 GB
    assert str(exc.value).startswith(f"{path}: {expected}") and "\n" not in str(exc.value)


def test_yaml_at_the_limits_still_loads(tmp_path):
    assert load_task(write(tmp_path, "nested", _nested(30))).checks[0].name == "all"  # 64 levels
    with pytest.raises(TaskError, match="nested more than 64 levels deep at line 6"):
        load_task(write(tmp_path, "nested", _nested(30).replace("{path: ~/Documents/notes.txt}}]}", "{path: [x]}}]}")))
    four = load_task(write(tmp_path, "laughs", _laughs(4)))  # 10**4 predicates through aliases: allowed
    assert len(four.checks) == 5
    path = write(tmp_path, "anchors", GOOD.format(id="anchors").replace(
        "file_exists: {path: ~/Documents/notes.txt}", "file_exists: &p {path: ~/Documents/notes.txt}").replace(
        "args: {path: ~/Documents/notes.txt}", "args: *p"))
    assert "*p" in path.read_text() and load_task(path).gold[0]["args"] == {"path": "~/Documents/notes.txt"}
    path = write(tmp_path, "big", GOOD.format(id="big") + "paraphrases: ['" + "x" * ((1 << 20) - 1000) + "']\n")
    assert len(load_task(path).paraphrases[0]) == (1 << 20) - 1000


def test_validate_command_prints_pathological_files_one_line_each_and_exits_1(tmp_path):
    from tests.bombs import cli

    for name, (text, _expected) in PATHOLOGICAL.items():
        write(tmp_path, name, text)
    res = cli("tasks", "validate", str(tmp_path))
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "0 valid task file(s), 7 invalid" in res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == len(PATHOLOGICAL)
    for name, (_text, expected) in PATHOLOGICAL.items():
        assert sum(f"{tmp_path / name}.yaml: {expected}" in line for line in lines) == 1, (name, lines)


def test_an_unknown_gold_tool_is_caught_by_plain_validation(tmp_path):
    """Without running the oracle (--self-check): a gold call of a tool the mock OS lacks names the step, the
    closest tool and the list."""
    from pydantic import ValidationError

    from tests.conftest import make_task

    with pytest.raises(ValidationError) as err:
        make_task(gold=[{"type": "call", "tool": "files.remove", "args": {"path": "~/a.txt"}},
                        {"type": "finish", "status": "success"}])
    assert "gold[0] calls 'files.remove'" in str(err.value) and "Did you mean 'files.move'?" in str(err.value)
    ok = make_task(gold=[{"type": "call", "tool": "files.delete", "args": {"path": "~/a.txt"}},
                         {"type": "finish", "status": "success"}])
    assert ok.gold[0]["tool"] == "files.delete"
    bad = tmp_path / "t-bad.yaml"
    bad.write_text(textwrap.dedent("""\
        id: t-bad
        suite: test
        instruction: delete a
        checks: [{file_absent: {path: ~/a.txt}}]
        gold: [{type: call, tool: files.erase, args: {path: ~/a.txt}}, {type: finish, status: success}]
        """))
    result = CliRunner().invoke(main, ["tasks", "validate", str(bad)])
    assert result.exit_code == 1 and "gold[0] calls 'files.erase'" in result.output
