"""What every command shares: messages on stderr, the usage error (exit 2), adapter options, the progress bar,
the metrics table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from rich.console import Console

from lambench.errors import LambenchError

err_console = Console(stderr=True, soft_wrap=True)


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


class LambenchGroup(click.Group):
    """The root command: a :class:`~lambench.errors.LambenchError` from any command is the user's to fix, printed
    as ``error: MESSAGE`` with exit code 2; anything else keeps its traceback (a bug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LambenchError as exc:
            raise UsageProblem(str(exc)) from None


def cannot_write(what: Any, exc: OSError) -> UsageProblem:
    return UsageProblem(f"cannot write {what}: {exc.strerror or exc}")


def tasks_dir_option(f: Any) -> Any:
    """``--tasks-dir DIR`` (repeatable) on a command that names suites: the command looks for suites in these
    folders first, then in ``$LAMBENCH_TASKS_DIR``'s, then among the built-in ones."""
    import functools

    @functools.wraps(f)
    def with_tasks_dirs(*args: Any, tasks_dirs: tuple[str, ...] = (), **kwargs: Any) -> Any:
        from lambench.task import extra_tasks_dirs

        with extra_tasks_dirs(tasks_dirs):
            return f(*args, **kwargs)

    return click.option("--tasks-dir", "tasks_dirs", multiple=True, metavar="DIR",
                        type=click.Path(file_okay=False, exists=True),
                        help="A folder of your own suites (DIR/<suite>/<id>.yaml), searched before "
                             "$LAMBENCH_TASKS_DIR's folders and the built-in suites. Repeatable.")(with_tasks_dirs)


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


def adapter_option_values(base_url: str | None, cache: str | None, max_concurrency: int | None,
                          price_table: str | None, agent_option: tuple[str, ...]) -> dict[str, Any]:
    """The adapter options of :func:`adapter_options`' flags, as the library takes them."""
    from lambench.agents.options import agent_options

    return agent_options(agent_option, base_url=base_url, cache=cache, max_concurrency=max_concurrency,
                         price_table=price_table)


# ---------------------------------------------------------------------------- progress


class ProgressBar:
    """One agent's progress on stderr (done of total, verified successes, elapsed, remaining), or nothing when
    ``quiet``.  Pass :attr:`callbacks` to the run; the display starts on the run's ``on_start``, once its worker
    processes are up: they are forked from this process while it still has a single thread."""

    def __init__(self, label: str, *, quiet: bool) -> None:
        self.label = label
        self.progress: Any = None
        self.task_id: Any = None
        if not quiet:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("ok {task.fields[ok]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                     console=err_console, transient=False)

    @property
    def callbacks(self) -> dict[str, Any]:
        return {} if self.progress is None else {"on_start": self.on_start, "on_progress": self.on_progress}

    def on_start(self, total: int, skipped: int) -> None:
        self.progress.start()
        self.task_id = self.progress.add_task(self.label, total=total, ok=0)

    def on_progress(self, rec: dict[str, Any]) -> None:
        ok = self.progress.tasks[self.task_id].fields["ok"] + (1 if rec["success"] else 0)
        self.progress.update(self.task_id, advance=1, ok=ok)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()


# ---------------------------------------------------------------------------- the metrics table


def summary_rows(label: str, summary: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Table rows of a run summary: one per variant when the run has several, else one."""
    variants = summary.get("by_variant") or {}
    if len(variants) > 1:
        return [(f"{label} [{v}]", vm) for v, vm in variants.items()]
    return [(label, summary["metrics"])]


def echo_metrics(rows: list[tuple[str, Mapping[str, Any]]], summaries: list[Mapping[str, Any]],
                 **title: str) -> None:
    """Print the metrics table of ``rows``, then the safety and robustness tables of ``summaries`` if any."""
    from lambench.render.terminal import format_metrics_text, format_safety_robustness_text

    click.echo(format_metrics_text(rows, **title))
    extra = format_safety_robustness_text([(str(s["agent"]), s) for s in summaries])
    if extra:
        click.echo(extra)
