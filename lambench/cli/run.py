"""``lambench run``: flags -> one :class:`~lambench.run.RunConfig` per agent -> the run; the metrics table."""

from __future__ import annotations

import sys
from typing import Any

import click

from lambench.cli.common import (
    ProgressBar,
    UsageProblem,
    adapter_option_values,
    adapter_options,
    cannot_write,
    echo_metrics,
    say,
    summary_rows,
    tasks_dir_option,
)

EXIT_ERRORED = 3
"""``lambench run``'s exit code when episodes are left errored (infrastructure errors) after their retries."""


@click.command("run", epilog="Exit codes: 0 every episode scored; 2 bad input; 3 some episodes still errored after "
                             "--retries (infrastructure errors; run the same command again to retry only those); 130 "
                             "interrupted (run the same command again to resume).")
@click.option("--suite", required=True, help="Task suite to run (see `lambench tasks list`).")
@click.option("--agent", "agents", required=True, multiple=True,
              help="Agent spec: oracle, random, noop-claim, reckless, injection-follower or module.path:Class. "
                   "Repeat to compare agents.")
@click.option("--task", "task_ids", multiple=True, help="Run only this task id (repeatable).")
@click.option("--trials", default=1, show_default=True, type=click.IntRange(1, 1000), help="Episodes per task.")
@click.option("--seed", default=0, show_default=True, type=int, help="Base seed; trial t uses seed+t.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256), help="Parallel episodes.")
@click.option("--executor", default="local", show_default=True, type=click.Choice(["local", "ray"]),
              help="local: this machine's processes; ray: Ray tasks on a Ray cluster (--workers at a time; "
                   "pip install 'lambench[ray]'). Either one resumes a run of the other.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="Ray cluster for --executor ray: HOST:PORT of the head, ray://HOST:10001 or auto "
                   "(default: start a local Ray instance).")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Run directory (default runs/SUITE__AGENT__sSEED; with several agents, one subdirectory each). "
                   "Re-running the same command resumes it.")
@click.option("--step-timeout", default=60.0, show_default=True, type=click.FloatRange(0, 86400, min_open=True),
              help="Seconds per agent action.")
@click.option("--episode-timeout", default=600.0, show_default=True, type=click.FloatRange(0, 864000, min_open=True),
              help="Seconds per episode.")
@click.option("--retries", default=2, show_default=True, type=click.IntRange(0, 10),
              help="Retries of an episode that hit an infrastructure error.")
@click.option("--perturb", default="", metavar="NAME[,NAME]",
              help="Also run each task perturbed: names from `lambench perturbations list`, '+' combines "
                   "(e.g. popup,relabel+layout-shuffle). Clean always runs, for the robustness ratio.")
@click.option("--guard", is_flag=True,
              help="Check each action against the task's safety rules before it takes effect and block unsafe "
                   "ones (reported as attempted, not executed).")
@click.option("--observation", "observation", default="text", show_default=True,
              type=click.Choice(["text", "screenshot", "both", "som"]),
              help="What the agent sees: the accessibility tree (text), the screen's image (screenshot), both, or "
                   "both with each control's label drawn on the image (som, set-of-marks). Images need a sandbox "
                   "with a screen (mockos); they are kept as PNGs under RUN_DIR/screens/.")
@click.option("--no-observations", "no_observations", is_flag=True,
              help="Do not keep what the agent saw at each step (observations.jsonl, needed by `lambench record`).")
@adapter_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
@tasks_dir_option
def run_cmd(suite: str, agents: tuple[str, ...], task_ids: tuple[str, ...], trials: int, seed: int, workers: int,
            executor: str, ray_address: str | None, out: str | None, step_timeout: float, episode_timeout: float,
            retries: int, perturb: str, guard: bool, observation: str, no_observations: bool, base_url: str | None, cache: str | None,
            max_concurrency: int | None, price_table: str | None, agent_option: tuple[str, ...], quiet: bool) -> None:
    """Run agents on a suite; print success, safety and honesty metrics.

    Exits 3 when episodes are left errored after their retries (see the exit codes below).
    """
    from lambench.run import RunConfig
    from lambench.run.options import perturbations

    options = adapter_option_values(base_url, cache, max_concurrency, price_table, agent_option)
    configs = [RunConfig(suite=suite, agent=agent, task_ids=list(task_ids), trials=trials, seed=seed, workers=workers,
                         step_timeout=step_timeout, episode_timeout=episode_timeout, retries=retries,
                         perturb=perturbations(perturb), guard=guard, observation=observation,
                         observations=not no_observations,
                         agent_options=options, executor=executor, ray_address=ray_address) for agent in agents]
    rows: list[tuple[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    errored: list[tuple[str, int]] = []
    interrupted = False
    for config in configs:
        result = _run_one(config, out, several=len(agents) > 1, quiet=quiet)
        n_errored = (result.summary.get("metrics_all_variants") or result.summary["metrics"])["errored"]
        if n_errored:  # every variant, not only clean
            errored.append((config.agent, n_errored))
            _warn_errored(config.agent, n_errored, retries, result.run_dir)
        summaries.append(result.summary)
        rows.extend(summary_rows(config.agent, result.summary))
        if result.interrupted:
            interrupted = True
            break
    echo_metrics(rows, summaries, title=f"lambench — {suite}" + (" (guard mode)" if guard else "")
                 + (f" ({observation} observations)" if observation != "text" else ""))
    if interrupted:
        say("finished episodes are saved; run the same command again to resume.", label="interrupted:",
            style="yellow")
        sys.exit(130)
    if errored:
        total = sum(n for _, n in errored)
        say(f"{total} episode(s) are left errored after retries ("
            + ", ".join(f"{agent}: {n}" for agent, n in errored) + "); they are in no number above. Run the same "
            "command again to retry them (finished episodes are kept).", label="incomplete:", style="bold yellow")
        sys.exit(EXIT_ERRORED)


def _run_one(config: Any, out: str | None, *, several: bool, quiet: bool) -> Any:
    """Run one agent's configuration into its run directory, with a progress bar; say what was run."""
    from lambench.run import EpisodeFormatError, default_run_dir, run
    from lambench.run.options import run_dir_for

    run_dir = run_dir_for(default_run_dir(config), out, several=several)
    try:
        with ProgressBar(config.agent, quiet=quiet) as bar:
            result = run(config, run_dir=run_dir, **bar.callbacks)
    except EpisodeFormatError as exc:  # e.g. a corrupt line in the middle of an existing episodes.jsonl
        raise UsageProblem(f"cannot use {run_dir}: {exc}") from None
    except OSError as exc:
        raise cannot_write(f"the run directory {run_dir}", exc) from None
    note = f"resumed: {result.skipped} already recorded, " if result.skipped else ""
    say(f"{config.agent}: {note}{result.ran} run -> {result.run_dir}", style="dim")
    return result


def _warn_errored(agent: str, n_errored: int, retries: int, run_dir: Any) -> None:
    from lambench.run.options import common_errors

    say(f"{n_errored} episode(s) of {agent} hit infrastructure errors after {retries} retr"
        f"{'y' if retries == 1 else 'ies'} and are not scored; see the 'error' field in "
        f"{run_dir}/episodes.jsonl", label="warning:", style="yellow")
    for n, message in common_errors(run_dir):
        say(f"  {n} x {message}")
