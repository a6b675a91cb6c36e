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
    "unknown-field": (GOOD.format(id="unknown-field") + "difficulty: hard\n", "difficulty", "unknown field"),
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
