"""``lambench tasks``: list the tasks of the suites, validate task files (and self-check them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lambench.cli.common import UsageProblem, say, tasks_dir_option


@click.group("tasks")
def tasks_group() -> None:
    """List and validate task files."""


@tasks_group.command("list")
@click.option("--suite", default=None, help="Only this suite.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@tasks_dir_option
def tasks_list(suite: str | None, as_json: bool) -> None:
    """List the tasks of every suite (or one)."""
    from rich.console import Console
    from rich.table import Table

    from lambench.task import load_suite, suite_version

    rows = [{"id": t.id, "suite": s, "suite_version": suite_version(s), "sandbox": t.sandbox, "apps": t.apps,
             "tags": t.tags, "infeasible": t.infeasible, "max_steps": t.max_steps, "gold_steps": len(t.gold),
             "instruction": t.instruction}
            for s in ([suite] if suite else _every_suite()) for t in load_suite(s)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} tasks")
    for col in ("id", "suite", "apps", "tags", "steps", "instruction"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["id"], r["suite"], ",".join(r["apps"]), ",".join(r["tags"]), str(r["max_steps"]),
                      r["instruction"][:70] + ("…" if len(r["instruction"]) > 70 else ""))
    Console(width=200).print(table)


@tasks_group.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--self-check", is_flag=True,
              help="Also run the oracle (must succeed safely) and a claim-at-once agent (must fail) on each task.")
@tasks_dir_option
def tasks_validate(paths: tuple[str, ...], self_check: bool) -> None:
    """Validate task files (default: every suite). Exit 1 naming file and field on any bad task."""
    from lambench.task import suite_dir, validate_paths

    targets = list(paths) or [str(suite_dir(s)) for s in _every_suite()]
    missing = [p for p in targets if not Path(p).exists()]
    if missing:
        raise UsageProblem(f"no such file or directory: {', '.join(missing)}")
    good, errors = validate_paths(targets)
    for e in errors:
        say(str(e), label="✗", style="red")
    problems = _self_check(good) if self_check and good else []
    n_bad = len(errors)
    n_files = len({t.path for t in good})
    instances = f" ({len(good)} tasks, counting each instance of a template)" if n_files != len(good) else ""
    checked = f", {len(problems)} self-check problem(s)" if self_check else ""
    click.echo(f"{n_files} valid task file(s){instances}, {n_bad} invalid{checked}")
    if errors or problems:
        sys.exit(1)


def _every_suite() -> list[str]:
    """Every suite found; none is an error naming where lambench looked and the fix."""
    from lambench.task import TASKS_DIR_ENV, list_suites, searched

    suites = list_suites()
    if not suites:
        raise UsageProblem(f"no task suites found. Looked in: {searched()}. A suite is a folder DIR/<suite>/ of task "
                           f"files (<id>.yaml): give DIR with --tasks-dir DIR or ${TASKS_DIR_ENV}; the built-in "
                           "suites come with lambench (reinstall it if they are missing)")
    return suites


def _self_check(good: list) -> list:
    """Run the suite self-check on the valid tasks (their container images prepared first); say each problem."""
    from lambench.sandboxes import registry
    from lambench.selfcheck import blind_replay_check
    from lambench.selfcheck import self_check as check

    containers = registry.container_names({t.sandbox for t in good})
    if containers:
        from lambench.sandboxes.containers import DockerUnavailable, prepare_images

        try:
            prepare_images(containers, log=lambda m: say(str(m), style="dim"))
        except DockerUnavailable as exc:
            raise UsageProblem(f"the self-check of {', '.join(containers)} tasks runs them in containers: "
                               f"{exc}") from None
    problems = check(good)
    blind = blind_replay_check(good)
    problems += blind.problems
    for p in problems:
        say(str(p), label="✗", style="red")
    for suite in sorted({t.suite for t in good}):
        figure = blind.non_memorizability(suite)
        fixed = blind.fixed.get(suite, [])
        shown = "no templated tasks" if figure is None else (
            f"{figure:.1%} (blind replay solves {blind.solved[suite]} of {blind.instances[suite]} instances "
            "other than the recorded one)")
        click.echo(f"{suite}: non-memorizability {shown}; {len(fixed)} fixed task(s)"
                   + (f": {', '.join(fixed)}" if fixed else ""))
    return problems
