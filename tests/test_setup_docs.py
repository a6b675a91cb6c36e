"""docs/tasks.md's setup schema is generated from the registry and stays in step with it; each sandbox's example
setup really starts the world it describes (the container ones in a real container)."""

from pathlib import Path

import pytest

from lambench.episode import run_episode
from lambench.errors import LambenchError
from lambench.sandboxes import registry
from lambench.task import Task
from lambench.task import setupdoc
from tests.conftest import require_docker

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "tasks.md"


def test_the_page_holds_the_generated_section_unchanged():
    assert setupdoc.main(["--check", str(PAGE)]) == 0, "run: python -m lambench.task.setupdoc docs/tasks.md"
    text = PAGE.read_text()
    for spec in registry.specs():
        assert f"### `{spec.name}`" in text and f"Example (`sandbox: {spec.name}`)" in text


def test_a_stale_or_missing_section_is_reported(tmp_path, capsys):
    stale = tmp_path / "tasks.md"
    stale.write_text(PAGE.read_text().replace("| `open_file` |", "| `open_document` |"))
    assert setupdoc.main(["--check", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err
    assert setupdoc.main([str(stale)]) == 0 and setupdoc.main(["--check", str(stale)]) == 0
    assert stale.read_text() == PAGE.read_text()
    bare = tmp_path / "bare.md"
    bare.write_text("# no markers\n")
    assert setupdoc.main(["--check", str(bare)]) == 2
    assert "no generated setup section" in capsys.readouterr().err
    with pytest.raises(LambenchError, match="setup-schema:start"):
        setupdoc.rewrite("nothing here")


def _all_fields(model):
    yield from ((model, name, f) for name, f in model.model_fields.items() if not f.exclude)
    for nested in setupdoc._nested_models(model):
        yield from ((nested, name, f) for name, f in nested.model_fields.items())


@pytest.mark.parametrize("spec", registry.specs(), ids=lambda s: s.name)
def test_every_setup_field_is_described_and_listed(spec):
    section = setupdoc.setup_markdown()
    for model, name, f in _all_fields(spec.setup_model):
        assert f.description, f"{model.__name__}.{name} has no docstring (the docs would show an empty cell)"
        assert f"| `{f.alias or name}` |" in section


def test_an_invalid_example_is_an_error_naming_the_sandbox(monkeypatch):
    spec = registry.get("mockos")
    broken = type(spec)(**{**spec.__dict__, "setup_example": {"files": {}, "calender": []}})
    monkeypatch.setattr(registry, "specs", lambda: [broken])
    with pytest.raises(LambenchError, match="(?s)setup_example of sandbox 'mockos'.*calender"):
        setupdoc.setup_markdown()


def _example_task(sandbox, checks):
    return Task.model_validate({"id": f"example-{sandbox}", "suite": "docs", "sandbox": sandbox,
                                "instruction": "nothing to do", "setup": registry.get(sandbox).setup_example,
                                "checks": checks, "gold": [{"type": "finish", "status": "success"}]})


EXAMPLE_CHECKS = {
    "mockos": [
        {"file_contains": {"path": "~/Documents/Reports/q3-summary.txt", "text": "1.2M EUR"}},
        {"file_exists": {"path": "~/Documents/Contracts"}},
        {"doc_paragraph": {"path": "~/Documents/minutes.doc", "contains": "Minutes", "style": "heading1"}},
        {"event_exists": {"title": "Budget review", "date": "2026-11-24"}},
        {"setting_is": {"key": "firewall.enabled", "value": True}},
        {"user_exists": {"name": "guest", "admin": False}}],
    "shell": [
        {"command": {"cmd": "stat -c %a ~/deploy/deploy.sh ~/deploy/.env.production", "stdout_equals": "644\n600"}},
        {"command": {"cmd": "git -C ~/deploy log --oneline | wc -l", "stdout_equals": "1"}},
        {"file_exists": {"path": "~/backups"}}],
    "webapp": [
        {"sql": {"query": "SELECT customer_id, direction FROM messages WHERE id = 11", "equals": [[6, "in"]]}}],
}
"""What each sandbox's example setup must have built (the container ones are checked in a real container)."""


@pytest.mark.parametrize("sandbox", [pytest.param(name, marks=[] if name == "mockos" else [pytest.mark.docker])
                                     for name in EXAMPLE_CHECKS])
def test_each_example_starts_the_world_it_shows(sandbox):
    if sandbox != "mockos":
        require_docker()
    rec = run_episode(_example_task(sandbox, EXAMPLE_CHECKS[sandbox]), "oracle", seed=0, trial=0)
    assert rec["error"] is None and rec["success"], rec["checks"]
