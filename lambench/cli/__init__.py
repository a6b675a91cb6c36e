"""The ``lambench`` command line: one module per command group, each a thin layer over library calls a Python user
can make the same way (flags -> config -> one call -> print).

A :class:`~lambench.errors.LambenchError` from any command is printed as ``error: MESSAGE`` with exit code 2
(:class:`~lambench.cli.common.LambenchGroup`).  Heavy modules are imported inside the commands, so
``lambench --help`` starts fast.
"""

from __future__ import annotations

import click

from lambench import __version__
from lambench.cli import gate, leaderboard, perturbations, predicates, replay, report, run, sandboxes, score, tasks
from lambench.cli.common import LambenchGroup
from lambench.cli.view import view_cmd

__all__ = ["main"]


@click.group(cls=LambenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lambench")
def main() -> None:
    """lambench: evaluate Large Action Models for success, safety and honesty."""


for _command in (run.run_cmd, score.score_cmd, replay.record_cmd, replay.replay_cmd, replay.import_cmd,
                 replay.export_group, sandboxes.sandboxes_group, gate.gate_cmd, leaderboard.leaderboard_group,
                 report.report_cmd, perturbations.perturbations_group, predicates.predicates_cmd, tasks.tasks_group,
                 view_cmd):
    main.add_command(_command)
