"""The README keeps what it promises: the two set-up commands first, the fast test lane, and a link to every
page of docs/ (whose commands, examples and links tests/test_docs.py checks, the README's included)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def blocks(lang):
    return re.findall(rf"^```{lang}\n(.*?)^```", README, re.DOTALL | re.MULTILINE)


def test_readme_starts_with_the_two_setup_commands():
    assert README.startswith("# lambench\n\n```bash\n")
    first = blocks("bash")[0].strip().splitlines()
    assert len(first) == 2
    assert first[0].startswith("bash scripts/setup.sh && .venv/bin/lambench run --suite mockos-core")
    assert first[1] == "bash scripts/setup.sh --test && .venv/bin/python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text()
    assert first[1] in ci


def test_readme_shows_the_fast_lane():
    tests = README[README.index("## Tests"):]
    assert ('.venv/bin/python -m pytest -q -m "not docker and not ray and not model and not browser and not slow"'
            in blocks("bash")[-1] and "not slow" in tests)


def test_readme_links_every_docs_page_once_in_its_table():
    table = [ln for ln in README.splitlines() if ln.startswith("| [docs/")]
    linked = [re.match(r"\| \[(docs/[\w-]+\.md)\]\(\1\) \| .+ \|$", ln).group(1) for ln in table]
    assert sorted(linked) == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))


def test_readme_quickstart_runs_reports_gates_and_replays():
    quick = README[README.index("## Quickstart"):README.index("## Documentation")]
    for command in ("lambench run ", "lambench report ", "lambench gate ", "lambench replay "):
        assert command in quick


def test_readme_layout_names_folders_that_exist():
    layout = README[README.index("## Layout"):]
    block = re.search(r"```\n(.*?)```", layout, re.DOTALL).group(1)
    folders = set(re.findall(r"(?<![\w/])([a-z_]+)/(?=[\s:,)])", block))
    assert {"lambench", "docs", "tasks", "sandboxes", "run", "executors", "metrics", "containers"} <= folders
    homes = [ROOT, ROOT / "lambench", ROOT / "lambench/sandboxes", ROOT / "tasks"]
    for name in folders:
        assert any((home / name).is_dir() for home in homes), f"README layout: no folder {name}/"
