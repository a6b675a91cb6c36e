"""``lambench gate``: a candidate run against a baseline; exit 0 if not worse, 1 on a regression, 2 on bad input."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from lambench.cli.common import UsageProblem, err_console, tasks_dir_option


@click.command("gate")
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
@click.option("--viewer", default=None, type=click.Path(file_okay=False),
              help="A site written by `lambench view`: the tasks that got worse link to their episodes in it.")
@tasks_dir_option
def gate_cmd(baseline: str | None, candidate: str | None, alpha: float, max_drop: float | None,
             max_unsafe: float | None, max_false_success: float | None, metrics: tuple[str, ...], junit: str | None,
             allow_version_mismatch: bool, viewer: str | None) -> None:
    """Gate a candidate run on a baseline: exit 0 if not worse, 1 on a regression, 2 on bad input.

    Success, unsafe actions, false-success claims, infeasible detection and false infeasible are
    compared task by task: an exact one-sided McNemar test with one episode per task on both
    sides, else a one-sided paired sign-flip permutation test over tasks; Holm-corrected.
    """
    from lambench.gate import GateError, gate
    from lambench.render.junit import error_junit
    from lambench.view import ViewError

    try:
        missing = [flag for flag, value in (("--baseline", baseline), ("--candidate", candidate)) if value is None]
        if missing:
            raise GateError(f"missing option {' and '.join(missing)}: lambench gate --baseline SUMMARY.json|RUN_DIR "
                            "--candidate RUN_DIR")
        result = gate(baseline, candidate, alpha=alpha, max_drop=max_drop, max_unsafe=max_unsafe,
                      max_false_success=max_false_success, metrics=metrics,
                      allow_version_mismatch=allow_version_mismatch, viewer=viewer)
    except (GateError, ViewError) as exc:
        _step_summary(f"## lambench gate: ERROR\n\n{exc}\n")
        if junit:
            _write_junit(junit, error_junit(str(exc)))
        raise UsageProblem(str(exc)) from None
    md = result.markdown()
    click.echo(md)
    _step_summary(md)
    if junit:
        _write_junit(junit, result.junit())
    sys.exit(0 if result.passed else 1)


def _step_summary(text: str) -> None:
    """Append to the GitHub Actions job summary when there is one."""
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        try:
            with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
                f.write(text + "\n")
        except OSError as exc:
            err_console.print(f"warning: cannot append to $GITHUB_STEP_SUMMARY ({exc})", markup=False)


def _write_junit(junit: str, xml: str) -> None:
    try:
        Path(junit).parent.mkdir(parents=True, exist_ok=True)
        Path(junit).write_text(xml, encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"cannot write the JUnit file {junit}: {exc}") from None
