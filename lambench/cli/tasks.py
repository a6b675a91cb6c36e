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

    rows = [{**_row(s, group), "suite_version": version}
            for s in ([suite] if suite else _every_suite()) for version in [suite_version(s)]
            for group in _by_template(load_suite(s))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    n = sum(r["instances"] for r in rows)
    table = Table(title=f"{len(rows)} task files ({n} tasks, counting each instance of a template)" if n != len(rows)
                  else f"{len(rows)} tasks")
    for col in ("id", "suite", "apps", "tags", "steps", "difficulty", "instances", "instruction"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["id"], r["suite"], ",".join(r["apps"]), ",".join(r["tags"]), str(r["max_steps"]),
                      r["difficulty"], str(r["instances"]) if r["params"] else "fixed",
                      r["instruction"][:70] + ("…" if len(r["instruction"]) > 70 else ""))
    Console(width=200).print(table)
    for line in _corpus_lines(rows):
        click.echo(line)


def _corpus_lines(rows: list[dict]) -> list[str]:
    """Per sandbox: template and fixed task files, the instances of the default sweep, the multi-step share."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["sandbox"], []).append(r)
    lines = []
    for sandbox, group in sorted(by.items()):
        templates = sum(1 for r in group if r["params"])
        multi = sum(1 for r in group if r["multi_step"])
        lines.append(f"{sandbox}: {len(group)} task files ({templates} templates, {len(group) - templates} fixed), "
                     f"{sum(r['instances'] for r in group)} instances; multi-step across apps or records: {multi} "
                     f"({multi / len(group):.0%})")
    return lines


def _by_template(tasks: list) -> list[list]:
    """The suite's tasks with each template's instances grouped, in the suite's order."""
    groups: dict[str, list] = {}
    for t in tasks:
        groups.setdefault(t.file_id, []).append(t)
    return list(groups.values())


def _row(suite: str, group: list) -> dict:
    from lambench.task.difficulty import difficulty, human_time_s, multi_step

    t = group[0]
    return {"id": t.file_id, "suite": suite, "sandbox": t.sandbox,
            "apps": t.apps, "tags": t.tags, "infeasible": t.infeasible, "max_steps": t.max_steps,
            "gold_steps": len(t.gold), "difficulty": difficulty(t), "human_time_s": human_time_s(t),
            "multi_step": multi_step(t),
            "instances": len(group), "params": sorted(t.instance.values) if t.instance is not None else [],
            "instruction": t.instruction}


@tasks_group.command("show")
@click.argument("task_id")
@click.option("--seed", default=None, type=click.IntRange(0, None),
              help="The instance of a template to show (default: the id's @seed, else 0).")
@click.option("--suite", default=None, help="Look only in this suite.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@tasks_dir_option
def tasks_show(task_id: str, seed: int | None, suite: str | None, as_json: bool) -> None:
    """Print one task as it runs: a fixed task, or an instance of a template with every parameter filled in."""
    import yaml

    from lambench.task import get_task
    from lambench.task.instances import split_id
    from lambench.task.loader import instance_of, source_data

    _, id_seed = split_id(task_id)
    if seed is not None and id_seed is not None and seed != id_seed:
        raise UsageProblem(f"{task_id} is instance @{id_seed}; --seed {seed} asks for another one (give one of them)")
    task = get_task(task_id, suite=suite)
    if seed is not None and task.instance is None:
        raise UsageProblem(f"{task_id} is a fixed task (no params): it has no instance @{seed}")
    if seed is not None and task.instance.seed != seed:
        task = instance_of(task, seed)
    data = source_data(task)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110), nl=False)


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
