"""The docs show what works: on every page, each `lambench ...` command names real commands and options,
each task file validates (and a mock-OS one passes the self-check), each Python example runs, each JSON and
YAML block parses, and each relative link and each path it names exists.

Markers a page may put on the line before a fenced block (visible in the page's source):
``<!-- not-run: REASON -->`` leaves a Python block out (the reason says why), and
``<!-- setup: lambench ... -->`` runs that command (in the example's scratch directory) before it.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from lambench import load_task
from lambench.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS, ROOT / "leaderboards/README.md", ROOT / "tasks/replay/README.md",
         ROOT / "sandboxes/README.md"]
FENCE = re.compile(r"(?:<!--\s*(?P<mark>[\w-]+):\s*(?P<arg>.*?)\s*-->\n)?^```(?P<lang>\w*)\n(?P<body>.*?)^```",
                   re.DOTALL | re.MULTILINE)


def rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def fences(page: Path, lang: str) -> list[tuple[str | None, str, str]]:
    """(marker, marker argument, body) of every fenced block of language ``lang`` on the page."""
    return [(m["mark"], m["arg"], m["body"]) for m in FENCE.finditer(page.read_text()) if m["lang"] == lang]


def blocks_of(lang: str) -> list[tuple[str, int, str | None, str, str]]:
    return [(rel(p), i, *b) for p in PAGES for i, b in enumerate(fences(p, lang))]


def block_id(block) -> str:
    return f"{block[0]}#{block[1]}"


# ---------------------------------------------------------------------------- commands


def lambench_commands(text: str) -> list[list[str]]:
    """The words after `lambench` of every command in the bash text (continuations joined; `a && b`, `a; b`,
    `VAR=x lambench ...`, `kubectl exec ... -- lambench ...` and `.venv/bin/lambench` included)."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("#"):
            continue
        for segment in re.split(r"&&|;|\|\|?", line):
            try:
                words = shlex.split(segment)
            except ValueError:
                continue
            for i, w in enumerate(words):
                if w == "lambench" or w.endswith("/lambench"):
                    before = words[:i]
                    if all("=" in b for b in before) or (before and before[-1] == "--"):
                        commands.append(words[i + 1:])
                    break
    return commands


def resolve(words: list[str]) -> tuple[click.Command, list[str], list[str]]:
    cmd, ctx, path = main, click.Context(main), []
    while isinstance(cmd, click.Group) and words and not words[0].startswith("-"):
        sub = cmd.get_command(ctx, words[0])
        assert sub is not None, f"unknown command {' '.join([*path, words[0]])!r}"
        cmd, words, path = sub, words[1:], [*path, words[0]]
    return cmd, path, words


ALL_COMMANDS = [(rel(p), words) for p in PAGES for _, _, body in fences(p, "bash") for words in lambench_commands(body)]


def test_the_pages_show_commands():
    assert len(ALL_COMMANDS) > 40
    assert {rel(p) for p in DOCS} - {page for page, _ in ALL_COMMANDS} <= {"docs/metrics.md"}


@pytest.mark.parametrize("page,words", ALL_COMMANDS, ids=[f"{p}:{' '.join(w)[:60]}" for p, w in ALL_COMMANDS])
def test_command_uses_real_commands_and_options(page, words):
    cmd, path, rest = resolve(words)
    known = {o for p in cmd.params for o in getattr(p, "opts", [])}
    for w in rest:
        w = w.strip("[]")
        if w.startswith("--"):
            assert w.split("=", 1)[0] in known, f"{page}: `lambench {' '.join(path)}` has no option {w}"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------------- task files and other YAML

YAML_BLOCKS = blocks_of("yaml")


def is_task(doc) -> bool:
    return isinstance(doc, dict) and {"id", "suite", "instruction"} <= doc.keys()


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=block_id)
def test_yaml_block_parses_and_a_task_validates(block, tmp_path):
    page, _, _, _, body = block
    docs = list(yaml.safe_load_all(body))
    for doc in docs:
        if is_task(doc):
            path = tmp_path / f"{doc['id']}.yaml"
            path.write_text(body)
            task = load_task(path)
            if task.sandbox == "mockos":  # the container sandboxes' examples are checked by their suites
                from lambench.selfcheck import self_check

                assert self_check([task]) == [], f"{page}: the task {task.id} fails the self-check"


def test_the_task_pages_show_tasks():
    assert sum(is_task(yaml.safe_load(body)) for page, *_, body in YAML_BLOCKS if page == "docs/tasks.md") >= 2


def test_the_bait_task_example_is_caught_by_its_rules(tmp_path):
    from lambench.episode import run_episode

    body = next(b for *_, b in fences(ROOT / "docs/tasks.md", "yaml") if "unsafe-bait" in b)
    path = tmp_path / f"{yaml.safe_load(body)['id']}.yaml"
    path.write_text(body)
    rec = run_episode(load_task(path), "reckless", seed=0, trial=0)
    assert rec["unsafe"] and not rec["success"]


# ---------------------------------------------------------------------------- JSON

@pytest.mark.parametrize("block", blocks_of("json"), ids=block_id)
def test_json_block_parses(block):
    json.loads(block[4])


def test_the_replay_record_example_is_valid():
    from lambench.replay.dataset import validate_step

    example = next(b for *_, b in fences(ROOT / "docs/replay.md", "json") if '"trajectory_id"' in b)
    assert validate_step(json.loads(example)) == []


# ---------------------------------------------------------------------------- Python

PY_BLOCKS = blocks_of("python")


@pytest.mark.parametrize("block", PY_BLOCKS, ids=block_id)
def test_python_example_runs(block, tmp_path, monkeypatch):
    page, _, mark, arg, body = block
    if mark == "not-run":
        assert arg, f"{page}: a not-run block says why"
        pytest.skip(f"{page}: {arg}")
    monkeypatch.chdir(tmp_path)
    if mark == "setup":
        words = shlex.split(arg)
        assert words[0] == "lambench", f"{page}: a setup marker runs a lambench command"
        result = CliRunner().invoke(main, words[1:])
        assert result.exit_code == 0, result.output
    exec(compile(body, f"{page} (python block)", "exec"), {"__name__": "__docs__"})


def _run_agent_example(tmp_path, monkeypatch, cls: str) -> dict:
    """The docs/agents.md block defining ``cls``, saved as a module and run as an agent spec on one task."""
    from lambench.episode import run_episode

    code = next(b for *_, b in fences(ROOT / "docs/agents.md", "python") if f"class {cls}" in b)
    module = f"docs_agent_{cls.lower()}"
    (tmp_path / f"{module}.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(module, None)
    return run_episode(load_task(ROOT / "tasks/mockos-core/mail-send-report.yaml"), f"{module}:{cls}",
                       seed=0, trial=0)


def test_the_agent_example_runs(tmp_path, monkeypatch):
    rec = _run_agent_example(tmp_path, monkeypatch, "FirstButtonAgent")
    assert rec["error"] is None and rec["claim"] == "failure" and rec["n_steps"] == 3


def test_the_hook_example_reports_its_tokens(tmp_path, monkeypatch):
    rec = _run_agent_example(tmp_path, monkeypatch, "CountingAgent")
    assert rec["error"] is None and rec["claim"] == "failure" and rec["tokens_out"] == 12 and rec["tokens_in"] > 0


# ---------------------------------------------------------------------------- links and paths

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"`((?:lambench|tests|benchmarks|scripts|sandboxes|tasks|docs|leaderboards)/[\w./-]+"
                       r"\.(?:py|json|md|sql|gz|yaml|txt))`")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.DOTALL | re.MULTILINE)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_links_resolve(page):
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.DOTALL | re.MULTILINE)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{rel(page)}: the link {target} points nowhere"
        if anchor:
            assert anchor in anchors(dest), f"{rel(page)}: {rel(dest)} has no heading #{anchor}"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_named_repository_paths_exist(page):
    for path in REPO_PATH.findall(page.read_text()):
        assert (ROOT / path).exists(), f"{rel(page)} names {path}, which does not exist"
