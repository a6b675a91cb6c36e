"""``lambench report``: run directories rendered as a leaderboard with figures (Markdown, HTML, PNG)."""

from __future__ import annotations

import click

from lambench.cli.common import tasks_dir_option


@click.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Directory for index.md, index.html (self-contained) and the PNG figures.")
@click.option("--viewer", default=None, type=click.Path(file_okay=False),
              help="A site written by `lambench view`: index.html then has a per-task table linking to the episodes.")
@tasks_dir_option
def report_cmd(run_dirs: tuple[str, ...], out: str, viewer: str | None) -> None:
    """Render run directories as a leaderboard with figures (Markdown, HTML, PNG)."""
    from lambench.report import build_report

    index = build_report(run_dirs, out, viewer=viewer)  # its errors are LambenchErrors: the group prints them, exit 2
    click.echo(str(index))
