"""``lambench predicates``: every predicate with its arguments, generated from the registry, per sandbox."""

import json

from click.testing import CliRunner

from lambench.cli import main
from lambench.predicate import PREDICATES


def _rows(*args: str) -> list[dict]:
    result = CliRunner().invoke(main, ["predicates", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_every_predicate_is_listed_with_the_arguments_of_its_model():
    rows = {r["name"]: r for r in _rows()}
    assert set(rows) == set(PREDICATES)
    for name, pred in PREDICATES.items():
        fields = pred.args.model_fields if pred.args is not None else {}
        assert [a["name"] for a in rows[name]["args"]] == [f.alias or n for n, f in fields.items()], name
        assert [a["required"] for a in rows[name]["args"]] == [f.is_required() for f in fields.values()], name
    contains = {a["name"]: a for a in rows["file_contains"]["args"]}
    assert contains["path"]["required"] and contains["path"]["type"] == "str"
    assert contains["case_sensitive"] == {**contains["case_sensitive"], "required": False, "default": False,
                                          "type": "bool"}
    keys = {a["name"]: a for a in rows["keys_changed"]["args"]}
    assert keys["keys"]["type"] == "list[str]" and "Glob patterns" in keys["keys"]["doc"]


def test_a_sandbox_sees_only_the_predicates_that_fit_it():
    mockos = {r["name"] for r in _rows("--sandbox", "mockos")}
    webapp = {r["name"] for r in _rows("--sandbox", "webapp")}
    shell = {r["name"] for r in _rows("--sandbox", "shell")}
    assert {"file_exists", "event_exists", "mail_sent", "unchanged_except"} <= mockos
    assert "sql" not in mockos and "command" not in mockos
    assert "sql" in webapp and "file_exists" not in webapp and "event_exists" not in webapp
    assert {"command", "file_exists"} <= shell and "mail_sent" not in shell
    assert {"not", "all", "any", "unchanged_except"} <= mockos & webapp & shell  # the sandbox-free ones
    row = next(r for r in _rows() if r["name"] == "sql")
    assert row["sandboxes"] == ["browser", "webapp"]  # the browser sandbox is judged on the same database


def test_the_table_and_an_unknown_sandbox():
    result = CliRunner().invoke(main, ["predicates", "--sandbox", "webapp"])
    assert result.exit_code == 0 and "sql" in result.output and "query: str" in result.output
    assert "file_exists" not in result.output
    bad = CliRunner().invoke(main, ["predicates", "--sandbox", "mockoss"])
    assert bad.exit_code == 2 and "Did you mean 'mockos'" in bad.output and "Known sandboxes" in bad.output
