"""Offline replay: ``lambench record`` (a live run -> a dataset), ``replay`` (a dataset, step by step),
``import`` (published formats -> a dataset) and ``export sft`` (chat-format training data)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lambench.cli.common import (
    ProgressBar,
    UsageProblem,
    adapter_option_values,
    adapter_options,
    cannot_write,
    say,
    tasks_dir_option,
)


@click.command("record")
@click.argument("run_dir", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Dataset file to write (.jsonl or .jsonl.gz).")
@click.option("--all", "include_all", is_flag=True,
              help="Keep every scored episode, not only verified successes (the outcome is in meta.outcome).")
@click.option("--dataset", "dataset_name", default=None, help="Dataset name in the records (default: the suite).")
def record_cmd(run_dir: str, out: str, include_all: bool, dataset_name: str | None) -> None:
    """Turn the episodes of a live run into an offline trajectory dataset."""
    from lambench.replay.dataset import write_dataset
    from lambench.replay.recorder import record_run
    from lambench.run import EpisodeFormatError

    try:
        records, rep = record_run(run_dir, include_all=include_all, dataset=dataset_name)
        if not records:
            reasons = "; ".join(f"{n} {why}" for why, n in rep.skipped.items()) or "the run has no episodes"
            raise UsageProblem(f"nothing to record from {run_dir}: {reasons}")
        write_dataset(records, out)
    except EpisodeFormatError as exc:  # a corrupt line in the middle of episodes.jsonl
        raise UsageProblem(f"cannot record {run_dir}: {exc}") from None
    except OSError as exc:
        raise cannot_write(out, exc) from None
    skipped = ", ".join(f"{n} {why}" for why, n in rep.skipped.items())
    say(f"{rep.episodes} episodes, {rep.steps} steps -> {out}" + (f" (skipped: {skipped})" if skipped else ""))


@click.command("replay")
@click.option("--dataset", required=True, type=click.Path(dir_okay=False),
              help="JSONL dataset (.jsonl or .jsonl.gz), or the name of one lambench ships (mockos-core, "
                   "mockos-injection).")
@click.option("--agent", "agents", required=True, multiple=True,
              help="Agent spec (as for `lambench run`). Repeat to compare agents.")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Run directory (default runs/replay__DATASET__AGENT__sSEED; with several agents, one "
                   "subdirectory each). Re-running the same command resumes it.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed given to agents that take one.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256), help="Parallel trajectories.")
@click.option("--step-timeout", default=60.0, show_default=True, type=click.FloatRange(0, 86400, min_open=True),
              help="Seconds per prediction (a late one counts as invalid).")
@click.option("--retries", default=2, show_default=True, type=click.IntRange(0, 10),
              help="Retries of a trajectory whose agent raised (an infrastructure error).")
@click.option("--trajectory", "trajectories", multiple=True, help="Replay only this trajectory id (repeatable).")
@click.option("--split", type=click.Choice(["train", "test"]), default=None,
              help="Replay only the trajectories of templates in this split (e.g. test: templates `export sft "
                   "--split train` never trains on).")
@click.option("--skip-bad-lines", is_flag=True, help="Leave out malformed dataset lines instead of stopping.")
@adapter_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
@tasks_dir_option
def replay_cmd(dataset: str, agents: tuple[str, ...], out: str | None, seed: int, workers: int, step_timeout: float,
               retries: int, trajectories: tuple[str, ...], split: str | None, skip_bad_lines: bool, base_url: str | None,
               cache: str | None, max_concurrency: int | None, price_table: str | None, agent_option: tuple[str, ...],
               quiet: bool) -> None:
    """Replay a dataset step by step with teacher forcing; print the LAM paper's step metrics."""
    from lambench.render.terminal import format_replay_text
    from lambench.replay.dataset import load_dataset
    from lambench.replay.run import ReplayConfig

    ds = load_dataset(dataset, skip_bad=skip_bad_lines)
    if ds.skipped:
        say(f"left out {len(ds.skipped)} bad line(s) of {dataset}, e.g. {ds.skipped[0]}", label="warning:",
            style="yellow")
    if ds.incomplete:
        first = next(iter(ds.incomplete.items()))
        say(f"{len(ds.incomplete)} trajectory(ies) miss steps and are left out of TSR, e.g. {first[0]}: {first[1]}",
            label="warning:", style="yellow")
    rows = []
    interrupted = False
    for agent in agents:
        config = ReplayConfig(dataset=dataset, agent=agent, seed=seed, workers=workers, step_timeout=step_timeout,
                              retries=retries, skip_bad_lines=skip_bad_lines, trajectories=list(trajectories), split=split,
                              agent_options=adapter_option_values(base_url, cache, max_concurrency, price_table,
                                                                  agent_option))
        result = _replay_one(config, ds, out, several=len(agents) > 1, quiet=quiet)
        rows.append((agent, result.summary["replay"]))
        if result.interrupted:
            interrupted = True
            break
    click.echo(format_replay_text(rows, title=f"lambench replay — {ds.name} ({len(ds.trajectories)} trajectories, "
                                              f"{len(ds.steps)} steps)"))
    if interrupted:
        say("finished trajectories are saved; run the same command again to resume.", label="interrupted:",
            style="yellow")
        sys.exit(130)


def _replay_one(config, ds, out: str | None, *, several: bool, quiet: bool):
    """Replay one agent's configuration into its run directory, with a progress bar; say what was replayed."""
    from lambench.replay.dataset import UnknownTrajectoryError
    from lambench.replay.run import default_replay_dir
    from lambench.replay.run import replay as run_replay
    from lambench.run import EpisodeFormatError
    from lambench.run.options import run_dir_for

    run_dir = run_dir_for(default_replay_dir(config, ds.name), out, several=several)
    try:
        with ProgressBar(config.agent, quiet=quiet) as bar:
            result = run_replay(config, run_dir=run_dir, dataset=ds, **bar.callbacks)
    except (EpisodeFormatError, UnknownTrajectoryError) as exc:
        raise UsageProblem(f"cannot replay into {run_dir}: {exc}") from None
    except OSError as exc:
        raise cannot_write(f"the run directory {run_dir}", exc) from None
    note = f"resumed: {result.skipped} already recorded, " if result.skipped else ""
    say(f"{config.agent}: {note}{result.ran} trajectories replayed -> {result.run_dir}", style="dim")
    errored = result.summary["replay"]["errored_trajectories"]
    if errored:
        say(f"{errored} trajectory(ies) of {config.agent} hit infrastructure errors and are not scored; see 'error' "
            f"in {result.run_dir}/episodes.jsonl", label="warning:", style="yellow")
    return result


@click.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["ufo", "mind2web"]))
@click.argument("src", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Dataset file to write (.jsonl or .jsonl.gz).")
@click.option("--dataset", "dataset_name", default=None, help="Dataset name in the records (default: the format).")
def import_cmd(fmt: str, src: str, out: str, dataset_name: str | None) -> None:
    """Import trajectories of a published format (ufo: the LAM paper's data pipeline; mind2web) as a dataset."""
    from lambench.replay.dataset import write_dataset
    from lambench.replay.importers import import_dataset

    try:
        result = import_dataset(fmt, src, dataset=dataset_name)
        write_dataset(result.records, out)
    except OSError as exc:
        raise cannot_write(out, exc) from None
    for why in result.skipped[:10]:
        say(str(why), label="skipped:", style="yellow")
    if len(result.skipped) > 10:
        say(f"... and {len(result.skipped) - 10} more", label="skipped:", style="yellow")
    say(f"{result.trajectories} trajectories, {len(result.records)} steps -> {out}")


@click.group("export")
def export_group() -> None:
    """Export data for training."""


@export_group.command("sft")
@click.argument("source", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Chat-format JSONL to write.")
@click.option("--all", "include_all", is_flag=True,
              help="From a run directory: keep every episode, not only verified successes (not advisable).")
@click.option("--split", type=click.Choice(["train", "test"]), default=None,
              help="Keep only the templates of this split (by template, never by instance; see docs/replay.md).")
def export_sft_cmd(source: str, out: str, include_all: bool, split: str | None) -> None:
    """(request, state, action) records in chat format from a DATASET file or a live RUN_DIR."""
    from lambench.replay.sft import export_sft
    from lambench.run import EpisodeFormatError

    if not Path(source).exists():
        raise UsageProblem(f"{source}: no such dataset file or run directory")
    try:
        n = export_sft(source, out, include_all=include_all, split=split)
    except EpisodeFormatError as exc:  # a corrupt line in the middle of a run's episodes.jsonl
        raise UsageProblem(f"cannot export {source}: {exc}") from None
    except OSError as exc:
        raise cannot_write(out, exc) from None
    say(f"{n} chat records -> {out}")
