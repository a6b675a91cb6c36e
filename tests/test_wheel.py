"""lambench as a user installs it: the wheel built from this source, installed with its dependencies into a fresh
venv outside the checkout, run from a directory outside it -- the built-in suites, a run, a report with its figures,
the gate, a shipped replay dataset and a user's own suite (``--tasks-dir``), with no file of the checkout used.

Needs pip to reach a package index (or its cache) for the dependencies: skips without one, fails under CI=true.
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "lambench", "tasks", "sandboxes"]
"""What a wheel is built from (a copy of it: the build writes nothing into the checkout)."""
TASKS = ["--task", "mail-send-report", "--task", "files-clean-downloads-txt", "--task", "settings-enable-bluetooth",
         "--task", "cal-create-dentist", "--task", "mail-delete-spam-only", "--task", "files-rename-board-notes"]


def need(what: str, fix: str) -> None:
    """Skip when something outside lambench is missing on a user's machine; fail under CI=true, where it must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} and CI=true requires it: {fix}", pytrace=False)
    pytest.skip(f"{what}: {fix}")


def _setuptools_recent() -> bool:
    """Whether this interpreter's setuptools builds the wheel without downloading a newer one."""
    try:
        return int(importlib.metadata.version("setuptools").split(".")[0]) >= 77
    except importlib.metadata.PackageNotFoundError:
        return False


class Installed:
    """A venv outside the checkout with the wheel installed; commands run from ``cwd``, outside the checkout too."""

    def __init__(self, venv: Path, cwd: Path):
        self.venv, self.cwd = venv, cwd
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("LAMBENCH_")}
        self.env.update(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1", COLUMNS="200")

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.venv / "bin" / args[0]), *args[1:]], cwd=self.cwd, capture_output=True,
                              text=True, env={**self.env, **(env or {})}, timeout=300)

    def lambench(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return self.run("lambench", *args, env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in SOURCE:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_data"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    isolation = ["--no-build-isolation"] if _setuptools_recent() else []
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(tmp / "dist"),
                            str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((tmp / "dist").glob("lambench-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          str(wheel)], capture_output=True, text=True, timeout=420)
    if pip.returncode != 0:
        need("installing the wheel's dependencies failed (no package index or cache reachable?)",
             (pip.stdout + pip.stderr)[-2000:])
    cwd = tmp / "work"
    cwd.mkdir()
    return Installed(venv, cwd)


def test_the_installed_package_is_the_wheels_not_the_checkouts(installed):
    got = installed.run("python", "-c", "import lambench, lambench.shipped as s; "
                                        "print(lambench.__file__); print(s.shipped_dir('tasks'))")
    assert got.returncode == 0, got.stderr
    module, tasks = map(Path, got.stdout.split())
    assert module.is_relative_to(installed.venv) and not module.is_relative_to(ROOT)
    assert tasks.is_relative_to(installed.venv) and tasks.name == "tasks"


def test_the_container_build_contexts_ship_unchanged(installed):
    """`lambench sandboxes build` and the runs' image builds find them; the same content hash means the images
    built from a checkout are up to date for the installed package too."""
    from lambench.sandboxes.containers.images import context_hash

    script = ("import json; from lambench.sandboxes.containers.images import context_hash, sandboxes_root as r; "
              "print(json.dumps({p.parent.name: context_hash(p.parent) for p in r().glob('*/Dockerfile')}))")
    got = installed.run("python", "-c", script)
    assert got.returncode == 0, got.stderr
    checkout = {p.parent.name: context_hash(p.parent) for p in ROOT.glob("sandboxes/*/Dockerfile")}
    assert checkout and json.loads(got.stdout) == checkout


def test_the_built_in_suites_ship_with_the_same_versions(installed):
    from lambench.task import list_suites, suite_version

    got = installed.lambench("tasks", "list", "--json")
    assert got.returncode == 0, got.stderr
    rows = json.loads(got.stdout)
    assert rows
    assert {r["suite"]: r["suite_version"] for r in rows} == {s: suite_version(s) for s in list_suites()}
    table = installed.lambench("tasks", "list")
    n = sum(r["instances"] for r in rows)  # a template's instances count as tasks
    title = f"{len(rows)} tasks" if n == len(rows) else f"{len(rows)} task files ({n} tasks"
    assert table.returncode == 0 and title in table.stdout


def test_a_run_a_report_and_the_gate_from_outside_the_checkout(installed):
    got = installed.lambench("run", "--suite", "mockos-core", "--agent", "oracle", "--agent", "random", *TASKS,
                             "--out", "runs/base", "--quiet")
    assert got.returncode == 0, got.stderr
    runs = installed.cwd / "runs" / "base"
    oracle, random = runs / "mockos-core__oracle__s0", runs / "mockos-core__random__s0"
    assert json.loads((oracle / "summary.json").read_text())["metrics"]["success_rate"] == 1.0
    # a template's id runs all its instances, a fixed task's id the one task
    from lambench.task import load_suite

    named = set(TASKS[1::2])
    expected = sorted(t.id for t in load_suite("mockos-core") if t.file_id in named)
    assert {t.split("@")[0] for t in expected} == named and len(expected) > len(named)
    assert json.loads((random / "summary.json").read_text())["metrics"]["episodes"] == len(expected)
    ran = sorted(json.loads(line)["task_id"] for line in (random / "episodes.jsonl").open())
    assert ran == expected

    got = installed.lambench("report", str(oracle), str(random), "--out", "report")
    assert got.returncode == 0, got.stderr
    report = installed.cwd / "report"
    assert (report / "index.html").stat().st_size > 0 and (report / "index.md").exists()
    figures = list(report.glob("*.png"))
    assert figures and all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figures)

    again = installed.lambench("run", "--suite", "mockos-core", "--agent", "oracle", *TASKS, "--seed", "1",
                               "--out", "runs/again", "--quiet")
    assert again.returncode == 0, again.stderr
    same = installed.lambench("gate", "--baseline", str(oracle), "--candidate", "runs/again")
    assert same.returncode == 0, same.stdout + same.stderr
    worse = installed.lambench("gate", "--baseline", str(oracle), "--candidate", str(random), "--max-drop", "0.1",
                               "--junit", "gate.xml")
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "failure" in (installed.cwd / "gate.xml").read_text()


def test_a_shipped_replay_dataset_by_name(installed):
    got = installed.lambench("replay", "--dataset", "mockos-injection", "--agent", "oracle", "--out", "runs/replay",
                             "--quiet")
    assert got.returncode == 0, got.stderr
    assert json.loads((installed.cwd / "runs/replay/summary.json").read_text())["replay"]["task_success_rate"] == 1.0


def test_a_users_own_suite_through_tasks_dir_and_the_environment(installed):
    text = (ROOT / "tasks/mockos-core/mail-send-report.yaml").read_text()
    suite = installed.cwd / "my-suites" / "mine"
    suite.mkdir(parents=True)
    (suite / "my-send-report.yaml").write_text(text.replace("id: mail-send-report", "id: my-send-report", 1)
                                               .replace("suite: mockos-core", "suite: mine", 1))
    listed = installed.lambench("tasks", "list", "--suite", "mine", "--tasks-dir", "my-suites", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == ["my-send-report"]
    got = installed.lambench("run", "--suite", "mine", "--agent", "oracle", "--out", "runs/mine", "--quiet",
                             env={"LAMBENCH_TASKS_DIR": str(suite.parent)})
    assert got.returncode == 0, got.stderr
    metrics = json.loads((installed.cwd / "runs/mine/summary.json").read_text())["metrics"]
    assert metrics["success_rate"] == 1.0 and metrics["episodes"] == rows[0]["instances"]  # every instance ran
    missing = installed.lambench("run", "--suite", "mine", "--agent", "oracle", "--out", "runs/none")
    assert missing.returncode == 2 and "unknown suite 'mine'" in missing.stderr and "(built-in)" in missing.stderr
