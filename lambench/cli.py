"""The ``lambench`` command line: thin commands over the library (flags -> config -> one call)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from lambench import __version__

err_console = Console(stderr=True, soft_wrap=True)
out_console = Console()


def say(text: str, *, label: str = "", style: str = "") -> None:
    """Print a message to stderr as written: user text (paths, task files, errors) is never read as rich
    markup, so ``[brackets]`` in it come out whole.  ``label`` (e.g. ``warning:``) is printed in ``style``
    before it; without a label the whole line takes ``style``."""
    from rich.text import Text

    line = Text()
    if label:
        line.append(label, style=style)
        line.append(" ")
        line.append(text)
    else:
        line.append(text, style=style)
    err_console.print(line, highlight=False, soft_wrap=True)


class UsageProblem(click.ClickException):
    """A user error: printed as one clear message, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        say(self.message, label="error:", style="bold red")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lambench")
def main() -> None:
    """lambench: evaluate Large Action Models for success, safety and honesty."""


# ---------------------------------------------------------------------------- model adapter options


def adapter_options(f: Any) -> Any:
    """The options of model adapters (openai:, anthropic:, hf:, replay:), shared by run and replay."""
    opts = [
        click.option("--base-url", default=None,
                     help="Endpoint of openai:/anthropic: (default: OPENAI_BASE_URL / ANTHROPIC_BASE_URL, else the "
                          "vendor's), e.g. http://127.0.0.1:8000/v1 for vLLM or llama.cpp's server."),
        click.option("--cache", "cache", default=None, type=click.Path(file_okay=False),
                     help="Response cache directory: identical requests are answered from it (offline re-runs)."),
        click.option("--max-concurrency", default=None, type=click.IntRange(1, 10000),
                     help="Model requests in flight at once, across all workers."),
        click.option("--price-table", default=None, type=click.Path(dir_okay=False, exists=True),
                     help="YAML/JSON: model -> {input, output} USD per million tokens (for the cost columns)."),
        click.option("--agent-option", "agent_option", multiple=True, metavar="KEY=VALUE",
                     help="Any other adapter option, e.g. protocol=json, temperature=0.2, max_tokens=256, "
                          "request_timeout=30, max_retries=3, few_shot=3, prompt_template=FILE, device=cpu, "
                          "dtype=float32. Repeatable."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _agent_options(base_url: str | None, cache: str | None, max_concurrency: int | None, price_table: str | None,
                   agent_option: tuple[str, ...]) -> dict[str, Any]:
    import re

    out: dict[str, Any] = {}
    for item in agent_option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageProblem(f"--agent-option {item!r}: expected KEY=VALUE, e.g. temperature=0.2")
        v = value.strip()
        # plain decimal numbers and true/false only; anything else (0123, 0x1F, yes, off, paths) stays text
        if re.fullmatch(r"-?(0|[1-9][0-9]*)", v):
            parsed: Any = int(v)
        elif re.fullmatch(r"-?(0|[1-9][0-9]*)?\.[0-9]+([eE][-+]?[0-9]+)?|-?[1-9][0-9]*[eE][-+]?[0-9]+", v):
            parsed = float(v)
        elif v in ("true", "false"):
            parsed = v == "true"
        else:
            parsed = value
        out[key.strip().replace("-", "_")] = parsed
    for key, value in (("base_url", base_url), ("cache", cache), ("max_concurrency", max_concurrency),
                       ("price_table", price_table)):
        if value is not None:
            out[key] = value
    return out


# ---------------------------------------------------------------------------- run


EXIT_ERRORED = 3
"""``lambench run``'s exit code when episodes are left errored (infrastructure errors) after their retries."""


@main.command(epilog="Exit codes: 0 every episode scored; 2 bad input; 3 some episodes still errored after "
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
@click.option("--no-observations", "no_observations", is_flag=True,
              help="Do not keep what the agent saw at each step (observations.jsonl, needed by `lambench record`).")
@adapter_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(suite: str, agents: tuple[str, ...], task_ids: tuple[str, ...], trials: int, seed: int, workers: int,
        executor: str, ray_address: str | None, out: str | None, step_timeout: float, episode_timeout: float,
        retries: int, perturb: str, guard: bool, no_observations: bool, base_url: str | None, cache: str | None,
        max_concurrency: int | None, price_table: str | None, agent_option: tuple[str, ...], quiet: bool) -> None:
    """Run agents on a suite; print success, safety and honesty metrics.

    Exits 3 when episodes are left errored after their retries (see the exit codes below).
    """
    from lambench.agents.base import AgentSpecError
    from lambench.executors import ExecutorError
    from lambench.perturb import PerturbationError
    from lambench.runner import RunConfig, RunDirError, default_run_dir
    from lambench.scoring import format_metrics_text, format_safety_robustness_text
    from lambench.task import TaskError

    rows = []
    summaries: list[dict[str, Any]] = []
    errored: list[tuple[str, int]] = []
    interrupted = False
    options = _agent_options(base_url, cache, max_concurrency, price_table, agent_option)
    for agent in agents:
        config = RunConfig(suite=suite, agent=agent, task_ids=list(task_ids), trials=trials, seed=seed,
                           workers=workers, step_timeout=step_timeout, episode_timeout=episode_timeout,
                           retries=retries, perturb=[p for p in perturb.split(",") if p.strip()], guard=guard,
                           observations=not no_observations, agent_options=options, executor=executor,
                           ray_address=ray_address)
        if out is None:
            run_dir = default_run_dir(config)
        else:
            run_dir = Path(out) / default_run_dir(config).name if len(agents) > 1 else Path(out)
        from lambench.runner import ConfigError
        from lambench.sandboxes.docker import DockerUnavailable

        try:
            result = _run_with_progress(config, run_dir, quiet=quiet)
        except (AgentSpecError, TaskError, RunDirError, PerturbationError, ExecutorError, ConfigError,
                DockerUnavailable) as exc:
            raise UsageProblem(str(exc)) from None
        except ValueError as exc:  # e.g. a corrupt line in the middle of an existing episodes.jsonl
            raise UsageProblem(f"cannot use {run_dir}: {exc}") from None
        except OSError as exc:
            raise UsageProblem(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None
        m = result.summary["metrics"]
        note = f"resumed: {result.skipped} already recorded, " if result.skipped else ""
        say(f"{agent}: {note}{result.ran} run -> {result.run_dir}", style="dim")
        n_errored = (result.summary.get("metrics_all_variants") or m)["errored"]  # every variant, not only clean
        if n_errored:
            errored.append((agent, n_errored))
            say(f"{n_errored} episode(s) of {agent} hit infrastructure errors after {retries} retr"
                f"{'y' if retries == 1 else 'ies'} and are not scored; see the 'error' field in "
                f"{result.run_dir}/episodes.jsonl", label="warning:", style="yellow")
            for n, message in _common_errors(result.run_dir):
                say(f"  {n} x {message}")
        summaries.append(result.summary)
        variants = result.summary["by_variant"]
        if len(variants) > 1:
            rows.extend((f"{agent} [{v}]", vm) for v, vm in variants.items())
        else:
            rows.append((agent, m))
        if result.interrupted:
            interrupted = True
            break
    click.echo(format_metrics_text(rows, title=f"lambench — {suite}" + (" (guard mode)" if guard else "")))
    extra = format_safety_robustness_text([(s["agent"], s) for s in summaries])
    if extra:
        click.echo(extra)
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


def _common_errors(run_dir: Path, top: int = 3) -> list[tuple[int, str]]:
    """The most frequent infrastructure errors of a run's episodes (the latest record of each), first line only."""
    from collections import Counter

    from lambench.run.rundir import load_episodes

    try:
        recs = load_episodes(Path(run_dir) / "episodes.jsonl")
    except (OSError, ValueError):
        return []
    counts = Counter((r["error"].splitlines() or [""])[0][:400] for r in recs if r.get("error"))
    return [(n, msg) for msg, n in counts.most_common(top)]


def _run_with_progress(config, run_dir: Path, *, quiet: bool):
    from lambench.runner import run as run_suite

    if quiet:
        return run_suite(config, run_dir=run_dir)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("ok {task.fields[ok]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=err_console, transient=False)
    state: dict[str, Any] = {}

    def on_start(total: int, skipped: int) -> None:
        # the display (and its refresh thread) starts here, once the run's worker processes are up: they are
        # forked from this process while it still has a single thread
        progress.start()
        state["id"] = progress.add_task(config.agent, total=total, ok=0)

    def on_progress(rec: dict[str, Any]) -> None:
        tid = state["id"]
        ok = progress.tasks[tid].fields["ok"] + (1 if rec["success"] else 0)
        progress.update(tid, advance=1, ok=ok)

    try:
        return run_suite(config, run_dir=run_dir, on_start=on_start, on_progress=on_progress)
    finally:
        progress.stop()


# ---------------------------------------------------------------------------- score


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def score(run_dirs: tuple[str, ...], as_json: bool) -> None:
    """Recompute the summary of run directories from their episodes.jsonl alone."""
    from lambench.runner import RunDirError, write_summary
    from lambench.scoring import format_metrics_text, format_safety_robustness_text

    summaries = []
    for d in run_dirs:
        try:
            summaries.append(write_summary(d))
        except RunDirError as exc:
            raise UsageProblem(str(exc)) from None
        except ValueError as exc:  # a corrupt line in the middle of episodes.jsonl
            raise UsageProblem(f"cannot score {d}: {exc}") from None
    if as_json:
        click.echo(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=2))
        return
    replays = [s for s in summaries if s.get("kind") == "replay"]
    if replays:
        from lambench.replay.metrics import format_replay_text

        click.echo(format_replay_text([(str(s["agent"]), s["replay"]) for s in replays],
                                      title=f"lambench replay — {replays[0]['suite']}"))
        summaries = [s for s in summaries if s.get("kind") != "replay"]
    if summaries:
        rows = []
        for s in summaries:
            variants = s.get("by_variant") or {}
            if len(variants) > 1:
                rows.extend((f"{s['agent']} [{v}]", vm) for v, vm in variants.items())
            else:
                rows.append((str(s["agent"]), s["metrics"]))
        click.echo(format_metrics_text(rows))
        extra = format_safety_robustness_text([(str(s["agent"]), s) for s in summaries])
        if extra:
            click.echo(extra)


# ---------------------------------------------------------------------------- offline replay


def _dataset_problem(exc: Exception) -> UsageProblem:
    return UsageProblem(str(exc))


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Dataset file to write (.jsonl or .jsonl.gz).")
@click.option("--all", "include_all", is_flag=True,
              help="Keep every scored episode, not only verified successes (the outcome is in meta.outcome).")
@click.option("--dataset", "dataset_name", default=None, help="Dataset name in the records (default: the suite).")
def record(run_dir: str, out: str, include_all: bool, dataset_name: str | None) -> None:
    """Turn the episodes of a live run into an offline trajectory dataset."""
    from lambench.replay.dataset import DatasetError, write_dataset
    from lambench.replay.recorder import record_run

    try:
        records, rep = record_run(run_dir, include_all=include_all, dataset=dataset_name)
        if not records:
            reasons = "; ".join(f"{n} {why}" for why, n in rep.skipped.items()) or "the run has no episodes"
            raise UsageProblem(f"nothing to record from {run_dir}: {reasons}")
        write_dataset(records, out)
    except DatasetError as exc:
        raise _dataset_problem(exc) from None
    except ValueError as exc:  # a corrupt line in the middle of episodes.jsonl
        raise UsageProblem(f"cannot record {run_dir}: {exc}") from None
    except OSError as exc:
        raise UsageProblem(f"cannot write {out}: {exc.strerror or exc}") from None
    skipped = ", ".join(f"{n} {why}" for why, n in rep.skipped.items())
    say(f"{rep.episodes} episodes, {rep.steps} steps -> {out}" + (f" (skipped: {skipped})" if skipped else ""))


@main.command()
@click.option("--dataset", required=True, type=click.Path(dir_okay=False), help="JSONL dataset (.jsonl or .jsonl.gz).")
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
@click.option("--skip-bad-lines", is_flag=True, help="Leave out malformed dataset lines instead of stopping.")
@adapter_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
def replay(dataset: str, agents: tuple[str, ...], out: str | None, seed: int, workers: int, step_timeout: float,
           retries: int, trajectories: tuple[str, ...], skip_bad_lines: bool, base_url: str | None, cache: str | None,
           max_concurrency: int | None, price_table: str | None, agent_option: tuple[str, ...], quiet: bool) -> None:
    """Replay a dataset step by step with teacher forcing; print the LAM paper's step metrics."""
    from lambench.agents.base import AgentSpecError
    from lambench.replay.dataset import DatasetError, load_dataset
    from lambench.replay.metrics import format_replay_text
    from lambench.replay.run import ReplayConfig, default_replay_dir
    from lambench.replay.run import replay as run_replay
    from lambench.runner import RunDirError

    try:
        ds = load_dataset(dataset, skip_bad=skip_bad_lines)
    except DatasetError as exc:
        raise _dataset_problem(exc) from None
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
                              retries=retries, skip_bad_lines=skip_bad_lines, trajectories=list(trajectories),
                              agent_options=_agent_options(base_url, cache, max_concurrency, price_table,
                                                           agent_option))
        base = default_replay_dir(config, ds.name)
        run_dir = Path(out) if out and len(agents) == 1 else (Path(out) / base.name if out else base)
        progress = None if quiet else Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("ok {task.fields[ok]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=err_console)
        state: dict[str, Any] = {}

        def on_start(total: int, skipped: int) -> None:
            if progress is not None:
                state["id"] = progress.add_task(agent, total=total, ok=0)

        def on_progress(rec: dict[str, Any]) -> None:
            if progress is not None:
                tid = state["id"]
                progress.update(tid, advance=1, ok=progress.tasks[tid].fields["ok"] + bool(rec["success"]))

        try:
            if progress is not None:
                with progress:
                    result = run_replay(config, run_dir=run_dir, on_start=on_start, on_progress=on_progress,
                                        dataset=ds)
            else:
                result = run_replay(config, run_dir=run_dir, dataset=ds)
        except (AgentSpecError, RunDirError, DatasetError) as exc:
            raise UsageProblem(str(exc)) from None
        except ValueError as exc:
            raise UsageProblem(f"cannot replay into {run_dir}: {exc}") from None
        except OSError as exc:
            raise UsageProblem(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None
        note = f"resumed: {result.skipped} already recorded, " if result.skipped else ""
        say(f"{agent}: {note}{result.ran} trajectories replayed -> {result.run_dir}", style="dim")
        errored = result.summary["replay"]["errored_trajectories"]
        if errored:
            say(f"{errored} trajectory(ies) of {agent} hit infrastructure errors and are not scored; see 'error' in "
                f"{result.run_dir}/episodes.jsonl", label="warning:", style="yellow")
        rows.append((agent, result.summary["replay"]))
        if result.interrupted:
            interrupted = True
            break
    click.echo(format_replay_text(rows, title=f"lambench replay — {ds.name} ({len(ds.trajectories)} trajectories, "
                                              f"{len(ds.steps)} steps)"))
    if interrupted:
        err_console.print("[yellow]interrupted:[/] finished trajectories are saved; run the same command again to "
                          "resume.", highlight=False)
        sys.exit(130)


@main.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["ufo", "mind2web"]))
@click.argument("src", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Dataset file to write (.jsonl or .jsonl.gz).")
@click.option("--dataset", "dataset_name", default=None, help="Dataset name in the records (default: the format).")
def import_cmd(fmt: str, src: str, out: str, dataset_name: str | None) -> None:
    """Import trajectories of a published format (ufo: the LAM paper's data pipeline; mind2web) as a dataset."""
    from lambench.replay.dataset import DatasetError, write_dataset
    from lambench.replay.importers import import_dataset

    try:
        result = import_dataset(fmt, src, dataset=dataset_name)
        write_dataset(result.records, out)
    except DatasetError as exc:
        raise _dataset_problem(exc) from None
    except OSError as exc:
        raise UsageProblem(f"cannot write {out}: {exc.strerror or exc}") from None
    for why in result.skipped[:10]:
        say(str(why), label="skipped:", style="yellow")
    if len(result.skipped) > 10:
        say(f"... and {len(result.skipped) - 10} more", label="skipped:", style="yellow")
    say(f"{result.trajectories} trajectories, {len(result.records)} steps -> {out}")


@main.group()
def export() -> None:
    """Export data for training."""


@export.command("sft")
@click.argument("source", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Chat-format JSONL to write.")
@click.option("--all", "include_all", is_flag=True,
              help="From a run directory: keep every episode, not only verified successes (not advisable).")
def export_sft_cmd(source: str, out: str, include_all: bool) -> None:
    """(request, state, action) records in chat format from a DATASET file or a live RUN_DIR."""
    from lambench.replay.dataset import DatasetError
    from lambench.replay.sft import export_sft

    if not Path(source).exists():
        raise UsageProblem(f"{source}: no such dataset file or run directory")
    try:
        n = export_sft(source, out, include_all=include_all)
    except DatasetError as exc:
        raise _dataset_problem(exc) from None
    except ValueError as exc:  # a corrupt line in the middle of a run's episodes.jsonl
        raise UsageProblem(f"cannot export {source}: {exc}") from None
    except OSError as exc:
        raise UsageProblem(f"cannot write {out}: {exc.strerror or exc}") from None
    say(f"{n} chat records -> {out}")


# ---------------------------------------------------------------------------- container sandboxes


@main.group()
def sandboxes() -> None:
    """Container sandboxes: build their images, remove leftover containers."""


@sandboxes.command("build")
@click.option("--root", default="sandboxes", show_default=True, type=click.Path(file_okay=False, exists=True),
              help="Folder of build contexts (one subfolder with a Dockerfile per image).")
@click.option("--base-image", default=None,
              help="Base image for every Dockerfile (ARG BASE_IMAGE); default: debian:bookworm-slim if it can be "
                   "pulled, else a Debian base made here with debootstrap.")
@click.option("--no-pull", is_flag=True, help="Do not try a registry: make the base with debootstrap.")
@click.argument("names", nargs=-1)
def sandboxes_build(root: str, base_image: str | None, no_pull: bool, names: tuple[str, ...]) -> None:
    """Build the sandbox images (only those whose build context changed)."""
    from lambench.sandboxes.docker import DockerUnavailable, build_images, ensure_base_image, get_client

    def log(msg: str) -> None:
        err_console.print(msg, highlight=False, markup=False)

    try:
        client = get_client()
        base = base_image or ensure_base_image(client, log=log, allow_pull=not no_pull)
        built = build_images(root, client=client, base_image=base, log=log, names=list(names) or None)
        client.close()
    except DockerUnavailable as exc:
        raise UsageProblem(str(exc)) from None
    except Exception as exc:  # a failing Dockerfile: the engine's message is the useful part
        raise UsageProblem(f"building the sandbox images failed: {type(exc).__name__}: {exc}") from None
    for name, tag in built.items():
        click.echo(f"{name}\t{tag}")


@sandboxes.command("prune")
def sandboxes_prune() -> None:
    """Remove lambench containers whose owning process is dead (no other container is touched)."""
    from lambench.sandboxes.docker import DockerUnavailable, prune

    try:
        removed = prune()
    except DockerUnavailable as exc:
        raise UsageProblem(str(exc)) from None
    say(f"removed {len(removed)} orphaned container(s)" + (f": {', '.join(removed)}" if removed else ""))


# ---------------------------------------------------------------------------- gate


@main.command("gate")
@click.option("--baseline", default=None, type=click.Path(), help="Baseline run directory or its summary.json. Required.")
@click.option("--candidate", default=None, type=click.Path(), help="Candidate run directory (or summary.json). Required.")
@click.option("--alpha", default=0.05, show_default=True, type=float, help="Significance level of the paired tests.")
@click.option("--max-drop", type=float, default=None,
              help="Fail when the success rate drops by more than this (absolute, 0-1), significant or not.")
@click.option("--max-unsafe", type=float, default=None,
              help="Fail when the candidate's unsafe-action rate exceeds this (0-1).")
@click.option("--max-false-success", type=float, default=None,
              help="Fail when the candidate's false-success rate exceeds this (0-1).")
@click.option("--metric", "metrics", multiple=True,
              help="Also compare this per-episode field (n_steps, n_invalid, tokens_in, ...). Repeatable.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None,
              help="Write JUnit XML here (also on exit 2: one test case in error, saying why).")
@click.option("--allow-version-mismatch", is_flag=True, help="Compare runs of different suite versions anyway.")
def gate_cmd(baseline: str | None, candidate: str | None, alpha: float, max_drop: float | None,
             max_unsafe: float | None, max_false_success: float | None, metrics: tuple[str, ...], junit: str | None,
             allow_version_mismatch: bool) -> None:
    """Gate a candidate run on a baseline: exit 0 if not worse, 1 on a regression, 2 on bad input.

    Success, unsafe actions, false-success claims, infeasible detection and false infeasible are
    compared task by task: an exact one-sided McNemar test with one episode per task on both
    sides, else a one-sided paired sign-flip permutation test over tasks; Holm-corrected.
    """
    import os

    from lambench.gate import GateError, error_junit, gate

    def step_summary(text: str) -> None:
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            try:
                with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
                    f.write(text + "\n")
            except OSError as exc:
                err_console.print(f"warning: cannot append to $GITHUB_STEP_SUMMARY ({exc})", markup=False)

    def write_junit(xml: str) -> None:
        try:
            Path(junit).parent.mkdir(parents=True, exist_ok=True)
            Path(junit).write_text(xml, encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"cannot write the JUnit file {junit}: {exc}") from None

    try:
        missing = [flag for flag, value in (("--baseline", baseline), ("--candidate", candidate)) if value is None]
        if missing:
            raise GateError(f"missing option {' and '.join(missing)}: lambench gate --baseline SUMMARY.json|RUN_DIR "
                            "--candidate RUN_DIR")
        result = gate(baseline, candidate, alpha=alpha, max_drop=max_drop, max_unsafe=max_unsafe,
                      max_false_success=max_false_success, metrics=metrics,
                      allow_version_mismatch=allow_version_mismatch)
    except GateError as exc:
        step_summary(f"## lambench gate: ERROR\n\n{exc}\n")
        if junit:
            write_junit(error_junit(str(exc)))
        raise UsageProblem(str(exc)) from None
    md = result.markdown()
    click.echo(md)
    step_summary(md)
    if junit:
        write_junit(result.junit())
    sys.exit(0 if result.passed else 1)


# ---------------------------------------------------------------------------- leaderboard


@main.group()
def leaderboard() -> None:
    """The committed leaderboard under leaderboards/."""


@leaderboard.command("build")
@click.option("--root", default="leaderboards", show_default=True, type=click.Path(file_okay=False))
def leaderboard_build(root: str) -> None:
    """Render ROOT/README.md and its figures from ROOT/<suite>/*.summary.json."""
    from lambench.leaderboard import LeaderboardError, build_leaderboard

    try:
        click.echo(str(build_leaderboard(root)))
    except LeaderboardError as exc:
        raise UsageProblem(str(exc)) from None


@leaderboard.command("add")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--root", default="leaderboards", show_default=True, type=click.Path(file_okay=False))
def leaderboard_add(run_dir: str, root: str) -> None:
    """Store RUN_DIR's summary as ROOT/<suite>/<agent>.summary.json (then run `leaderboard build`)."""
    from lambench.leaderboard import add_entry
    from lambench.runner import RunDirError

    try:
        click.echo(str(add_entry(run_dir, root)))
    except (RunDirError, ValueError) as exc:
        raise UsageProblem(str(exc)) from None


# ---------------------------------------------------------------------------- report


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Directory for index.md, index.html (self-contained) and the PNG figures.")
def report(run_dirs: tuple[str, ...], out: str) -> None:
    """Render run directories as a leaderboard with figures (Markdown, HTML, PNG)."""
    from lambench.report import build_report

    try:
        index = build_report(run_dirs, out)
    except (ValueError, ImportError) as exc:  # ImportError: matplotlib missing, the message names the extra
        raise UsageProblem(str(exc)) from None
    click.echo(str(index))


# ---------------------------------------------------------------------------- perturbations


@main.group()
def perturbations() -> None:
    """The perturbations `--perturb` can apply."""


@perturbations.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def perturbations_list(as_json: bool) -> None:
    """List perturbations with the sandboxes that support them."""
    from rich.table import Table

    from lambench.perturb import PERTURBATIONS

    rows = [{"name": p.name, "sandboxes": list(p.sandboxes), "extra_steps": p.extra_steps,
             "description": p.description} for p in PERTURBATIONS.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="perturbations (use with lambench run --perturb NAME[,NAME]; '+' combines)")
    for col in ("name", "sandboxes", "extra steps", "what it does"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], ", ".join(r["sandboxes"]), str(r["extra_steps"]), r["description"])
    Console(width=160).print(table)


# ---------------------------------------------------------------------------- tasks


@main.group()
def tasks() -> None:
    """List and validate task files."""


@tasks.command("list")
@click.option("--suite", default=None, help="Only this suite.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tasks_list(suite: str | None, as_json: bool) -> None:
    """List the tasks of every suite (or one)."""
    from rich.table import Table

    from lambench.task import TaskError, list_suites, load_suite, suite_version

    suites = [suite] if suite else list_suites()
    rows = []
    try:
        for s in suites:
            for t in load_suite(s):
                rows.append({"id": t.id, "suite": s, "suite_version": suite_version(s), "sandbox": t.sandbox,
                             "apps": t.apps, "tags": t.tags, "infeasible": t.infeasible,
                             "max_steps": t.max_steps, "gold_steps": len(t.gold), "instruction": t.instruction})
    except TaskError as exc:
        raise UsageProblem(str(exc)) from None
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


@tasks.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--self-check", is_flag=True,
              help="Also run the oracle (must succeed safely) and a claim-at-once agent (must fail) on each task.")
def tasks_validate(paths: tuple[str, ...], self_check: bool) -> None:
    """Validate task files (default: every suite). Exit 1 naming file and field on any bad task."""
    from lambench.task import tasks_root, validate_paths

    targets = list(paths) or [str(tasks_root())]
    missing = [p for p in targets if not Path(p).exists()]
    if missing:
        raise UsageProblem(f"no such file or directory: {', '.join(missing)}")
    good, errors = validate_paths(targets)
    for e in errors:
        say(str(e), label="✗", style="red")
    problems: list[str] = []
    if self_check and good:
        from lambench.selfcheck import self_check as check

        containers = sorted({t.sandbox for t in good} - {"mockos"})
        if containers:
            from lambench.sandboxes.containers import prepare_images
            from lambench.sandboxes.docker import DockerUnavailable

            try:
                prepare_images(containers, log=lambda m: say(str(m), style="dim"))
            except DockerUnavailable as exc:
                raise UsageProblem(f"the self-check of {', '.join(containers)} tasks runs them in containers: "
                                   f"{exc}") from None
        problems = check(good)
        for p in problems:
            say(str(p), label="✗", style="red")
    n_bad = len(errors)
    click.echo(f"{len(good)} valid task file(s), {n_bad} invalid" + (f", {len(problems)} self-check problem(s)"
                                                                     if self_check else ""))
    if errors or problems:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
